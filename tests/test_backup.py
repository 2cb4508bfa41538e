"""`kb backup` and `kb restore`: a consistent copy of the state taken while another process
writes, put back whole; refusals that protect the live knowledge base."""

from __future__ import annotations

import gc
import json
import select
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kb.accounts import Accounts
from kb.sync import update_index
from kb.workspace import Workspace

DEADLINE = 60.0  # seconds, never measured

WRITER = textwrap.dedent(
    """
    import select, sys
    from kb.accounts import Accounts
    from kb.workspace import Workspace
    ws = Workspace.open(sys.argv[1])
    accounts = Accounts(ws.store, ws.cfg.accounts)
    for n in range(1, 200_001):  # a bounded count; the test stops it sooner
        accounts.log("writer", "test.write", str(n))  # one committed row at a time
        if n == 50:
            print("started", flush=True)
        if n > 50 and select.select([sys.stdin], [], [], 0)[0]:
            break
    print(n, flush=True)
    ws.close()
    """
)


def read_line(stream, what: str) -> str:  # type: ignore[no-untyped-def]
    ready, _, _ = select.select([stream], [], [], DEADLINE)
    assert ready, f"no {what} within {DEADLINE} s"
    return stream.readline().strip()


def rows(path: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return list(conn.execute(sql))
    finally:
        conn.close()


@pytest.fixture
def indexed(kb, kb_root):  # type: ignore[no-untyped-def]
    assert kb("index").exit_code == 0
    (kb_root / "feeds" / "feeds.yaml").write_text("feeds: []\n")
    return kb_root


def test_finding_13_6_a_backup_taken_while_rows_are_written_restores_every_committed_row(kb, indexed, tmp_path):
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(indexed)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert read_line(writer.stdout, "first rows") == "started"  # 50 rows committed, more coming
        dest = tmp_path / "backup"
        result = kb("backup", str(dest))  # while the writer goes on
        assert result.exit_code == 0, result.output
        writer.stdin.write("stop\n")
        writer.stdin.flush()
        written = int(read_line(writer.stdout, "the writer's count"))
        assert writer.wait() == 0
    finally:
        writer.kill()
        writer.wait()
        writer.stdout.close()
        writer.stdin.close()
    copy = dest / "state.sqlite"
    assert rows(copy, "PRAGMA integrity_check") == [("ok",)]
    targets = [int(t) for (t,) in rows(copy, "SELECT target FROM audit WHERE action = 'test.write' ORDER BY id")]
    backed_up = len(targets)
    assert targets == list(range(1, backed_up + 1))  # every row up to the backup point, none torn
    assert 50 <= backed_up <= written
    manifest = json.loads((dest / "backup.json").read_text())
    assert manifest["rows"]["audit"] == backed_up
    assert sorted(p.name for p in dest.iterdir()) == ["backup.json", "config.toml", "feeds", "state.sqlite"]

    gc.collect()  # `kb index` above ran in this process and left its connection for the collector
    result = kb("restore", str(dest))
    assert result.exit_code == 0, result.output
    state = indexed / "var" / "state.sqlite"
    assert rows(state, "PRAGMA integrity_check") == [("ok",)]
    restored = [int(t) for (t,) in rows(state, "SELECT target FROM audit WHERE action = 'test.write' ORDER BY id")]
    assert restored == targets
    kept = list((indexed / "var").glob("before-restore-*"))
    assert len(kept) == 1 and (kept[0] / "state.sqlite").exists()  # what was replaced, kept
    assert len(rows(kept[0] / "state.sqlite", "SELECT id FROM audit")) == written
    assert "4 documents in the index" in result.output  # the cache and index, rebuilt


def test_restore_brings_back_a_lost_var_folder(kb, indexed, tmp_path):
    ws = Workspace.open(indexed)
    Accounts(ws.store, ws.cfg.accounts).add("ada@example.org", "correct horse battery staple", "admin")
    first_seen = ws.store.entry_row("printed-guns")["first_seen"]
    ws.close()
    (indexed / "var" / "secret_key").write_text("s3cret")
    assert kb("backup", str(tmp_path / "b")).exit_code == 0
    gc.collect()  # the connections of the kb commands run in this process
    shutil.rmtree(indexed / "var")
    (indexed / "feeds" / "feeds.yaml").unlink()
    result = kb("restore", str(tmp_path / "b"))
    assert result.exit_code == 0, result.output
    assert (indexed / "feeds" / "feeds.yaml").read_text() == "feeds: []\n"
    assert (indexed / "var" / "secret_key").read_text() == "s3cret"  # signed-in users stay signed in
    ws = Workspace.open(indexed)
    try:
        assert Accounts(ws.store, ws.cfg.accounts).by_email("ada@example.org") is not None
        assert ws.store.entry_row("printed-guns")["first_seen"] == first_seen
        assert ws.index.search("quadcopter").total == 1
    finally:
        ws.close()


def test_restore_refuses_while_the_site_has_the_state_database_open(kb, indexed, tmp_path):
    assert kb("backup", str(tmp_path / "b")).exit_code == 0
    site = Workspace.open(indexed)
    try:
        update_index(site)
        result = kb("restore", str(tmp_path / "b"))
        assert result.exit_code == 1
        assert "is open in another process" in result.output and "stop them" in result.output
        assert not list((indexed / "var").glob("before-restore-*"))
    finally:
        site.close()


def test_backup_refuses_a_folder_that_is_not_empty_unless_forced(kb, indexed, tmp_path):
    dest = tmp_path / "b"
    dest.mkdir()
    (dest / "notes.txt").write_text("mine")
    refused = kb("backup", str(dest))
    assert refused.exit_code == 1 and "is not empty" in refused.output and "--force" in refused.output
    assert not (dest / "state.sqlite").exists()
    assert kb("backup", "--force", str(dest)).exit_code == 0
    assert (dest / "state.sqlite").exists() and (dest / "notes.txt").exists()


@pytest.mark.parametrize("inside", ["var", "var/backups", "feeds/b", "entries/b", "."])
def test_backup_refuses_the_knowledge_base_own_folders(kb, indexed, inside):
    result = kb("backup", str(indexed / inside))
    assert result.exit_code == 1
    assert "knowledge base's own folders" in result.output


def test_restore_refuses_a_damaged_backup_and_changes_nothing(kb, indexed, tmp_path):
    dest = tmp_path / "b"
    assert kb("backup", str(dest)).exit_code == 0
    copy = dest / "state.sqlite"
    data = bytearray(copy.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # the schema page, overwritten
    copy.write_bytes(bytes(data))
    before = (indexed / "var" / "state.sqlite").read_bytes()
    result = kb("restore", str(dest))
    assert result.exit_code == 1 and "was not restored" in result.output
    assert (indexed / "var" / "state.sqlite").read_bytes() == before
    missing = kb("restore", str(tmp_path))
    assert missing.exit_code == 1 and "holds no state.sqlite" in missing.output
