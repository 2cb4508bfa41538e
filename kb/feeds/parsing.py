"""Parse a feed document in a worker process, with a wall-clock deadline and memory cap.

feedparser has no time limit of its own and parts of it are super-linear on long fields (a
626 KB feed with 32,000-character authors took 153 s of CPU). So every document is parsed in
a worker process, forked from a clean forkserver that preloads the parser once. The poll waits
at most `feeds.parse_timeout` seconds for a document, then kills that worker and records the
error on that feed; the other feeds go on, and a fresh worker takes the dead one's place.

Workers are kept between documents (starting one costs far more than a parse) and each limits
itself: CPU seconds per document, address space, and a request to the kernel to be killed when
its parent dies, so no parser outlives a poll killed with -9.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import resource
import signal
import threading
from multiprocessing.connection import Connection
from typing import Any

from kb.feeds import items

MEMORY_LIMIT = 2 * 1024**3  # bytes of address space for a worker
IDLE_WORKERS = 4  # kept between documents
_PR_SET_PDEATHSIG = 1

_context = multiprocessing.get_context("forkserver")
_context.set_forkserver_preload(["kb.feeds.items"])


def _limit_self() -> None:
    """In the worker: die with the parent, and within a memory limit."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def _cpu_budget(seconds: float) -> None:
    """The kernel stops this worker once it has used `seconds` more CPU (a second line of defence
    behind the parent's wall-clock deadline)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    limit = int(usage.ru_utime + usage.ru_stime + seconds) + 2
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_CPU, (limit, resource.RLIM_INFINITY))


def _serve(conn: Connection) -> None:
    _limit_self()
    while True:
        try:
            seconds, args = conn.recv()
        except (EOFError, OSError):
            return  # the parent closed the pipe (or died)
        _cpu_budget(seconds)
        try:
            result: tuple[str, Any] = ("ok", items.parse(*args))
        except items.FeedError as exc:
            result = ("feed-error", str(exc))
        except MemoryError:
            result = ("feed-error", "the document needs more memory than a feed may use; skipped")
        except Exception as exc:  # noqa: BLE001 - reported as this feed's error
            result = ("feed-error", f"the parser failed on this document ({type(exc).__name__}); skipped")
        conn.send(result)


class _Worker:
    def __init__(self) -> None:
        self.conn, theirs = _context.Pipe()
        self.process = _context.Process(target=_serve, args=(theirs,), daemon=True)
        self.process.start()
        theirs.close()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.close()
        if self.process.is_alive():
            self.process.kill()
        self.process.join()


_idle: list[_Worker] = []
_lock = threading.Lock()


def _take() -> _Worker:
    with _lock:
        while _idle:
            worker = _idle.pop()
            if worker.process.is_alive():
                return worker
            worker.close()
    return _Worker()


def _give_back(worker: _Worker) -> None:
    with _lock:
        if len(_idle) < IDLE_WORKERS:
            _idle.append(worker)
            return
    worker.close()


def parse(body: bytes, feed_id: int, url: str, content_type: str | None, seconds: float) -> items.ParsedFeed:
    """`items.parse(...)` in a worker process, given at most `seconds`; raises `items.FeedError`."""
    worker = _take()
    try:
        worker.conn.send((seconds, (body, feed_id, url, content_type)))
        if not worker.conn.poll(seconds):
            worker.close()
            raise items.FeedError(
                f"parsing took longer than {seconds:g} s (feeds.parse_timeout): a hostile or broken document? skipped"
            )
        kind, value = worker.conn.recv()
    except (EOFError, OSError, BrokenPipeError):
        worker.close()
        raise items.FeedError("the parser process died on this feed (a hostile or broken document?); skipped") from None
    _give_back(worker)
    if kind != "ok":
        raise items.FeedError(value)
    return value


def close_workers() -> None:
    """Stop the idle workers (they also stop by themselves when this process ends)."""
    with _lock:
        workers, _idle[:] = list(_idle), []
    for worker in workers:
        worker.close()
