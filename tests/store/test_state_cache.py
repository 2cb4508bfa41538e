"""State and cache in separate files: what lives where, a pre-split database split on first
open, a damaged or empty state database refused (never replaced), a damaged cache made again."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from state_seed import entry_dates, seed_state, state_rows

from kb import clock
from kb.cli.main import main
from kb.store.connect import connect, migrate
from kb.store.health import CacheDamaged, StateDamaged
from kb.store.migrations import CACHE_TABLES, SPLIT_AT, STATE_MIGRATIONS, STATE_TABLES
from kb.sync import update_index
from kb.workspace import Workspace


def tables(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        conn.close()


def run(root: Path, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, ["--root", str(root), *args])


def test_finding_13_6_state_and_cache_live_in_separate_files(ws):
    assert ws.store.state_path == ws.cfg.var_dir / "state.sqlite"
    assert ws.store.cache_path == ws.cfg.var_dir / "cache.sqlite"
    assert tables(ws.cfg.state_path) == set(STATE_TABLES)
    assert tables(ws.cfg.cache_path) == set(CACHE_TABLES)
    # callers name tables plainly, whichever file holds them
    assert ws.store.db["entries"].count == 4 and ws.store.db["users"].count == 0
    assert {row["slug"] for row in ws.store.db["entries"].rows} == ws.store.slugs()


def test_finding_13_6_deleting_the_cache_keeps_accounts_audit_decisions_items_and_dates(kb_root):
    ws = Workspace.open(kb_root)
    update_index(ws)
    seed_state(ws)
    before, dates = state_rows(ws), entry_dates(ws)
    ws.close()
    ws.cfg.cache_path.unlink()
    shutil.rmtree(ws.cfg.index_dir)
    with clock.frozen("2099-01-01T00:00:00+00:00"):  # any new date would show
        result = run(kb_root, "index")
    assert result.exit_code == 0, result.output
    ws = Workspace.open(kb_root)
    try:
        assert state_rows(ws) == before
        assert entry_dates(ws) == dates
        assert ws.index.count("entry") == 4 and ws.items.count("item") == 2
    finally:
        ws.close()


def make_pre_split(ws: Workspace) -> Path:
    """The single database of earlier versions: steps 1-5, every table, the same rows."""
    legacy = ws.cfg.db_path
    conn = connect(legacy)
    migrate(conn, STATE_MIGRATIONS, upto=SPLIT_AT)
    conn.execute("ATTACH DATABASE ? AS s", [str(ws.cfg.state_path)])
    conn.execute("ATTACH DATABASE ? AS c", [str(ws.cfg.cache_path)])
    for schema, names in (("s", STATE_TABLES), ("c", CACHE_TABLES)):
        for table in names:  # the tables that existed before the split (later steps add others)
            if conn.execute("SELECT 1 FROM main.sqlite_master WHERE name = ?", [table]).fetchone():
                columns = ", ".join(f'"{c[1]}"' for c in conn.execute(f"PRAGMA main.table_info({table})"))
                conn.execute(f"INSERT INTO main.{table} ({columns}) SELECT {columns} FROM {schema}.{table}")
    conn.execute("DETACH DATABASE s")
    conn.execute("DETACH DATABASE c")
    conn.close()
    return legacy


def test_a_pre_split_database_is_split_on_first_open_and_nothing_is_lost(kb_root):
    ws = Workspace.open(kb_root)
    update_index(ws)
    seed_state(ws)
    before, dates = state_rows(ws), entry_dates(ws)
    ws.close()
    legacy = make_pre_split(ws)
    for path in (ws.cfg.state_path, ws.cfg.cache_path):
        path.unlink()
    assert STATE_TABLES[0] in tables(legacy) and "entries" in tables(legacy)
    ws = Workspace.open(kb_root)
    try:
        assert not legacy.exists()
        assert tables(ws.cfg.state_path) == set(STATE_TABLES)
        assert tables(ws.cfg.cache_path) == set(CACHE_TABLES)
        assert state_rows(ws) == before
        assert entry_dates(ws) == dates
        report = update_index(ws)  # the derived rows came along: nothing to read again
        assert report.read == [] and report.unchanged == 4
    finally:
        ws.close()


def test_a_split_killed_after_the_rename_is_finished_by_the_next_open(kb_root):
    ws = Workspace.open(kb_root)
    update_index(ws)
    seed_state(ws)
    before = state_rows(ws)
    ws.close()
    legacy = make_pre_split(ws)
    ws.cfg.state_path.unlink()
    legacy.rename(ws.cfg.state_path)  # renamed, but step 6 never ran
    ws = Workspace.open(kb_root)
    try:
        assert tables(ws.cfg.state_path) == set(STATE_TABLES)
        assert state_rows(ws) == before
        assert len(ws.store.slugs()) == 4
    finally:
        ws.close()


@pytest.mark.parametrize("damage", ["empty", "garbage"])
def test_finding_12_9_an_empty_or_damaged_state_database_is_refused_never_replaced(kb_root, damage):
    ws = Workspace.open(kb_root)
    update_index(ws)
    seed_state(ws)
    ws.close()
    state = ws.cfg.state_path
    for suffix in ("-wal", "-shm"):
        Path(f"{state}{suffix}").unlink(missing_ok=True)
    state.write_bytes(b"" if damage == "empty" else b"this is not a database at all " * 200)
    damaged = state.read_bytes()
    with pytest.raises(StateDamaged, match="kb restore"):
        Workspace.open(kb_root)
    for args in (["users", "list"], ["index"], ["index", "--rebuild"]):
        result = run(kb_root, *args)
        assert result.exit_code == 1
        assert "kb restore" in result.output and "Traceback" not in result.output
        assert len(result.output.strip().splitlines()) == 1
    assert state.read_bytes() == damaged  # left as it was, for the restore


def test_finding_12_9_a_damaged_cache_is_refused_with_the_fix_and_made_again_by_rebuild(kb_root):
    ws = Workspace.open(kb_root)
    update_index(ws)
    seed_state(ws)
    before = state_rows(ws)
    ws.close()
    ws.cfg.cache_path.write_bytes(b"garbage " * 1000)
    with pytest.raises(CacheDamaged, match="kb index --rebuild"):
        Workspace.open(kb_root)
    refused = run(kb_root, "index")
    assert refused.exit_code == 1 and "kb index --rebuild" in refused.output
    rebuilt = run(kb_root, "index", "--rebuild")
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "4 read" in rebuilt.output
    ws = Workspace.open(kb_root)
    try:
        assert len(ws.store.slugs()) == 4
        assert state_rows(ws) == before
        assert ws.index.search("quadcopter").total == 1
    finally:
        ws.close()


def test_a_new_state_database_is_never_seen_half_made(tmp_path):
    # A second process opening at the same moment must not find an empty file and refuse it.
    from kb.store import Store

    first = Store.open(tmp_path / "state.sqlite")
    second = Store.open(tmp_path / "state.sqlite")
    assert not list(tmp_path.glob(".state.sqlite.*"))
    first.close()
    second.close()
