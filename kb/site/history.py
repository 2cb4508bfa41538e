"""Change history for readers: the versions of a note they may read, what changed in each, two
versions side by side, and the latest changes across every note they may read. No Flask.

Versions come from `Store.versions` (newest first). A version the reader may not read (a draft,
or a TLP they are not cleared for) is left out entirely, as if it had never been; what changed in
each version the reader may read is the catalogue's `changes`, which compares it with the last
version *that reader* could read, exactly as the feeds do. So nothing of a restricted version
shows through: not its words, not its date, not the fact that it existed.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from kb.model.access import Reader, can_read
from kb.model.changes import describe
from kb.model.entry import Measure, Risk
from kb.model.serial import entry_from_dict, entry_to_dict
from kb.site.catalog import Catalog, Note, parse_stamp

log = logging.getLogger(__name__)

CHANGES_LIMIT = 50  # versions on the latest-changes page
RISK_FIELDS = ("title", "likelihood", "impact", "score", "trend")  # the risks table's columns
MEASURE_FIELDS = ("actor", "mechanism", "status")  # a measure is matched by its risk and its words


@dataclass(eq=False)
class Version:
    """One version of a note that the reader may read, with what changed in it for that reader."""

    note: Note  # the version as a note: its entry, its version id, `updated` = when it was first seen
    number: int  # 1 for the oldest version the reader may read
    changes: list[str]

    @property
    def id(self) -> str:
        return self.note.version

    @property
    def seen_at(self) -> Any:
        return self.note.updated


def history(cat: Catalog, reader: Reader, slug: str) -> list[Version] | None:
    """The versions of the note the reader may read, newest first (the note as it is now first).

    None when the reader may not read the note as it is now: then it has no history for them either.
    """
    note = cat.note(reader, slug)
    if note is None:
        return None
    return cat.memo(("history", slug, note.version, reader), lambda: _versions(cat, reader, note))


def _versions(cat: Catalog, reader: Reader, note: Note) -> list[Version]:
    rows = cat.store.versions(note.slug)
    position = next((i for i, row in enumerate(rows) if row["version"] == note.version), None)
    if position is None:  # a version the store never recorded: the note as it is now is all there is
        return [Version(note, 1, cat.changes(reader, note))]
    readable = [note]
    for row in rows[position + 1 :]:
        older = _as_note(cat, row, note)
        if older is not None and can_read(reader, older):
            readable.append(older)
    count = len(readable)
    return [Version(n, count - i, cat.changes(reader, n)) for i, n in enumerate(readable)]


def _as_note(cat: Catalog, row: dict[str, Any], current: Note) -> Note | None:
    """A stored version as a `Note` (None, logged, when its data cannot be read)."""
    try:
        entry = entry_from_dict(json.loads(row["data"]), current.entry.path)
        return cat.note_of(entry, row["version"], current.first_seen, parse_stamp(row["seen_at"]))
    except (KeyError, TypeError, ValueError) as exc:
        log.warning("version %s of %s cannot be read (%s); left out of its history", row["version"], current.slug, exc)
        return None


def find(versions: list[Version], version_id: str) -> Version | None:
    """The version with this id among those the reader may read (None: unknown *or* unreadable)."""
    return next((v for v in versions if v.id == version_id), None)


def latest_changes(cat: Catalog, reader: Reader, limit: int = CHANGES_LIMIT) -> list[tuple[Note, Version]]:
    """The newest versions across every note the reader may read, newest first: (the note now, the version).

    Only the `limit` most recently updated notes are read: every version of any other note is
    older than each of their current versions, so it could not be among the newest `limit`.
    """

    def make() -> list[tuple[Note, Version]]:
        found = [(note, v) for note in cat.recent(reader, limit) for v in history(cat, reader, note.slug) or []]
        found.sort(key=lambda pair: (pair[1].seen_at, pair[0].slug), reverse=True)  # stable: ties keep store order
        return found[:limit]

    cat.refresh()
    return cat.memo(("latest-changes", reader, limit), make)


# -- two versions side by side ------------------------------------------------------------------


class _Pair:
    """Something in two versions, either side None when it is only in the other."""

    old: Any
    new: Any
    changed: frozenset[str]

    @property
    def state(self) -> str:
        """added, removed, changed or same."""
        if self.old is None:
            return "added"
        if self.new is None:
            return "removed"
        return "changed" if self.changed else "same"


@dataclass(eq=False)
class RiskPair(_Pair):
    """One risk in both versions (either side None when the risk is only in the other)."""

    old: Risk | None
    new: Risk | None
    changed: frozenset[str] = frozenset()  # RISK_FIELDS whose values differ

    @property
    def title(self) -> str:
        return (self.new or self.old).title  # type: ignore[union-attr]

    @property
    def id(self) -> str:
        return (self.new or self.old).id  # type: ignore[union-attr]


@dataclass(eq=False)
class MeasurePair(_Pair):
    """One measure in both versions: the same words against the same risk."""

    risk: str  # the risk's title
    old: Measure | None
    new: Measure | None
    changed: frozenset[str] = frozenset()  # MEASURE_FIELDS whose values differ


@dataclass(eq=False)
class Comparison:
    old: Version
    new: Version
    changes: list[str]  # in words, from the old version to the new
    risks: list[RiskPair] = field(default_factory=list)
    measures: list[MeasurePair] = field(default_factory=list)

    @property
    def same(self) -> bool:
        return self.old.id == self.new.id


def compare(old: Version, new: Version) -> Comparison:
    """The two versions' risks and measures, row by row, with what differs marked.

    Risks are matched by id, in the new version's order (highest score first), then those only in
    the old one; measures by their words within a risk, in the same order.
    """
    old_data, new_data = entry_to_dict(old.note.entry), entry_to_dict(new.note.entry)
    changes = [] if old.id == new.id else describe(old_data, new_data)
    result = Comparison(old, new, changes)
    olds = {r.id: r for r in old.note.ranked_risks}
    pairs = [RiskPair(olds.pop(r.id, None), r) for r in new.note.ranked_risks]
    pairs += [RiskPair(r, None) for r in olds.values()]
    for pair in pairs:
        if pair.old is not None and pair.new is not None:
            pair.changed = _differ(pair.old, pair.new, RISK_FIELDS)
        result.risks.append(pair)
        result.measures += _measure_pairs(pair)
    return result


def _measure_pairs(pair: RiskPair) -> list[MeasurePair]:
    olds = {m.measure: m for m in (pair.old.measures if pair.old else ())}
    found = []
    for m in pair.new.measures if pair.new else ():
        before = olds.pop(m.measure, None)
        found.append(MeasurePair(pair.title, before, m, _differ(before, m, MEASURE_FIELDS) if before else frozenset()))
    found += [MeasurePair(pair.title, m, None) for m in olds.values()]
    return found


def _differ(old: Any, new: Any, names: tuple[str, ...]) -> frozenset[str]:
    return frozenset(n for n in names if getattr(old, n) != getattr(new, n))
