"""Issue 12, finding 5: "database is locked" despite the timeout, from deferred transactions
that read and then write. `writing()` takes the write lock first and waits its turn."""

from __future__ import annotations

import sqlite3
import threading

import pytest
import sqlite_utils

from kb.store.transactions import writing


def connect(path) -> sqlite_utils.Database:  # type: ignore[no-untyped-def]
    conn = sqlite3.connect(str(path), timeout=5, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    return sqlite_utils.Database(conn)


@pytest.fixture
def two(tmp_path):  # type: ignore[no-untyped-def]
    a, b = connect(tmp_path / "t.sqlite"), connect(tmp_path / "t.sqlite")
    a.execute("CREATE TABLE t (n INTEGER)")
    a.execute("INSERT INTO t VALUES (0)")
    yield a, b
    a.conn.close()
    b.conn.close()


def test_a_deferred_read_then_write_fails_at_once(two):
    a, b = two
    with pytest.raises(sqlite3.OperationalError, match="locked"), a.atomic():  # what the code used
        a.execute("SELECT n FROM t").fetchone()
        b.execute("UPDATE t SET n = n + 1")  # another process writes meanwhile
        a.execute("UPDATE t SET n = n + 10")


def test_finding_5_writing_waits_for_the_lock_and_loses_no_update(two):
    a, b = two
    inside, done = threading.Event(), threading.Event()

    def other() -> None:
        inside.wait()
        with writing(b):  # waits until `a` commits
            (n,) = b.execute("SELECT n FROM t").fetchone()
            b.execute("UPDATE t SET n = ?", [n + 1])
        done.set()

    thread = threading.Thread(target=other)
    thread.start()
    with writing(a):
        (n,) = a.execute("SELECT n FROM t").fetchone()
        inside.set()
        assert not done.wait(0.2)  # the other writer is held back, not failed
        a.execute("UPDATE t SET n = ?", [n + 10])
    thread.join()
    assert a.execute("SELECT n FROM t").fetchone()[0] == 11  # both increments kept
