"""Parse a feed document in a child process, with a wall-clock deadline and memory cap.

feedparser has no time limit of its own and parts of it are super-linear on long fields (a
626 KB feed with 32,000-character authors took 153 s of CPU). So every document is parsed in
a child process forked from a clean forkserver (which preloads the parser once): the poll waits
at most `feeds.parse_timeout` seconds, then kills the child and records the error on that feed;
the other feeds go on. The child also limits itself (CPU seconds, address space) and asks the
kernel to kill it when its parent dies, so no parser outlives a poll killed with -9.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import resource
import signal
from multiprocessing.connection import Connection
from typing import Any

from kb.feeds import items

MEMORY_LIMIT = 2 * 1024**3  # bytes of address space for one parse
_PR_SET_PDEATHSIG = 1

_context = multiprocessing.get_context("forkserver")
_context.set_forkserver_preload(["kb.feeds.items"])


def _limit_self(seconds: float) -> None:
    """In the child: die with the parent, and within CPU and memory limits."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    cpu = int(seconds) + 2
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def _child(conn: Connection, seconds: float, args: tuple[Any, ...]) -> None:
    _limit_self(seconds)
    try:
        result: tuple[str, Any] = ("ok", items.parse(*args))
    except items.FeedError as exc:
        result = ("feed-error", str(exc))
    except MemoryError:
        result = ("feed-error", "the document needs more memory than a feed may use; skipped")
    except Exception as exc:  # noqa: BLE001 - reported as this feed's error
        result = ("feed-error", f"the parser failed on this document ({type(exc).__name__}); skipped")
    conn.send(result)
    conn.close()


def parse(body: bytes, feed_id: int, url: str, content_type: str | None, seconds: float) -> items.ParsedFeed:
    """`items.parse(...)` in a child process, given at most `seconds`; raises `items.FeedError`."""
    receive, send = _context.Pipe(duplex=False)
    child = _context.Process(target=_child, args=(send, seconds, (body, feed_id, url, content_type)), daemon=True)
    child.start()
    send.close()
    try:
        if not receive.poll(seconds):
            raise items.FeedError(
                f"parsing took longer than {seconds:g} s (feeds.parse_timeout): a hostile or broken document? skipped"
            )
        kind, value = receive.recv()
    except (EOFError, OSError):
        raise items.FeedError("the parser process died on this feed (a hostile or broken document?); skipped") from None
    finally:
        if child.is_alive():
            child.kill()
        child.join()
        receive.close()
    if kind != "ok":
        raise items.FeedError(value)
    return value
