"""Is an SQLite file sound? Cheap checks on open, thorough ones for `kb doctor` and backups.

A damaged state database is refused (`StateDamaged`), never replaced: it holds what nothing else
can recreate, so the way back is `kb restore`. A damaged cache database is made again from
`entries/` by `kb index --rebuild` (`CacheDamaged` says so).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from kb.errors import KbError

HEADER = b"SQLite format 3\x00"


class StateDamaged(KbError):
    """The state database is empty or damaged: restore it from a backup."""


class CacheDamaged(KbError):
    """The cache database is damaged: `kb index --rebuild` makes it again."""


def header_problem(path: Path) -> str | None:
    """What is wrong with the file at a glance (None when it looks like an SQLite database).

    An empty (0-byte) file is a problem: SQLite would open it as a new, empty database.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(100)
    except FileNotFoundError:
        return "does not exist"
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    if not head:
        return "is empty (0 bytes)"
    if len(head) < 100 or not head.startswith(HEADER):
        return "is not an SQLite database"
    return None


def check(path: Path, thorough: bool = False) -> str | None:
    """What `PRAGMA quick_check` (or `integrity_check`) finds wrong (None when the file is sound).

    Opens the file without creating it, and changes nothing.
    """
    problem = header_problem(path)
    if problem:
        return problem
    try:
        conn = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=30)
    except sqlite3.Error as exc:
        return f"cannot be opened ({exc})"
    try:
        pragma = "integrity_check" if thorough else "quick_check"
        rows = [row[0] for row in conn.execute(f"PRAGMA {pragma}(20)")]
    except sqlite3.DatabaseError as exc:
        return f"is damaged ({exc})"
    finally:
        conn.close()
    if rows == ["ok"]:
        return None
    return "is damaged (" + "; ".join(rows[:3]) + (f"; and {len(rows) - 3} more" if len(rows) > 3 else "") + ")"


def state_message(path: Path, problem: str) -> str:
    return (
        f"the state database {path} {problem} and was left as it is (it holds the accounts, audit log, "
        f"feed state and triage decisions, which nothing can rebuild): stop the site and run kb restore DIR "
        f"with your latest backup"
    )


def cache_message(path: Path, problem: str) -> str:
    return f"the cache database {path} {problem}: run kb index --rebuild to make it again from entries/"
