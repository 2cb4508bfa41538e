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

from kb.config import Config
from kb.feeds import items
from kb.feeds import listfile as feedlist
from kb.model.entry import Entry, check_related, content_hash, read_entry
from kb.errors import Problem
from kb.index.search import Index, entry_document
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


def update_index(ws: Workspace, *, rebuild: bool = False, on_file: Callable[[Path], None] | None = None,
                 parallel: bool = True) -> SyncReport:
    """Bring a workspace's database and index up to date with its `entries/` folder."""
    ws.index, report = sync(ws.cfg, ws.store, ws.index, rebuild=rebuild, on_file=on_file, parallel=parallel)
    return report


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

    `parallel` allows a first index of many entries to be written by two processes.
    """
    report = SyncReport()
    if not rebuild and store.slugs() and idx.doc_count() == 0:
        log.warning("the search index is empty but the database is not: rebuilding both")
        rebuild = True
    if rebuild:
        store.clear_entries()
        idx.close()
        idx = Index.recreate(idx.path)
        store.db.execute("UPDATE feed_items SET indexed = 0")  # the new index has no feed items either
    states = store.file_states()
    files = entry_files(cfg.entries_dir)
    seen: set[str] = set()
    to_read: list[tuple[Path, str, int, int, bytes]] = []
    for path in files:
        name = path.name
        seen.add(name)
        stat = path.stat()
        state = states.get(name)
        if state and state["mtime_ns"] == stat.st_mtime_ns and state["size"] == stat.st_size:
            report.unchanged += 1
            if on_file:
                on_file(path)
            continue
        data = path.read_bytes()
        digest = content_hash(data)
        if state and state["sha256"] == digest:
            store.db["files"].update(name, {"mtime_ns": stat.st_mtime_ns, "size": stat.st_size})
            report.unchanged += 1
            if on_file:
                on_file(path)
            continue
        to_read.append((path, digest, stat.st_mtime_ns, stat.st_size, data))

    gone = [name for name in states if name not in seen]
    if not to_read and not gone:
        return idx, report

    fresh = rebuild or idx.doc_count() == 0
    # A first index of many entries is written by two processes, each making its own segment,
    # while this one goes on reading files; only from a single-threaded process (a command),
    # where forking is safe.
    parallel = parallel and fresh and len(to_read) >= PARALLEL_FROM and threading.active_count() == 1
    procs = min(2, os.cpu_count() or 1) if parallel else 1
    good: list[tuple[Entry, str]] = []
    with idx.writer(bulk=len(to_read) > 100, procs=procs) as w:
        parsed: list[tuple[Path, str, int, int, Entry | None, list[Problem]]] = []
        for path, digest, mtime_ns, size, data in to_read:
            shown = Path(cfg.display(path))
            entry, problems = read_entry(path, data, display=shown)
            report.read.append(cfg.display(path))
            report.problems.extend(problems)
            if on_file:
                on_file(path)
            for p in problems:
                log.log(logging.ERROR if p.severity == "error" else logging.WARNING, "%s", p)
            parsed.append((path, digest, mtime_ns, size, entry, problems))
            if fresh and entry is not None:
                w.add(**entry_document(entry))

        # All rows in one transaction, after parsing: a statement outside a transaction commits
        # on its own (the connection is in autocommit mode), which made a full index ~10x slower.
        with store.db.conn:
            if not store.db.conn.in_transaction:
                store.db.execute("BEGIN")
            for name in gone:
                slug = states[name]["slug"]
                store.delete_entry(slug)
                store.forget_file(name)
                report.removed.append(slug)
            for path, digest, mtime_ns, size, entry, problems in parsed:
                store.record_file(path.name, mtime_ns, size, digest, path.stem, entry is not None,
                                  [str(p) for p in problems])
                if entry is None:
                    report.skipped.append(cfg.display(path))
                    store.delete_entry(path.stem)
                    continue
                changes = store.put_entry(entry, path.name)
                if changes:
                    report.changes[entry.slug] = changes
                good.append((entry, cfg.display(path)))

        known = store.slugs()
        for entry, shown in good:
            report.problems.extend(p for p in check_related(entry, known, Path(shown)))

        if not fresh:
            for slug in report.removed + [Path(s).stem for s in report.skipped]:
                w.delete(f"entry:{slug}")
            for entry, _ in good:
                w.put(**entry_document(entry))
        else:  # feed items live only in the database; put them back in a new index

            feeds, _ = feedlist.load(cfg.feeds_file, cfg.display(cfg.feeds_file))
            items.mark_indexed(store, items.index_pending(store, w, fresh=True, tags_by_feed=items.feed_tags(store, feeds)))
    if procs > 1 and idx.count("entry") != len(good):
        # Whoosh leaves out, without a word, the documents of an indexing process that died
        log.error("a search indexing process failed; indexing everything again in this one")
        return sync(cfg, store, idx, rebuild=True, parallel=False)
    return idx, report
