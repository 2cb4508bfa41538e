"""Walk `entries/` into the database and the search index.

Incremental: a file whose size and modification time are unchanged is not read; one whose
bytes are unchanged is not parsed. A broken file is skipped with its problems logged, and
the rest of the knowledge base goes on (as Pelican's generators do).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kb.config import Config
from kb.errors import Problem
from kb.feeds import items
from kb.feeds import listfile as feedlist
from kb.index.search import Index, entry_document
from kb.model.entry import Entry, check_related, content_hash, read_entry
from kb.store import Store
from kb.workspace import Workspace

log = logging.getLogger(__name__)
PARALLEL_FROM = 2000  # entries; below this, starting the indexing processes costs more than it saves


@dataclass
class SyncReport:
    read: list[str] = field(default_factory=list)  # files parsed this run (new or changed)
    unchanged: int = 0
    removed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # files with errors, left out
    problems: list[Problem] = field(default_factory=list)
    changes: dict[str, list[str]] = field(default_factory=dict)  # slug -> what changed for readers

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]


def entry_files(entries_dir: Path) -> list[Path]:
    if not entries_dir.is_dir():
        return []
    # scandir knows file types without a stat per file; names sort as the paths would
    with os.scandir(entries_dir) as found:
        names = sorted(f.name for f in found if f.name.endswith(".md") and not f.name.startswith(".") and f.is_file())
    return [entries_dir / name for name in names]


def validate(cfg: Config) -> tuple[list[Entry], list[Problem]]:
    """Read every entry file (no database, no index) and return the good entries and every problem."""
    entries: list[Entry] = []
    problems: list[Problem] = []
    for path in entry_files(cfg.entries_dir):
        entry, found = read_entry(path, display=Path(cfg.display(path)))
        problems.extend(found)
        if entry:
            entries.append(entry)
    known = {p.stem for p in entry_files(cfg.entries_dir)}
    for entry in entries:
        problems.extend(check_related(entry, known, Path(cfg.display(entry.path))))
    return entries, problems


def update_index(
    ws: Workspace, *, rebuild: bool = False, on_file: Callable[[Path], None] | None = None, parallel: bool = True
) -> SyncReport:
    """Bring a workspace's database and index up to date with its `entries/` folder."""
    ws.index, report = sync(ws.cfg, ws.store, ws.index, rebuild=rebuild, on_file=on_file, parallel=parallel)
    return report


@dataclass
class _Read:
    """One changed file, parsed."""

    path: Path
    digest: str
    mtime_ns: int
    size: int
    entry: Entry | None
    problems: list[Problem]


def sync(
    cfg: Config,
    store: Store,
    idx: Index,
    *,
    rebuild: bool = False,
    on_file: Callable[[Path], None] | None = None,
    parallel: bool = True,
) -> tuple[Index, SyncReport]:
    """Bring the database and index up to date with `entries/`. Returns the (maybe new) index.

    The order makes a crash at any point harmless: files are read, the index is committed,
    and only then are the rows (with each file's size, time and hash) committed. A run that
    dies before the rows leaves the files looking changed, so the next run does both again.
    `parallel` allows a first index of many entries to be written by two processes.
    """
    report = SyncReport()
    if not rebuild and store.slugs() and idx.doc_count() == 0:
        log.warning("the search index is empty but the database is not: rebuilding both")
        rebuild = True
    if rebuild:
        idx = _start_over(store, idx)
    states = store.file_states()
    to_read, gone = _changed_files(cfg, store, states, report, on_file)
    if not to_read and not gone:
        return idx, report
    fresh = rebuild or idx.doc_count() == 0
    # A first index of many entries is written by two processes, each making its own segment,
    # while this one goes on reading files; only from a single-threaded process (a command),
    # where forking is safe.
    parallel = parallel and fresh and len(to_read) >= PARALLEL_FROM and threading.active_count() == 1
    procs = min(2, os.cpu_count() or 1) if parallel else 1
    removed = [states[name]["slug"] for name in gone]
    with idx.writer(bulk=len(to_read) > 100, procs=procs) as w:
        parsed = _parse(cfg, to_read, report, on_file, w if fresh else None)
        good = [r.entry for r in parsed if r.entry is not None]
        if fresh:  # feed items live only in the database; put them back in a new index
            feeds, _ = feedlist.load(cfg.feeds_file, cfg.display(cfg.feeds_file))
            tags = items.feed_tags(store, feeds)
            items.mark_indexed(store, items.index_pending(store, w, fresh=True, tags_by_feed=tags))
        else:
            for slug in removed + [r.path.stem for r in parsed if r.entry is None]:
                w.delete(f"entry:{slug}")
            for entry in good:
                w.put(**entry_document(entry))
    _record(cfg, store, parsed, gone, states, report)
    report.removed.extend(removed)
    known = store.slugs()
    for entry in good:
        report.problems.extend(check_related(entry, known, Path(cfg.display(entry.path))))
    if procs > 1 and idx.count("entry") != len(good):
        # Whoosh leaves out, without a word, the documents of an indexing process that died
        log.error("a search indexing process failed; indexing everything again in this one")
        return sync(cfg, store, idx, rebuild=True, parallel=False)
    return idx, report


