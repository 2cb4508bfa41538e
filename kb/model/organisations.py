"""The register of organisations (config.toml's `[[organisations]]`) as a check: an entry's
`share_with` and a partner's organisation may name only registered slugs, so that a typo is
refused with the nearest registered slug instead of silently sharing a note with nobody.

The checks take the register's slugs and return messages or `Problem`s; `kb validate`,
`kb index`, the editor and `kb users add` all use them, so the words are the same everywhere.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

from kb.errors import Problem
from kb.model.entry import Entry
from kb.model.frontmatter import FrontMatterError, decode, parse, read_bytes

REGISTER = "config.toml's [[organisations]]"
KEY = "share_with"


def nearest(slug: str, slugs: Collection[str]) -> str | None:
    """The registered slug most like `slug` (a likely typo), or None when none is close."""
    found = difflib.get_close_matches(slug, sorted(slugs), n=1)
    return found[0] if found else None


def _advice(slug: str, slugs: Collection[str]) -> str:
    if not slugs:
        return (
            "config.toml registers no organisations; add an [[organisations]] table to it "
            f'(slug = "{slug}", name = "...") first'
        )
    close = nearest(slug, slugs)
    return f"did you mean {close!r}?" if close else "add it there, or fix the slug"


def unknown_org(slug: str, slugs: Collection[str]) -> str | None:
    """Why a partner may not belong to `slug` (one sentence), or None when it is registered."""
    if slug in slugs:
        return None
    if not slugs:
        return f"organisation {slug!r} cannot be used: {_advice(slug, slugs)}"
    return f"organisation {slug!r} is not in {REGISTER}; {_advice(slug, slugs)}"


def unknown_share(slug: str, slugs: Collection[str]) -> str | None:
    """Why `share_with` may not name `slug` (the words `kb validate` prints), or None when it may."""
    if slug in slugs:
        return None
    if not slugs:
        return f"{KEY} names {slug!r}, but {_advice(slug, slugs)}"
    return f"{KEY} names {slug!r}, which is not in {REGISTER}; {_advice(slug, slugs)}"


def listed(value: Any, lines: Mapping[tuple, int]) -> list[tuple[str, int]]:
    """Each item of a front matter `share_with` value as written, with its line: (slug, line)."""
    if isinstance(value, str):
        return [(value.strip(), lines.get((KEY,), 0))]
    if not isinstance(value, list):
        return []
    return [(str(item).strip(), lines.get((KEY, i), lines.get((KEY,), 0))) for i, item in enumerate(value)]


def share_problems(items: Iterable[tuple[str, int]], slugs: Collection[str], display: Path) -> list[Problem]:
    """An error for each (slug, line) in `items` that names no registered organisation (each slug once)."""
    out: list[Problem] = []
    seen: set[str] = set()
    for slug, line in items:
        message = None if slug in seen else unknown_share(slug, slugs)
        seen.add(slug)
        if message:
            out.append(Problem(display, line, message))
    return out


def _items(entry: Entry) -> list[tuple[str, int]]:
    """The entry's share_with with each item's line. A list that named one slug twice lost the
    repeat (a warning), so the lines cannot be matched by position: the file is read again."""
    shown: list[int] = []
    while (KEY, len(shown)) in entry.lines:
        shown.append(entry.lines[(KEY, len(shown))])
    if len(shown) == len(entry.share_with):
        return list(zip(entry.share_with, shown, strict=True))
    if shown:
        try:
            fm = parse(decode(read_bytes(entry.path)))
            return listed(fm.meta.get(KEY), fm.lines)
        except FrontMatterError:
            pass  # changed or gone since it was read: the key's line will do
    return [(slug, entry.lines.get((KEY,), 0)) for slug in entry.share_with]


def entry_problems(entry: Entry, slugs: Collection[str], display: Path) -> list[Problem]:
    """Errors for the organisations an entry's `share_with` names that are not registered."""
    if all(slug in slugs for slug in entry.share_with):
        return []
    return share_problems(_items(entry), slugs, display)


def outside_domain(email: str, domain: str | None) -> bool:
    """Whether `email` is an address outside `domain` (its subdomains are inside); False with no domain."""
    if not domain:
        return False
    host = email.rpartition("@")[2].lower()
    return host != domain and not host.endswith("." + domain)
