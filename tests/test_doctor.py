"""`kb doctor`: one line per finding with what to do, exit 1 when something is wrong, nothing changed."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import textwrap

import pytest
from conftest import add_broken

DEADLINE = 60.0  # seconds, never measured


def problems(result) -> list[str]:  # type: ignore[no-untyped-def]
    return [line for line in result.output.splitlines() if line.startswith("PROBLEM")]


@pytest.fixture
def indexed(kb, kb_root):  # type: ignore[no-untyped-def]
    assert kb("index").exit_code == 0
    return kb_root


def test_a_sound_knowledge_base_is_in_order(kb, indexed):
    result = kb("doctor")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("ok") and "state database var/state.sqlite: sound" in lines[0]
    assert "cache database var/cache.sqlite: sound; 4 entries" in result.output
    assert "search index var/index: opens; 4 entries" in result.output
    assert "4 entries valid" in result.output
    assert lines[-1] == "everything is in order"
    assert kb("doctor", "--thorough").exit_code == 0


def test_doctor_changes_and_creates_nothing(kb, kb_root):
    result = kb("doctor")
    assert result.exit_code == 1
    assert "does not exist" in result.output
    assert not (kb_root / "var").exists()


def test_finding_12_9_an_empty_state_database_is_a_problem_pointing_at_restore(kb, indexed):
    (indexed / "var" / "state.sqlite").write_bytes(b"")
    result = kb("doctor")
    assert result.exit_code == 1
    (line,) = problems(result)
    assert "state database var/state.sqlite: is empty (0 bytes)" in line and "kb restore DIR" in line


def test_finding_12_9_a_damaged_cache_and_a_garbage_index_say_rebuild(kb, indexed):
    cache = indexed / "var" / "cache.sqlite"
    data = bytearray(cache.read_bytes())
    data[4096:8192] = b"\xff" * 4096  # a page of garbage in a sound header
    cache.write_bytes(bytes(data))
    for suffix in ("-wal", "-shm"):
        (indexed / "var" / f"cache.sqlite{suffix}").unlink(missing_ok=True)
    for toc in (indexed / "var" / "index").glob("_MAIN_*.toc"):
        toc.write_bytes(b"\x00garbage\xff" * 50)
    result = kb("doctor")
    assert result.exit_code == 1
    found = problems(result)
    assert any(line.startswith("PROBLEM  cache database") and "kb index --rebuild" in line for line in found)
    assert any(line.startswith("PROBLEM  search index") and "kb index --rebuild" in line for line in found)
    assert kb("index", "--rebuild").exit_code == 0
    assert kb("doctor").exit_code == 0


def test_an_index_that_disagrees_with_the_rows_is_a_problem(kb, indexed):
    import sqlite3

    conn = sqlite3.connect(indexed / "var" / "cache.sqlite")
    conn.execute("DELETE FROM entries WHERE slug = 'printed-guns'")
    conn.commit()
    conn.close()
    result = kb("doctor")
    assert result.exit_code == 1
    assert problems(result) == [
        "PROBLEM  search index var/index: holds 4 entries, the database 3: run kb index --rebuild"
    ]


def test_broken_entries_are_a_problem_pointing_at_validate(kb, indexed):
    add_broken(indexed, "out-of-range.md")
    result = kb("doctor")
    assert result.exit_code == 1
    (line,) = problems(result)
    assert line.startswith("PROBLEM  entry files entries: ")
    assert line.endswith(" problems in 1 of 5 entries: run kb validate and fix them")


def test_finding_12_8_leftovers_of_killed_processes_are_problems_until_kb_index(kb, indexed):
    (indexed / "entries" / ".printed-guns.md.abc123.tmp").write_text("half")
    (indexed / "var" / ".index.build-1-abcd").mkdir()
    lock = indexed / "var" / "index" / "MAIN_WRITELOCK"
    script = textwrap.dedent(
        """
        import fcntl, os, signal, sys
        fd = os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY)
        fcntl.flock(fd, fcntl.LOCK_EX)
        child = os.fork()
        if child == 0:
            null = os.open(os.devnull, os.O_RDWR)
            os.dup2(null, 1), os.dup2(null, 2)
            signal.pause()
        print(child, flush=True)
        os._exit(0)
        """
    )
    orphan = int(subprocess.run([sys.executable, "-c", script, str(lock)], capture_output=True, text=True).stdout)
    try:
        result = kb("doctor")
        assert result.exit_code == 1
        found = problems(result)
        assert len(found) == 3, result.output
        assert "entries/.printed-guns.md.abc123.tmp, left by a killed save: run kb index" in found[0]
        assert "var/.index.build-1-abcd: run kb index" in found[1]
        assert "var/index/MAIN_WRITELOCK is held for process" in found[2] and "which is gone" in found[2]
        assert (indexed / "entries" / ".printed-guns.md.abc123.tmp").exists()  # doctor only looks
        assert kb("index").exit_code == 0
        assert kb("doctor").exit_code == 0
    finally:
        os.kill(orphan, signal.SIGKILL)
        fd = os.pidfd_open(orphan)
        select.select([fd], [], [], DEADLINE)
        os.close(fd)
