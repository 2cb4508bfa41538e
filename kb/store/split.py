"""A pre-split `var/kb.sqlite` (every table in one file) becomes `state.sqlite` + `cache.sqlite`.

Done once, on the first open by a version that knows the split, in an order a crash cannot
hurt: the derived rows are copied into a new cache file (which may be thrown away), then the old
file is renamed to `state.sqlite` (one rename: it is the old file or the new, never neither), and
the state's migration step 6 drops the derived tables from it. A crash before the rename leaves
`kb.sqlite` as it was, and the next open starts again; a crash after it leaves a state file at
step 5, which the next open finishes.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path

from kb.files.lock import write_lock
from kb.store.connect import connect, migrate
from kb.store.health import StateDamaged, header_problem, state_message
from kb.store.migrations import CACHE_MIGRATIONS, CACHE_TABLES, SPLIT_AT, STATE_MIGRATIONS, fill_heads

log = logging.getLogger(__name__)


def split_legacy(legacy: Path, state: Path, cache: Path) -> None:
    """Turn `legacy` (a single pre-split database) into `state` and `cache`."""
    with write_lock(legacy.parent, timeout=60):  # one process converts; the others wait, then find it done
        if state.exists() or not legacy.exists():
            return
        problem = header_problem(legacy)
        if problem:
            raise StateDamaged(state_message(legacy, problem))
        old = connect(legacy)
        try:
            migrate(old, STATE_MIGRATIONS, upto=SPLIT_AT)
            _copy_cache_rows(old, cache)
            try:  # also checkpoints the WAL into the file, so the rename carries every row
                mode = old.execute("PRAGMA journal_mode=DELETE").fetchone()[0]
            except sqlite3.OperationalError:
                mode = "wal"
            if mode != "delete":
                raise StateDamaged(
                    f"{legacy} is open in another process: stop the site and kb scheduler, then run the command "
                    f"again (the database is being split into {state.name} and {cache.name})"
                )
        finally:
            old.close()
        os.replace(legacy, state)
        Path(f"{legacy}-shm").unlink(missing_ok=True)
        log.warning("split %s into %s (state) and %s (rebuildable cache)", legacy.name, state.name, cache.name)


def _copy_cache_rows(old: sqlite3.Connection, cache: Path) -> None:
    """A new cache file holding the old file's derived rows, so the site serves on at once."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{cache}{suffix}").unlink(missing_ok=True)
    new = connect(cache)
    try:
        migrate(new, CACHE_MIGRATIONS)
    finally:
        new.close()
    old.execute("ATTACH DATABASE ? AS cache", [str(cache)])
    try:
        with old:
            old.execute("BEGIN IMMEDIATE")
            for table in CACHE_TABLES:
                theirs = [r[1] for r in old.execute(f"PRAGMA main.table_info({table})")]
                ours = {r[1] for r in old.execute(f"PRAGMA cache.table_info({table})")}
                columns = ", ".join(f'"{c}"' for c in theirs if c in ours)
                old.execute(f"INSERT INTO cache.{table} ({columns}) SELECT {columns} FROM main.{table}")
            fill_heads(old, "cache")
    finally:
        old.execute("DETACH DATABASE cache")
