"""Write transactions that wait their turn instead of failing.

sqlite-utils' `Database.atomic()` begins a *deferred* transaction: it takes the write lock only
at its first write, and in WAL mode a transaction that has read and then finds another
connection has written since gets SQLITE_BUSY at once, whatever the busy timeout ("database is
locked" under concurrent polls, indexing and edits). `writing(db)` begins IMMEDIATE: it waits
(up to the connection's timeout) for the write lock before reading anything, so what it reads is
still true when it writes. Nested use becomes a savepoint, as `atomic()` does.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import sqlite_utils


@contextmanager
def writing(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    conn = db.conn
    if conn.in_transaction:
        name = f"kb_{secrets.token_hex(8)}"
        conn.execute(f"SAVEPOINT {name}")
        try:
            yield db
        except BaseException:
            if conn.in_transaction:
                conn.execute(f"ROLLBACK TO SAVEPOINT {name}")
                conn.execute(f"RELEASE SAVEPOINT {name}")
            raise
        conn.execute(f"RELEASE SAVEPOINT {name}")
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        conn.rollback()
        raise
    conn.commit()
