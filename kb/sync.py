"""Walk `entries/` into the cache database and the search index.

Incremental: a file whose size and modification time are unchanged is not read; one whose
bytes are unchanged is not parsed. A broken file is skipped with its problems logged, and
the rest of the knowledge base goes on (as Pelican's generators do).

A rebuild (`kb index --rebuild`, a first index, or an index that is empty or cannot be opened)
builds a new index in a folder beside the live one, swaps it in with one rename, then replaces
every derived row in one transaction: the site serves the old index and rows until then, and a
rebuild that is killed leaves them serving. A rebuild touches only the cache (`cache.sqlite`,
`index/`): the state (accounts, feed items, decisions, entry versions) is read, never cleared.
Feed items have their own index (`items-index/`, written by the poller); a rebuild makes it again
too, from the state database, and so does any run that finds it unopenable or missing items.

Every run holds the entries folder's write lock (`kb.files.lock`), and starts by clearing what
killed processes left (`kb.store.housekeeping`): temporary files in `entries/`, the folders of an
unfinished rebuild, and an index write lock still held for a process that is gone.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
from collections.abc import Callable
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kb.config import Config
from kb.errors import KbError, Problem
from kb.feeds import items
from kb.feeds import listfile as feedlist
from kb.files.gitdates import committed_dates
from kb.files.lock import write_lock
from kb.index.items import ItemIndex
from kb.index.search import WRITE_WAIT, Index, entry_document
from kb.model import organisations
from kb.model.entry import Entry, check_related, content_hash, read_entry
from kb.model.serial import entry_from_dict
from kb.store import Store
from kb.store.housekeeping import (
    build_folder,
    index_write_lock,
    stale_builds,
    stale_index_lock,
    stale_temp_files,
    swap_in,
)
from kb.store.transactions import writing
from kb.workspace import Workspace, items_index_dir

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
        names = sorted(f.name for f in found if f.name.endswith(".md") and not f.name.startswith(".") and _is_file(f))
    return [entries_dir / name for name in names]


def _is_file(found: os.DirEntry) -> bool:
    """A regular file (a symlink loop or an unreadable link is left out, not an error for all)."""
    try:
        return found.is_file()
    except OSError:
        log.warning("skipped %s: it cannot be read as a file", found.path)
        return False


def validate(cfg: Config) -> tuple[list[Entry], list[Problem]]:
    """Read every entry file and `synonyms.yaml` (no database, no index); return the good entries and every problem.

    Links are checked too: `related` must name entries, `share_with` registered organisations."""
    entries: list[Entry] = []
    problems: list[Problem] = []
    for path in entry_files(cfg.entries_dir):
        entry, found = read_entry(path, display=Path(cfg.display(path)))
        problems.extend(found)
        if entry:
            entries.append(entry)
    known, orgs = {p.stem for p in entry_files(cfg.entries_dir)}, cfg.organisation_slugs
    for entry in entries:
        shown = Path(cfg.display(entry.path))
        problems.extend(check_related(entry, known, shown))
        problems.extend(organisations.entry_problems(entry, orgs, shown))
    from kb.model import synonyms  # the search's synonyms file, staff-edited beside the entries

    path = cfg.entries_dir / synonyms.FILE_NAME
    problems.extend(synonyms.read(path, Path(cfg.display(path)))[1])
    return entries, problems


def update_index(
    ws: Workspace, *, rebuild: bool = False, on_file: Callable[[Path], None] | None = None, parallel: bool = True
) -> SyncReport:
    """Bring a workspace's database and index up to date with its `entries/` folder."""
    with write_lock(ws.cfg.entries_dir):
        clean_up(ws.cfg)
        if rebuild or _items_need_rebuild(ws.store, ws.items):
            ws.items = rebuild_items(ws.cfg, ws.store, ws.items)
        ws.index, report = sync(ws.cfg, ws.store, ws.index, rebuild=rebuild, on_file=on_file, parallel=parallel)
    return report


def _items_need_rebuild(store: Store, idx: ItemIndex) -> bool:
    """Whether the items' index must be built anew: it cannot be opened, or it is empty while the
    database says items are indexed (a first run after items moved out of the entries' index)."""
    try:
        if not idx.empty():
            return False
    except KbError as exc:
        log.warning("%s: rebuilding it", str(exc).split("; run kb index")[0])
        return True
    return store.db.execute("SELECT 1 FROM feed_items WHERE indexed = 1 LIMIT 1").fetchone() is not None


