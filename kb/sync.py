"""Walk `entries/` into the database and the search index.

Incremental: a file whose size and modification time are unchanged is not read; one whose
bytes are unchanged is not parsed. A broken file is skipped with its problems logged, and
the rest of the knowledge base goes on (as Pelican's generators do).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kb.config import Config
from kb.entry import Entry, check_related, content_hash, read_entry
from kb.errors import Problem
from kb.search import Index, entry_document
from kb.store import Store

log = logging.getLogger(__name__)


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
    return sorted(p for p in entries_dir.glob("*.md") if p.is_file() and not p.name.startswith("."))


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


def sync(
    cfg: Config,
    store: Store,
    idx: Index,
    *,
    rebuild: bool = False,
    on_file: Callable[[Path], None] | None = None,
) -> tuple[Index, SyncReport]:
    """Bring the database and index up to date with `entries/`. Returns the (maybe new) index."""
    report = SyncReport()
    if not rebuild and store.slugs() and idx.doc_count() == 0:
        log.warning("the search index is empty but the database is not: rebuilding both")
        rebuild = True
    if rebuild:
        store.clear_entries()
        idx = Index.recreate(idx.path)
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

    good: list[tuple[Entry, str]] = []
    with store.db.conn:
        for name in gone:
            slug = states[name]["slug"]
            store.delete_entry(slug)
            store.forget_file(name)
            report.removed.append(slug)
        for path, digest, mtime_ns, size, data in to_read:
            shown = Path(cfg.display(path))
            entry, problems = read_entry(path, data, display=shown)
            report.read.append(cfg.display(path))
            report.problems.extend(problems)
            if on_file:
                on_file(path)
            for p in problems:
                log.log(logging.ERROR if p.severity == "error" else logging.WARNING, "%s", p)
            store.record_file(path.name, mtime_ns, size, digest, path.stem, entry is not None, [str(p) for p in problems])
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

    fresh = rebuild or idx.doc_count() == 0
    with idx.writer(bulk=len(good) > 100) as w:
        for slug in report.removed + [Path(s).stem for s in report.skipped]:
            if not fresh:
                w.delete(f"entry:{slug}")
        for entry, _ in good:
            (w.add if fresh else w.put)(**entry_document(entry))
    return idx, report
