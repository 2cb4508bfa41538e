"""Settings from `config.toml`, with defaults that work when the file is absent.

Paths in the file are resolved against the folder that holds it. Every problem is
reported at once, by key, in one `ConfigError`.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from kb.errors import ConfigError

CONFIG_NAME = "config.toml"


@dataclass(frozen=True)
class FeedSettings:
    allow_private: bool = False  # tests allow 127.0.0.1; production never should
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    total_timeout: float = 30.0  # seconds for a whole fetch, redirects included (stops slow drips)
    parse_timeout: float = 10.0  # seconds to parse one document (in a child process, killed after)
    max_bytes: int = 15 * 1024 * 1024
    max_redirects: int = 5
    concurrency: int = 8
    default_interval: int = 60  # minutes
    max_backoff: int = 24 * 60  # minutes
    user_agent: str = "HorizonKB/0.1 (+feed poller)"


@dataclass(frozen=True)
class SuggestSettings:
    update_threshold: float = 0.35  # share of an entry's best-match score an item must reach
    min_keyword_hits: int = 1
    topic_window_days: int = 14
    topic_min_items: int = 3
    topic_min_feeds: int = 2


@dataclass(frozen=True)
class SiteSettings:
    title: str = "Horizon KB"
    base_url: str = "http://127.0.0.1:5000"
    green_community: str = "Horizon KB partner network (signed-in industry and law-enforcement partners)"
    per_page: int = 20


@dataclass(frozen=True)
class AccountSettings:
    # Argon2id at its minimum cost, so that a test suite making hundreds of accounts runs in
    # seconds. Never in production: `kb serve` and the web app warn loudly when it is on.
    test_hashing: bool = False


@dataclass(frozen=True)
class Config:
    root: Path
    entries_dir: Path
    feeds_dir: Path
    var_dir: Path
    review_days: int = 365
    feeds: FeedSettings = field(default_factory=FeedSettings)
    suggest: SuggestSettings = field(default_factory=SuggestSettings)
    site: SiteSettings = field(default_factory=SiteSettings)
    accounts: AccountSettings = field(default_factory=AccountSettings)

    @property
    def db_path(self) -> Path:
        return self.var_dir / "kb.sqlite"

    @property
    def index_dir(self) -> Path:
        return self.var_dir / "index"

    @property
    def feeds_file(self) -> Path:
        return self.feeds_dir / "feeds.yaml"

    def display(self, path: Path) -> str:
        """A path as the user should see it: relative to the knowledge base when inside it."""
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)


_SECTIONS = {"feeds": FeedSettings, "suggest": SuggestSettings, "site": SiteSettings, "accounts": AccountSettings}
_TOP = {"entries_dir": str, "feeds_dir": str, "var_dir": str, "review_days": int}


def _check_section(name: str, cls: type, raw: Any, errors: list[str]) -> Any:
    if not isinstance(raw, dict):
        errors.append(f"[{name}] must be a table")
        return cls()
    known = {f.name: f for f in fields(cls)}
    values = {}
    for key, value in raw.items():
        if key not in known:
            errors.append(f"{name}.{key}: unknown setting (known: {', '.join(sorted(known))})")
            continue
        default = getattr(cls(), key)
        expected = type(default)
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if type(value) is not expected:
            errors.append(f"{name}.{key}: expected {expected.__name__}, got {value!r}")
            continue
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
            errors.append(f"{name}.{key}: must not be negative, got {value!r}")
            continue
        values[key] = value
    return cls(**values)


def load(root: Path | str | None = None) -> Config:
    """Read `config.toml` in `root` (default: $KB_ROOT or the current folder)."""
    root = Path(root or os.environ.get("KB_ROOT") or ".").resolve()
    path = root / CONFIG_NAME
    raw: dict[str, Any] = {}
    if path.exists():
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: {exc}; fix the TOML syntax") from exc
    errors: list[str] = []
    top = dict(raw.pop("kb", {}))
    values: dict[str, Any] = {}
    for key, value in top.items():
        if key not in _TOP:
            errors.append(f"kb.{key}: unknown setting (known: {', '.join(sorted(_TOP))})")
        elif type(value) is not _TOP[key]:
            errors.append(f"kb.{key}: expected {_TOP[key].__name__}, got {value!r}")
        else:
            values[key] = value
    sections = {}
    for name, value in raw.items():
        if name not in _SECTIONS:
            errors.append(f"[{name}]: unknown section (known: kb, {', '.join(_SECTIONS)})")
            continue
        sections[name] = _check_section(name, _SECTIONS[name], value, errors)
    if errors:
        raise ConfigError(f"{path}: " + "; ".join(errors))

    def resolve(key: str, default: str) -> Path:
        return (root / values.get(key, default)).resolve()

    return Config(
        root=root,
        entries_dir=resolve("entries_dir", "entries"),
        feeds_dir=resolve("feeds_dir", "feeds"),
        var_dir=resolve("var_dir", "var"),
        review_days=values.get("review_days", 365),
        **sections,
    )