def rebuild_items(cfg: Config, store: Store, idx: ItemIndex) -> ItemIndex:
    """Build the feed items' index anew from the state database beside the live one, and swap it in.
    The live index's write transaction is held meanwhile, so that no item the poller writes is
    lost in the swap (a writer that was waiting finds the new index and writes there)."""
    feeds, _ = feedlist.load(cfg.feeds_file, cfg.display(cfg.feeds_file))
    tags = items.feed_tags(store, feeds)
    with ExitStack() as live:
        with suppress(KbError):  # a damaged index: no poll can write to it either
            live.enter_context(idx.writer())
        item_ids = [row[0] for row in store.db.execute("SELECT id FROM feed_items ORDER BY id")]
        build = ItemIndex(build_folder(idx.path))
        try:
            with build.writer() as w:
                items.index_pending(store, w, fresh=True, tags_by_feed=tags, ids=item_ids)
            build.close()
            swap_in(build.path, idx.path)
        except BaseException:
            build.close()
            shutil.rmtree(build.path, ignore_errors=True)
            raise
    idx.close()
    with writing(store.db):
        items.mark_indexed(store, item_ids)
    return ItemIndex(idx.path, idx.synonyms)


def clean_up(cfg: Config) -> list[str]:
    """Remove what killed processes left; call holding the entries write lock. Returns what was removed."""
    removed: list[str] = []
    for path in stale_temp_files(cfg.entries_dir):
        path.unlink(missing_ok=True)
        removed.append(cfg.display(path))
    for index_dir in (cfg.index_dir, items_index_dir(cfg)):
        builds = stale_builds(index_dir)
        if not index_dir.exists():  # killed between the two renames of a swap: the old index is back
            for old in (p for p in reversed(builds) if ".old-" in p.name):
                os.rename(old, index_dir)
                builds.remove(old)
                break
        for path in builds:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(cfg.display(path))
        stale = stale_index_lock(index_dir)
        if stale:
            stale[0].unlink(missing_ok=True)
            removed.append(f"{cfg.display(stale[0])} (held for process {stale[1]}, which is gone)")
    for what in removed:
        log.warning("removed %s, left by a process that was killed", what)
    return removed


