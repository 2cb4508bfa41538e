"""Who may read what (TLP 2.0 and status). One place: every door asks here.

`can_read` decides for one note; `audience` states the same rule as data that the search
index turns into a filter, so hits, snippets and facet counts only ever come from notes the
reader may see. Both must agree; `tests/test_access.py` checks that they do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

Audience = list[dict[str, list[str]]]


class Note(Protocol):
    status: str
    tlp: str
    share_with: tuple[str, ...]


@dataclass(frozen=True)
class Reader:
    """Who is reading. Anonymous by default; roles arrive with sign-in (staff, partner, admin)."""

    role: str = "anonymous"  # anonymous | partner | staff | admin
    org: str | None = None  # a partner's organisation slug

    @property
    def is_staff(self) -> bool:
        return self.role in ("staff", "admin")


ANONYMOUS = Reader()


def can_read(reader: Reader, note: Note) -> bool:
    """The TLP 2.0 rule. Drafts and notes in review are staff only, whatever their TLP."""
    if reader.is_staff:
        return True
    if note.status != "published":
        return False
    if note.tlp == "clear":
        return True
    if reader.role != "partner":
        return False
    if note.tlp == "green":
        return True
    if note.tlp in ("amber", "amber+strict"):
        # Both are limited to the organisations named; +STRICT only forbids passing it on.
        return reader.org is not None and reader.org in note.share_with
    return False  # red: staff only


def audience(reader: Reader) -> Audience | None:
    """The same rule as `can_read`, as index filters. None means everything (staff)."""
    if reader.is_staff:
        return None
    shown = ["published"]
    if reader.role != "partner":
        return [{"status": shown, "tlp": ["clear"]}]
    rules: Audience = [{"status": shown, "tlp": ["clear", "green"]}]
    if reader.org:
        rules.append({"status": shown, "tlp": ["amber", "amber+strict"], "share_with": [reader.org]})
    return rules


def is_public(note: Note) -> bool:
    return can_read(ANONYMOUS, note)


PUBLIC: Audience = audience(ANONYMOUS)  # type: ignore[assignment]