def _start_over(store: Store, idx: Index) -> Index:
    store.clear_entries()
    idx.close()
    new = Index.recreate(idx.path)
    store.db.execute("UPDATE feed_items SET indexed = 0")  # the new index has no feed items either
    return new


def _changed_files(
    cfg: Config, store: Store, states: dict[str, dict], report: SyncReport, on_file: Callable[[Path], None] | None
) -> tuple[list[tuple[Path, str, int, int, bytes]], list[str]]:
    """The files whose bytes changed since the last run (read), and the names of those gone."""
    seen: set[str] = set()
    to_read: list[tuple[Path, str, int, int, bytes]] = []
    for path in entry_files(cfg.entries_dir):
        seen.add(path.name)
        stat = path.stat()
        state = states.get(path.name)
        if state and state["mtime_ns"] == stat.st_mtime_ns and state["size"] == stat.st_size:
            unchanged = True
        else:
            data = path.read_bytes()
            digest = content_hash(data)
            unchanged = bool(state and state["sha256"] == digest)
            if unchanged:
                store.db["files"].update(path.name, {"mtime_ns": stat.st_mtime_ns, "size": stat.st_size})
            else:
                to_read.append((path, digest, stat.st_mtime_ns, stat.st_size, data))
        if unchanged:
            report.unchanged += 1
            if on_file:
                on_file(path)
    return to_read, [name for name in states if name not in seen]


def _parse(
    cfg: Config,
    to_read: list[tuple[Path, str, int, int, bytes]],
    report: SyncReport,
    on_file: Callable[[Path], None] | None,
    adding: Any,
) -> list[_Read]:
    """Parse and validate each changed file; with a fresh index's writer, add each good entry."""
    parsed = []
    for path, digest, mtime_ns, size, data in to_read:
        entry, problems = read_entry(path, data, display=Path(cfg.display(path)))
        report.read.append(cfg.display(path))
        report.problems.extend(problems)
        if on_file:
            on_file(path)
        for p in problems:
            log.log(logging.ERROR if p.severity == "error" else logging.WARNING, "%s", p)
        parsed.append(_Read(path, digest, mtime_ns, size, entry, problems))
        if adding is not None and entry is not None:
            adding.add(**entry_document(entry))
    return parsed


def _record(
    cfg: Config, store: Store, parsed: list[_Read], gone: list[str], states: dict[str, dict], report: SyncReport
) -> None:
    """The rows of every changed file, in one transaction (in autocommit mode each statement
    would commit on its own, which made a full index ~10x slower)."""
    with store.db.conn:
        if not store.db.conn.in_transaction:
            store.db.execute("BEGIN IMMEDIATE")
        for name in gone:
            store.delete_entry(states[name]["slug"])
            store.forget_file(name)
        for r in parsed:
            store.record_file(
                r.path.name,
                r.mtime_ns,
                r.size,
                r.digest,
                r.path.stem,
                r.entry is not None,
                [str(p) for p in r.problems],
            )
            if r.entry is None:
                report.skipped.append(cfg.display(r.path))
                store.delete_entry(r.path.stem)
                continue
            changes = store.put_entry(r.entry, r.path.name)
            if changes:
                report.changes[r.entry.slug] = changes