@dataclass
class _Read:
    """One changed file, parsed."""

    path: Path
    digest: str
    mtime_ns: int
    size: int
    entry: Entry | None
    problems: list[Problem]
    last_good: Entry | None = None  # a broken file's last valid version, kept live meanwhile

    @property
    def live(self) -> Entry | None:
        """What the site, search and feeds serve for this file."""
        return self.entry or self.last_good


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
    `parallel` allows a new index of many entries to be written by two processes.
    """
    report = SyncReport()
    if not rebuild:
        rebuild = _needs_rebuild(store, idx)
    if rebuild:
        return _rebuild(cfg, store, idx, report, on_file, parallel), report
    states = store.file_states()
    to_read, gone = _changed_files(cfg, store, states, report, on_file)
    if not to_read and not gone:
        return idx, report
    removed = [states[name]["slug"] for name in gone]
    with idx.writer(bulk=len(to_read) > 100) as w:
        parsed = _parse(cfg, to_read, report, on_file, None, store)
        for slug in removed + [r.path.stem for r in parsed if r.live is None]:
            w.delete(f"entry:{slug}")
        for r in parsed:
            if r.live is not None:
                w.put(**entry_document(r.live))
    _record(cfg, store, parsed, gone, states, report)
    report.removed.extend(removed)
    _check_links(cfg, store, parsed, report)
    return idx, report


def _needs_rebuild(store: Store, idx: Index) -> bool:
    """Whether the index must be built anew: it cannot be opened, it is empty when it should not
    be, or the cache database is new while the index is not."""
    try:
        if idx.doc_count():
            if idx.count("item"):  # from before items had their own index (`items-index/`)
                log.warning("the search index still holds feed items: rebuilding it without them")
                return True
            if store.db.execute("SELECT 1 FROM files LIMIT 1").fetchone() is None:
                # the cache database was deleted (README says it may be): building anew is about
                # three times faster than replacing every document of the old index one at a time
                log.warning("the cache database is new but the search index is not: rebuilding the index")
                return True
            return False
    except KbError as exc:
        log.warning("%s: rebuilding it", str(exc).split("; run kb index")[0])
        return True
    if store.slugs():
        log.warning("the search index is empty but the database is not: rebuilding it")
        return True
    return not store.file_states()  # a first index


def _rebuild(
    cfg: Config,
    store: Store,
    idx: Index,
    report: SyncReport,
    on_file: Callable[[Path], None] | None,
    parallel: bool,
) -> Index:
    """Build a new index of the entries beside the live one and swap it in, then replace every
    derived row in one transaction. The live index's write lock is held meanwhile, so that nothing
    written to it is lost in the swap. Feed items are not in it (`rebuild_items`)."""
    before = store.file_states()
    to_read, _ = _changed_files(cfg, store, {}, report, on_file)
    # A new index of many entries is written by two processes, each making its own segment, while
    # this one goes on reading files; only from a single-threaded process (a command), where
    # forking is safe. The indexing processes die with this one (kb.index.search._MortalWriter).
    parallel = parallel and len(to_read) >= PARALLEL_FROM and threading.active_count() == 1
    procs = min(2, os.cpu_count() or 1) if parallel else 1
    with index_write_lock(idx.path, WRITE_WAIT):
        build = Index(build_folder(idx.path))
        try:
            with build.writer(bulk=len(to_read) > 100, procs=procs) as w:
                parsed = _parse(cfg, to_read, report, on_file, w, store)
            good = [r.live for r in parsed if r.live is not None]
            if procs > 1 and build.count("entry") != len(good):
                # Whoosh leaves out, without a word, the documents of an indexing process that died
                log.error("a search indexing process failed; indexing everything again in this one")
                build.close()
                shutil.rmtree(build.path)
                build = Index(build_folder(idx.path))
                with build.writer(bulk=len(good) > 100) as w:
                    for entry in good:
                        w.add(**entry_document(entry))
            build.close()
            idx.close()
            swap_in(build.path, idx.path)
        except BaseException:
            build.close()
            shutil.rmtree(build.path, ignore_errors=True)
            raise
    _record(cfg, store, parsed, [], {}, report, clear=True)
    kept = {r.path.name for r in parsed}
    report.removed.extend(state["slug"] for name, state in before.items() if name not in kept)
    _check_links(cfg, store, parsed, report)
    return Index(idx.path, idx.synonyms)


def _check_links(cfg: Config, store: Store, parsed: list[_Read], report: SyncReport) -> None:
    """Problems with what changed files link to: `related` entries, `share_with` organisations."""
    known = store.slugs()
    orgs = cfg.organisation_slugs
    for r in parsed:
        if r.entry is not None:
            shown = Path(cfg.display(r.entry.path))
            report.problems.extend(check_related(r.entry, known, shown))
            report.problems.extend(organisations.entry_problems(r.entry, orgs, shown))


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
    store: Store,
) -> list[_Read]:
    """Parse and validate each changed file; with a fresh index's writer, add each live entry.
    A broken file's last valid version stays live (its rows, or the newest version the state
    database keeps), so one typo never takes a published note offline."""
    parsed = []
    for path, digest, mtime_ns, size, data in to_read:
        entry, problems = read_entry(path, data, display=Path(cfg.display(path)))
        report.read.append(cfg.display(path))
        report.problems.extend(problems)
        if on_file:
            on_file(path)
        for p in problems:
            log.log(logging.ERROR if p.severity == "error" else logging.WARNING, "%s", p)
        read = _Read(path, digest, mtime_ns, size, entry, problems)
        if entry is None:
            read.last_good = _last_good(store, cfg, path)
            if read.last_good is not None:
                log.warning("%s: the site keeps serving its last valid version", cfg.display(path))
        parsed.append(read)
        if adding is not None and read.live is not None:
            adding.add(**entry_document(read.live))
    return parsed


def _last_good(store: Store, cfg: Config, path: Path) -> Entry | None:
    """The last valid version of the entry in `path`: its rows, else the newest version seen."""
    current = store.entry(path.stem, cfg.entries_dir)
    if current is not None:
        return current
    versions = store.versions(path.stem)
    return entry_from_dict(json.loads(versions[0]["data"]), path) if versions else None


def _record(
    cfg: Config,
    store: Store,
    parsed: list[_Read],
    gone: list[str],
    states: dict[str, dict],
    report: SyncReport,
    clear: bool = False,
) -> None:
    """The rows of every changed file, in one transaction (in autocommit mode each statement
    would commit on its own, which made a full index ~10x slower); with `clear`, every derived
    row is replaced (a rebuild), in the same transaction."""
    new = [r.path.name for r in parsed if r.entry]
    dates = committed_dates(cfg.entries_dir, new) if new else {}
    with store.db.conn:
        if not store.db.conn.in_transaction:
            store.db.execute("BEGIN IMMEDIATE")
        if clear:
            store.clear_entries()
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
                if r.last_good is None:
                    store.delete_entry(r.path.stem)
                else:
                    store.put_entry(r.last_good, r.path.name)  # the same version: nothing changes for readers
                continue
            changes = store.put_entry(r.entry, r.path.name, changed_at=dates.get(r.path.name))
            if changes:
                report.changes[r.entry.slug] = changes
