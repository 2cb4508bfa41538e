"""One knowledge base opened: its settings, its databases (state and cache) and its search indexes
(entries in `var/index/`, feed items in `var/items-index/`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kb import config as _config
from kb.config import Config
from kb.index.items import ItemIndex
from kb.index.search import Index
from kb.model.synonyms import FILE_NAME as SYNONYMS_FILE
from kb.store import Store


def items_index_dir(cfg: Config) -> Path:
    """The feed items' index folder, beside the entries' (`var/items-index/`)."""
    return cfg.index_dir.with_name("items-index")


@dataclass
class Workspace:
    cfg: Config
    store: Store
    index: Index  # entries only
    items: ItemIndex  # feed items only (SQLite FTS5): a poll never touches the entry index or its caches

    @classmethod
    def open(cls, root: Path | str | None = None, cfg: Config | None = None, *, rebuild: bool = False) -> Workspace:
        """Open the knowledge base. The indexes are opened at their first use, not here.

        `rebuild` (for `kb index --rebuild`) checks the cache database and makes a new one if it
        is damaged, instead of refusing it; the index is rebuilt beside the old one, which is
        never opened. A pre-split `var/kb.sqlite` is split into state and cache on the first open.
        """
        cfg = cfg or _config.load(root)
        store = Store.open(cfg.state_path, cfg.cache_path, legacy=cfg.db_path, repair_cache=rebuild)
        synonyms = cfg.entries_dir / SYNONYMS_FILE
        return cls(cfg, store, Index(cfg.index_dir, synonyms), ItemIndex(items_index_dir(cfg), synonyms))

    def close(self) -> None:
        self.index.close()
        self.items.close()
        self.store.close()
