"""The knowledge base's write lock: one writer at a time, across threads *and* processes.

Every write to an entry file, and the index update that follows it, happens while holding
`write_lock(entries_dir)`. It is an exclusive `flock` on the `entries/` folder itself (no lock
file to leave behind or to show up in `git status`), so gunicorn
workers, `kb` commands and the scheduler all queue behind it, and the kernel releases it when a
holder dies (kill -9 included): a lock is never left behind by a dead process. Within a process
it is re-entrant (an RLock per folder), so a save can call the index update that also takes it.

A writer waits at most `timeout` seconds (well under gunicorn's 30 s worker timeout), then gets
`Busy`, a clear "try again" message, and nothing has been written.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kb.errors import Busy

DEFAULT_TIMEOUT = 10.0  # seconds
_POLL = 0.05


class _FolderLock:
    def __init__(self, path: Path):
        self.path = path
        self.local = threading.RLock()
        self.depth = 0
        self.fd: int | None = None

    def acquire(self, timeout: float) -> None:
        if not self.local.acquire(timeout=timeout):
            raise Busy("another save is in progress; try again in a moment")
        if self.depth == 0:
            try:
                self.fd = self._lock_file(timeout)
            except BaseException:
                self.local.release()
                raise
        self.depth += 1

    def _lock_file(self, timeout: float) -> int:
        self.path.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY)
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise Busy("another save or index update is in progress; try again in a moment") from None
                time.sleep(_POLL)

    def release(self) -> None:
        self.depth -= 1
        if self.depth == 0 and self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None
        self.local.release()


_locks: dict[Path, _FolderLock] = {}
_guard = threading.Lock()


@contextmanager
def write_lock(folder: Path, timeout: float = DEFAULT_TIMEOUT) -> Iterator[None]:
    """Hold the write lock of the entries folder `folder` for the block."""
    path = Path(os.path.abspath(folder))
    with _guard:
        lock = _locks.setdefault(path, _FolderLock(path))
    lock.acquire(timeout)
    try:
        yield
    finally:
        lock.release()
