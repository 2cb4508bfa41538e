"""`kb doctor`: is everything under `var/` sound, and does it agree with `entries/`?

Checks, each giving one finding (what was found, and what to do when something is wrong):
the state and cache databases (`PRAGMA quick_check`, or `integrity_check` when thorough), the
search indexes (`var/index/` and `var/items-index/` open; their entries and feed items agree
with the rows), the entry files (the problems `kb validate` finds), and what killed processes left (temporary files in `entries/`,
unfinished rebuilds, an index lock held for a process that is gone). Nothing is changed or
created: the databases are opened without creating them, and the index only when it exists.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from kb.config import Config
from kb.errors import Busy, KbError
from kb.files.lock import write_lock
from kb.index.items import FILE as ITEMS_FILE
from kb.index.items import ItemIndex
from kb.index.search import Index
from kb.store.health import check
from kb.store.housekeeping import stale_builds, stale_index_lock, stale_temp_files
from kb.sync import entry_files, validate
from kb.workspace import items_index_dir


@dataclass(frozen=True)
class Finding:
    ok: bool
    what: str
    detail: str

    def __str__(self) -> str:
        return f"{'ok     ' if self.ok else 'PROBLEM'}  {self.what}: {self.detail}"


def examine(cfg: Config, thorough: bool = False) -> list[Finding]:
    """Every check, in order; a finding with `ok=False` says what to do."""
    findings = [_state(cfg, thorough), _cache(cfg, thorough)]
    findings += _index(cfg, findings[1].ok)
    findings.append(_entries(cfg))
    findings += _leftovers(cfg)
    return findings


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'s' * (count != 1)}"


def _count(path: Path, sql: str) -> int:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute(sql).fetchone()[0]
    finally:
        conn.close()


def _state(cfg: Config, thorough: bool) -> Finding:
    what = f"state database {cfg.display(cfg.state_path)}"
    if not cfg.state_path.exists():
        if cfg.db_path.exists():
            return Finding(False, what, f"not made yet from {cfg.display(cfg.db_path)}: run kb index, which splits it")
        return Finding(
            False, what, "does not exist (no accounts or feed state): run kb index to start one, or kb restore DIR"
        )
    problem = check(cfg.state_path, thorough)
    if problem:
        return Finding(False, what, f"{problem}: stop the site and run kb restore DIR with your latest backup")
    users = _count(cfg.state_path, "SELECT count(*) FROM users")
    audit = _count(cfg.state_path, "SELECT count(*) FROM audit")
    items = _count(cfg.state_path, "SELECT count(*) FROM feed_items")
    return Finding(True, what, f"sound; {_n(users, 'account')}, {_n(audit, 'audit row')}, {_n(items, 'feed item')}")


def _cache(cfg: Config, thorough: bool) -> Finding:
    what = f"cache database {cfg.display(cfg.cache_path)}"
    if not cfg.cache_path.exists():
        return Finding(False, what, "does not exist: run kb index")
    problem = check(cfg.cache_path, thorough)
    if problem:
        return Finding(False, what, f"{problem}: run kb index --rebuild, then restart the site")
    try:
        entries = _count(cfg.cache_path, "SELECT count(*) FROM entries")
    except sqlite3.Error as exc:
        return Finding(False, what, f"cannot be read ({exc}): run kb index --rebuild")
    return Finding(True, what, f"sound; {entries} entries")


def _index(cfg: Config, cache_ok: bool) -> list[Finding]:
    what = f"search index {cfg.display(cfg.index_dir)}"
    if not any(cfg.index_dir.glob("_MAIN_*.toc")):
        return [Finding(False, what, "does not exist: run kb index")]
    idx, items_dir = Index(cfg.index_dir), items_index_dir(cfg)
    items_idx = ItemIndex(items_dir) if (items_dir / ITEMS_FILE).exists() else None
    try:
        in_index = {"entry": idx.count("entry"), "item": items_idx.count("item") if items_idx else 0}
        stray = idx.count("item")  # from before feed items had their own index
    except KbError as exc:
        why = str(exc).replace(f"the search index {cfg.index_dir} ", "")
        return [
            Finding(
                False,
                what,
                why.replace(f"the feed items' index {items_dir / ITEMS_FILE}", f"its items {cfg.display(items_dir)}"),
            )
        ]
    finally:
        idx.close()
        if items_idx:
            items_idx.close()
    found = [Finding(True, what, f"opens; {in_index['entry']} entries, {in_index['item']} feed items")]
    if stray:
        found.append(
            Finding(False, what, f"holds {stray} feed items (now kept in {cfg.display(items_dir)}): run kb index")
        )
    if cache_ok:
        rows = _count(cfg.cache_path, "SELECT count(*) FROM entries")
        if rows != in_index["entry"]:
            found.append(
                Finding(False, what, f"holds {in_index['entry']} entries, the database {rows}: run kb index --rebuild")
            )
    if cfg.state_path.exists() and not check(cfg.state_path):
        marked = _count(cfg.state_path, "SELECT count(*) FROM feed_items WHERE indexed IN (1, 2)")
        total = _count(cfg.state_path, "SELECT count(*) FROM feed_items")
        if not marked <= in_index["item"] <= total:
            found.append(
                Finding(
                    False,
                    what,
                    f"holds {in_index['item']} feed items, the database {marked} indexed of {total}: "
                    "run kb index --rebuild",
                )
            )
    return found


def _entries(cfg: Config) -> Finding:
    _, problems = validate(cfg)
    errors = [p for p in problems if p.severity == "error"]
    files = len({p.path for p in errors})
    total = len(entry_files(cfg.entries_dir))
    what = f"entry files {cfg.display(cfg.entries_dir)}"
    warnings = len(problems) - len(errors)
    if errors:
        return Finding(
            False, what, f"{_n(len(errors), 'problem')} in {files} of {total} entries: run kb validate and fix them"
        )
    return Finding(True, what, f"{total} entries valid" + (f" ({warnings} warnings: kb validate)" if warnings else ""))


def _leftovers(cfg: Config) -> list[Finding]:
    found = []
    try:
        with write_lock(cfg.entries_dir, timeout=5):  # with it held, a temporary file is a dead writer's
            temp = stale_temp_files(cfg.entries_dir)
    except Busy:
        temp = []
    if temp:
        names = ", ".join(cfg.display(p) for p in temp[:3]) + (f" and {len(temp) - 3} more" if len(temp) > 3 else "")
        found.append(Finding(False, "temporary files", f"{names}, left by a killed save: run kb index (removes them)"))
    builds = stale_builds(cfg.index_dir) + stale_builds(items_index_dir(cfg))
    if builds:
        names = ", ".join(cfg.display(p) for p in builds)
        found.append(Finding(False, "unfinished rebuild", f"{names}: run kb index (removes them)"))
    lock = stale_index_lock(cfg.index_dir) or stale_index_lock(items_index_dir(cfg))
    if lock:
        found.append(
            Finding(
                False,
                "search index lock",
                f"{cfg.display(lock[0])} is held for process {lock[1]}, which is gone: run kb index (removes it)",
            )
        )
    if not found:
        found.append(Finding(True, "leftovers", "no temporary files, unfinished rebuilds or stale locks"))
    return found
