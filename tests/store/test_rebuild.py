"""`kb index --rebuild` clears only the cache, builds the new index beside the live one and swaps
it in; a killed rebuild leaves the old index and rows serving and no lock; what killed processes
leave (temporary files, index locks, half-built indexes) is cleared by the next `kb index`."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from state_seed import entry_dates, seed_state, state_rows

import kb.sync
from kb import clock
from kb.cli.main import main
from kb.store.housekeeping import stale_builds
from kb.sync import update_index
from kb.workspace import Workspace

DEADLINE = 60.0  # seconds; generous, and never measured


def run(root: Path, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, ["--root", str(root), *args])


def read_line(stream, what: str) -> str:  # type: ignore[no-untyped-def]
    ready, _, _ = select.select([stream], [], [], DEADLINE)
    assert ready, f"no {what} within {DEADLINE} s"
    return stream.readline()


def wait_gone(pid: int) -> bool:
    """Whether process `pid` (not our child) ends before the deadline, without sleeping: a pidfd
    becomes readable when the process exits."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        ready, _, _ = select.select([fd], [], [], DEADLINE)
        return bool(ready)
    finally:
        os.close(fd)


def test_rebuild_keeps_users_audit_decisions_items_and_dates(kb_root):
    ws = Workspace.open(kb_root)
    update_index(ws)
    seed_state(ws)
    before, dates = state_rows(ws), entry_dates(ws)
    ws.close()
    with clock.frozen("2099-01-01T00:00:00+00:00"):
        result = run(kb_root, "index", "--rebuild")
    assert result.exit_code == 0, result.output
    assert "4 read" in result.output
    ws = Workspace.open(kb_root)
    try:
        assert state_rows(ws) == before
        assert entry_dates(ws) == dates
        assert ws.index.count("entry") == 4 and ws.items.count("item") == 2
        assert ws.items.search("quadcopter", kinds=("item",)).total == 1
        assert not stale_builds(ws.cfg.index_dir)
    finally:
        ws.close()


def test_the_site_serves_the_old_index_during_a_rebuild_and_the_new_one_after(kb_root, monkeypatch):
    site = Workspace.open(kb_root)  # the site's own workspace, in its own "process"
    update_index(site)
    assert site.index.search("quadcopter").total == 1
    path = kb_root / "entries" / "prison-drones.md"
    path.write_text(path.read_text().replace("Consumer quadcopters", "Consumer zebrafish quadcopters"))
    seen = {}
    real_swap = kb.sync.swap_in

    def swap_in(new: Path, live: Path) -> None:
        seen["before"] = (site.index.doc_count(), site.index.search("zebrafish").total, len(site.store.slugs()))
        real_swap(new, live)

    monkeypatch.setattr(kb.sync, "swap_in", swap_in)
    command = Workspace.open(kb_root, rebuild=True)
    update_index(command, rebuild=True)
    command.close()
    assert seen["before"] == (4, 0, 4)  # the old index and rows, until the swap
    assert site.index.search("zebrafish").total == 1  # the same Index object opens the new one
    assert site.index.doc_count() == 4
    site.close()


