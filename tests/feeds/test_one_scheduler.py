"""One feed scheduler per knowledge base (finding 11): a second `kb scheduler`, or the scheduler
of a second `kb serve`, refuses to start and names the process that polls; the lock dies with
its holder (kill -9 included), so a restart is never blocked. Real processes throughout."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest
from feedserver import feeds_kb  # noqa: F401

from kb import config
from kb.scheduler import LOCK_FILE, AlreadyRunning, FeedScheduler

DEADLINE = 60  # seconds; a generous bound for a child to start, never measured


class Child:
    """A `kb` command in a child process, its output (stdout and stderr together) read line by line."""

    def __init__(self, root: Path, *args: str):
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from kb.cli.main import main; main()", "--root", str(root), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put("")  # end of output

    def expect(self, pattern: str) -> re.Match[str]:
        """The first line from now on matching `pattern`; fails if the output ends first."""
        while True:
            try:
                line = self.lines.get(timeout=DEADLINE)
            except queue.Empty:
                pytest.fail(f"no line matching {pattern!r} in time; saw {self.seen}")
            if not line:
                pytest.fail(f"the output ended without a line matching {pattern!r}; saw {self.seen}")
            self.seen.append(line)
            if found := re.search(pattern, line):
                return found

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=DEADLINE)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.reader.join(DEADLINE)  # reads to the end of the output, then the pipe can close
            if not self.reader.is_alive() and self.proc.stdout is not None:
                self.proc.stdout.close()


def kb(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from kb.cli.main import main; main()", "--root", str(root), *args],
        capture_output=True,
        text=True,
        timeout=DEADLINE,
    )


def test_finding_11_a_second_kb_scheduler_is_refused_until_the_first_dies(feeds_kb):  # noqa: F811
    first = Child(feeds_kb, "scheduler")
    try:
        first.expect(r"^scheduler: 0 feeds scheduled from feeds/feeds\.yaml")
        holder = (feeds_kb / "var" / LOCK_FILE).read_text().split()
        assert holder[0] == str(first.proc.pid)

        second = kb(feeds_kb, "scheduler")
        assert second.returncode == 1
        assert second.stderr == (
            f"Error: the feed scheduler of this knowledge base is already running in process {first.proc.pid} "
            f"(started {holder[1]}); this one will not start\n"
        )
        assert "Traceback" not in second.stderr and "scheduled" not in second.stderr

        assert first.stop(signal.SIGKILL) == -signal.SIGKILL  # no clean-up ran: the lock file stays behind
        assert (feeds_kb / "var" / LOCK_FILE).read_text().split()[0] == str(first.proc.pid)
    finally:
        first.stop(signal.SIGKILL)

    third = Child(feeds_kb, "scheduler")
    try:
        third.expect(r"^scheduler: 0 feeds scheduled")
        assert (feeds_kb / "var" / LOCK_FILE).read_text().split()[0] == str(third.proc.pid)
        assert kb(feeds_kb, "scheduler").stderr.startswith(
            f"Error: the feed scheduler of this knowledge base is already running in process {third.proc.pid} "
        )
    finally:
        third.stop(signal.SIGKILL)


def test_finding_11_kb_serve_serves_but_does_not_poll_while_another_scheduler_runs(feeds_kb):  # noqa: F811
    running = FeedScheduler(config.load(feeds_kb))  # this test process holds the lock
    try:
        serve = Child(feeds_kb, "serve", "--port", "0")
        try:
            refused = serve.expect(r"^feed scheduler not started: ")
            assert refused.string == (
                "feed scheduler not started: the feed scheduler of this knowledge base is already running in "
                f"process {os.getpid()} (started {running.run_lock.path.read_text().split()[1]}); "
                "this server will not poll the feeds\n"
            )
            port = serve.expect(r"Running on http://127\.0\.0\.1:(\d+)").group(1)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=DEADLINE) as page:
                assert page.status == 200
        finally:
            serve.stop(signal.SIGKILL)
        assert running.run_lock.path.read_text().split()[0] == str(os.getpid())  # still the holder
    finally:
        running.shutdown()


def test_finding_11_a_second_scheduler_in_one_process_is_refused_and_shutdown_frees_the_lock(feeds_kb):  # noqa: F811
    cfg = config.load(feeds_kb)
    first = FeedScheduler(cfg)
    try:
        with pytest.raises(AlreadyRunning, match=rf"already running in process {os.getpid()} \(started "):
            FeedScheduler(cfg)
    finally:
        first.shutdown()
    again = FeedScheduler(cfg)  # the lock went with the first one's shutdown
    again.shutdown()
