"""The one clock: every timestamp the knowledge base stores comes from here.

Tests and tools replace the clock with `use(...)` (or the `frozen` context manager) instead of
sleeping or patching modules one by one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Source = Callable[[], dt.datetime]


def _system() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


_source: Source = _system


def utcnow() -> dt.datetime:
    """Now, timezone-aware, in UTC."""
    return _source()


def now() -> str:
    """Now as stored in the database: ISO 8601 to the second, UTC."""
    return utcnow().isoformat(timespec="seconds")


def today() -> dt.date:
    return utcnow().date()


def use(source: Source | None) -> Source:
    """Make `source` the clock (None: the system clock again). Returns the previous one."""
    global _source
    previous, _source = _source, source or _system
    return previous


@contextmanager
def frozen(moment: dt.datetime | str) -> Iterator[None]:
    """Within the block, the clock reads `moment` (a datetime, or ISO 8601 text)."""
    at = dt.datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    previous = use(lambda: at)
    try:
        yield
    finally:
        use(previous)