def test_finding_12_2_a_killed_rebuild_leaves_the_old_index_and_rows_and_no_lock(kb_root):
    if (os.cpu_count() or 1) < 2:
        pytest.skip("one CPU: a rebuild is written by one process")
    ws = Workspace.open(kb_root)
    update_index(ws)
    seed_state(ws)
    before = state_rows(ws)
    ws.close()
    # `kb index --rebuild` with its indexing processes (as for 2,000 entries or more); each child
    # says it is there, then hangs, so the rebuild is mid-way when it is killed.
    script = textwrap.dedent(
        """
        import os, signal, sys
        import kb.sync, whoosh.multiproc
        from kb.cli.main import main
        kb.sync.PARALLEL_FROM = 1
        def hang(task, *args):
            print("child", os.getpid(), flush=True)
            signal.pause()
        whoosh.multiproc.SubWriterTask._process_file = hang
        main(["--root", sys.argv[1], "index", "--rebuild"])
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(kb_root)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        child = int(read_line(proc.stdout, "indexing process").split()[1])
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert wait_gone(child), "an indexing process outlived the rebuild that started it"
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
    ws = Workspace.open(kb_root)
    try:
        # the site still has every entry and row
        assert ws.index.doc_count() == 4 and len(ws.store.slugs()) == 4
        assert ws.index.search("quadcopter").total == 1
        assert state_rows(ws) == before
        assert stale_builds(ws.cfg.index_dir)  # the half-built index is still there...
        path = ws.cfg.entries_dir / "printed-guns.md"
        path.write_text(path.read_text().replace("Desktop printers", "Cheap desktop printers"))
        report = update_index(ws)  # ...and no lock stops the next run, which clears it
        assert report.read == ["entries/printed-guns.md"]
        assert not stale_builds(ws.cfg.index_dir)
        assert ws.index.search('"cheap desktop printers"').total == 1
    finally:
        ws.close()
    assert run(kb_root, "index", "--rebuild").exit_code == 0


def test_finding_12_2_an_index_lock_held_for_a_dead_process_is_cleared_by_kb_index(ws):
    lock = ws.cfg.index_dir / "MAIN_WRITELOCK"
    # A process takes the index's write lock, a child inherits it, and the process dies: the
    # child (an orphaned indexing process) holds the lock for ever.
    script = textwrap.dedent(
        """
        import fcntl, os, signal, sys
        fd = os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY)
        fcntl.flock(fd, fcntl.LOCK_EX)
        child = os.fork()
        if child == 0:
            null = os.open(os.devnull, os.O_RDWR)
            os.dup2(null, 1), os.dup2(null, 2)  # let the caller see the end of the output
            signal.pause()
        print(child, flush=True)
        os._exit(0)
        """
    )
    holder = subprocess.run([sys.executable, "-c", script, str(lock)], capture_output=True, text=True, check=True)
    orphan = int(holder.stdout)
    try:
        path = ws.cfg.entries_dir / "printed-guns.md"
        path.write_text(path.read_text().replace("Desktop printers", "Cheap desktop printers"))
        report = update_index(ws)  # would wait for the lock, then fail with Busy
        assert report.read == ["entries/printed-guns.md"]
        assert ws.index.search('"cheap desktop printers"').total == 1
    finally:
        os.kill(orphan, signal.SIGKILL)
        wait_gone(orphan)


def test_a_lock_held_by_a_live_writer_is_left_alone(ws):
    from kb.store.housekeeping import stale_index_lock

    with ws.index.writer():
        assert stale_index_lock(ws.cfg.index_dir) is None
        assert kb.sync.clean_up(ws.cfg) == []
        assert (ws.cfg.index_dir / "MAIN_WRITELOCK").exists()


def test_finding_12_8_a_temporary_file_left_by_a_killed_save_is_removed_by_kb_index(kb, kb_root):
    assert kb("index").exit_code == 0
    left = kb_root / "entries" / ".smart-locks.md.x7k2p9.tmp"
    left.write_text("---\ntitle: half a file\n")
    result = kb("index")
    assert result.exit_code == 0, result.output
    assert not left.exists()
    assert sorted(p.name for p in (kb_root / "entries").iterdir()) == [
        "draft-robots.md",
        "printed-guns.md",
        "prison-drones.md",
        "secret-keys.md",
    ]


@pytest.mark.parametrize("rebuild", [True, False])
def test_finding_12_9_a_garbage_index_table_of_contents_is_rebuilt_without_opening_it(kb, kb_root, rebuild):
    assert kb("index").exit_code == 0
    for toc in (kb_root / "var" / "index").glob("_MAIN_*.toc"):
        toc.write_bytes(b"\x00garbage\xff" * 50)
    result = kb("index", *(["--rebuild"] if rebuild else []))
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert "4 documents in the index" in result.output
    assert kb("search", "quadcopter").exit_code == 0


def test_a_search_of_a_damaged_index_is_one_line_saying_what_to_do(kb, kb_root):
    assert kb("index").exit_code == 0
    for toc in (kb_root / "var" / "index").glob("_MAIN_*.toc"):
        toc.write_bytes(b"\x00garbage\xff" * 50)
    result = run(kb_root, "search", "drone")
    assert result.exit_code == 1
    assert "kb index --rebuild" in result.output and "Traceback" not in result.output
