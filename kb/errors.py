"""The one family of errors Horizon KB raises for things a user can fix.

Every message is a sentence that says what was found and what to do about it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class KbError(Exception):
    """Base class: a problem the user can fix. The CLI prints it and exits 1."""


class ConfigError(KbError):
    """`config.toml` is unreadable or has bad values (all problems listed, by key)."""


class QueryError(KbError):
    """A search query could not be understood."""


class NotFound(KbError):
    """A named thing (entry, feed, suggestion) does not exist."""


class Busy(KbError):
    """Another writer held a lock (the entries, the feed list, the index) for too long; nothing
    was written, and trying again in a moment will work."""


@dataclass(frozen=True)
class Problem:
    """One problem in one file, at one line (1-based; 0 when the line is unknown)."""

    path: Path
    line: int
    message: str
    severity: str = "error"  # error | warning

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else f"{self.path}"
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{where}: {prefix}{self.message}"


class EntryError(KbError):
    """An entry file has one or more problems; `problems` lists them all."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))
