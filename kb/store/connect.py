"""Opening one SQLite file the way every part of Horizon KB does, and bringing its schema up to date."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlite_utils

from kb.store.migrations import Migration


def connect(path: Path) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are begun explicitly), WAL journal."""
    conn = sqlite3.connect(str(path), timeout=30, check_same_thread=False, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
    except BaseException:
        conn.close()
        raise
    return conn


def version(conn: sqlite3.Connection) -> int:
    return conn.execute("PRAGMA user_version").fetchone()[0]


def migrate(conn: sqlite3.Connection, steps: list[Migration], upto: int | None = None) -> None:
    """Run the steps the file has not had yet (up to step `upto`), in one transaction.

    The version is read again once the write lock is held, so two processes opening a new file
    at once do not both run the same step.
    """
    last = len(steps) if upto is None else upto
    if version(conn) >= last:
        return
    db = sqlite_utils.Database(conn)
    with conn:
        conn.execute("BEGIN IMMEDIATE")
        done = version(conn)
        for step in steps[done:last]:
            step(db)
        if done < last:
            conn.execute(f"PRAGMA user_version = {last}")
