"""What a killed process leaves behind, found and cleared; and a folder swapped in at once.

- Temporary files `.NAME.*.tmp` in `entries/`, from `kb.files.atomic.write_atomic`. Every write
  to `entries/` holds the folder's write lock (`kb.files.lock`), so one found while holding that
  lock belongs to a writer that died.
- The search index's write lock (`MAIN_WRITELOCK`, an `flock` Whoosh takes) held, after its
  owner died, by a process that inherited it (the indexing processes of a killed rebuild, from
  before they were made to die with it). `/proc/locks` names the process that took the lock;
  when that process is gone the lock file is removed, so the next writer locks a new one.
- Index folders a killed rebuild was building (`.index.build-*`, `.items-index.build-*`) or swapping
  out (`.index.old-*`, `.items-index.old-*`); callers pass each index folder (`kb.sync.clean_up`).
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kb.errors import Busy

INDEX_LOCK = "MAIN_WRITELOCK"  # Whoosh's name for the write lock of an index called MAIN
RENAME_EXCHANGE = 2


def stale_temp_files(folder: Path) -> list[Path]:
    """Temporary files of `write_atomic` in `folder` (call with the folder's write lock held)."""
    if not folder.is_dir():
        return []
    with os.scandir(folder) as found:
        return sorted(Path(f.path) for f in found if f.name.startswith(".") and f.name.endswith(".tmp") and f.is_file())


def build_folder(index_dir: Path) -> Path:
    """A new, empty folder beside `index_dir` to build an index in (made like any other folder,
    so the site's user may read it as it read the old one)."""
    index_dir.parent.mkdir(parents=True, exist_ok=True)
    path = index_dir.with_name(f".{index_dir.name}.build-{os.getpid()}-{secrets.token_hex(4)}")
    path.mkdir()
    return path


def stale_builds(index_dir: Path) -> list[Path]:
    """Folders a killed rebuild left beside `index_dir` (only syncs make them, one at a time)."""
    if not index_dir.parent.is_dir():
        return []
    names = (f".{index_dir.name}.build-", f".{index_dir.name}.old-")
    return sorted(p for p in index_dir.parent.iterdir() if p.name.startswith(names) and p.is_dir())


def swap_in(new: Path, live: Path) -> None:
    """Put the folder `new` at `live`, in one step where the OS allows it (readers see the old
    folder or the new, never none); the old folder is deleted."""
    if not live.exists():
        os.rename(new, live)
        return
    if _exchange(new, live):
        shutil.rmtree(new, ignore_errors=True)  # `new` now holds the old index
        return
    old = live.with_name(f".{live.name}.old-{os.getpid()}")
    os.rename(live, old)
    os.rename(new, live)
    shutil.rmtree(old, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE); False where it is not available."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_cwd = -100
    return renameat2(at_cwd, os.fsencode(a), at_cwd, os.fsencode(b), RENAME_EXCHANGE) == 0


def stale_index_lock(index_dir: Path) -> tuple[Path, int] | None:
    """The index's write lock file and the id of its dead owner, when a process that is gone
    still holds it (through a process that inherited it); None when it is free or its owner lives."""
    lock = index_dir / INDEX_LOCK
    try:
        fd = os.open(lock, os.O_WRONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None  # free
    except BlockingIOError:
        pass
    finally:
        os.close(fd)
    owners = _flock_owners(lock)
    gone = [pid for pid in owners if not _alive(pid)]
    return (lock, gone[0]) if owners and len(gone) == len(owners) else None


def _flock_owners(path: Path) -> list[int]:
    """The processes `/proc/locks` says took an flock on `path` (empty where there is no /proc)."""
    try:
        st = os.stat(path)
        text = Path("/proc/locks").read_text()
    except OSError:
        return []
    owners = []
    for line in text.splitlines():
        parts = line.split()
        if "->" in parts:  # a process waiting for the lock, not holding it
            continue
        if len(parts) >= 6 and parts[1] == "FLOCK":
            try:
                pid = int(parts[4])
                major, minor, inode = parts[5].split(":")
            except ValueError:
                continue
            if int(inode) == st.st_ino and os.makedev(int(major, 16), int(minor, 16)) == st.st_dev:
                owners.append(pid)
    return owners


def _alive(pid: int) -> bool:
    if pid <= 0:  # a process /proc cannot name (another pid namespace): assume it lives
        return True
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    except OSError:
        return True
    return "\nState:\tZ" not in status  # a zombie holds nothing


@contextmanager
def index_write_lock(index_dir: Path, timeout: float) -> Iterator[None]:
    """Hold the index's write lock (the one Whoosh's writers take) for the block: while a rebuild
    builds a new index, nobody else writes to the old one and has the write lost in the swap."""
    if not index_dir.is_dir():
        yield
        return
    fd = os.open(index_dir / INDEX_LOCK, os.O_CREAT | os.O_WRONLY, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise Busy("the search index is being updated by another process; try again in a moment") from None
                time.sleep(0.1)
        yield
    finally:
        os.close(fd)  # releases the lock
