"""One knowledge base opened: its settings, its database and its search index."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kb import config as _config
from kb.config import Config
from kb.index.search import Index
from kb.store import Store


@dataclass
class Workspace:
    cfg: Config
    store: Store
    index: Index

    @classmethod
    def open(cls, root: Path | str | None = None, cfg: Config | None = None) -> Workspace:
        cfg = cfg or _config.load(root)
        return cls(cfg, Store.open(cfg.db_path), Index(cfg.index_dir))

    def close(self) -> None:
        self.index.close()
        self.store.close()
