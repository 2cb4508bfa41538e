"""Issue 12, finding 1: the write lock holds across processes (gunicorn workers), so of two
saves of the same version of an entry exactly one is saved and the other sees a conflict; and
a writer killed with -9 never leaves the lock behind."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DATA

from kb.errors import Busy
from kb.files import editor
from kb.files.lock import write_lock

HOLD = """
import sys
from kb.files.lock import write_lock
with write_lock(sys.argv[1]):
    print("held", flush=True)
    sys.stdin.readline()
"""


def holder(folder: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(folder)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_another_process_waits_for_the_lock_and_gets_busy(tmp_path):
    proc = holder(tmp_path)
    try:
        with pytest.raises(Busy, match="try again"), write_lock(tmp_path, timeout=0.2):
            pass
    finally:
        proc.communicate("\n")
    with write_lock(tmp_path, timeout=0.2):  # released when the holder is done
        pass


def test_a_holder_killed_with_9_leaves_no_lock(tmp_path):
    proc = holder(tmp_path)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()  # reaps it and closes its pipes
    with write_lock(tmp_path, timeout=0.2):
        pass
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # and no lock file in the folder


def _save(args: tuple[str, str, str, object]) -> str:
    path, sha, title, barrier = args
    values, _ = editor.open_entry(Path(path))
    values["title"] = title
    barrier.wait()  # both processes save at the same moment, from the same version
    return editor.save(Path(path), values, sha).status


def test_finding_1_two_processes_saving_one_version_never_both_succeed(tmp_path):
    path = tmp_path / "printed-guns.md"
    context = multiprocessing.get_context("fork")
    for round_ in range(4):
        path.write_bytes((DATA / "entries" / "printed-guns.md").read_bytes())
        _, sha = editor.open_entry(path)
        barrier = context.Manager().Barrier(2)
        with context.Pool(2) as pool:
            outcomes = pool.map(
                _save, [(str(path), sha, f"Title A{round_}", barrier), (str(path), sha, f"Title B{round_}", barrier)]
            )
        assert sorted(outcomes) == ["conflict", "saved"], outcomes
