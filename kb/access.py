"""Who may read what (TLP 2.0 and status). One place: every door asks here.

The audience rules are data that the search index turns into a filter, so that hits,
snippets and facet counts can only ever come from notes the reader may see.
"""

from __future__ import annotations

from kb.entry import Entry

PUBLIC: list[dict[str, list[str]]] = [{"status": ["published"], "tlp": ["clear"]}]


def is_public(entry: Entry) -> bool:
    return entry.status == "published" and entry.tlp == "clear"
