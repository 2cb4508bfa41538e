"""What a reader may see, shaped for the site, the feeds and the API. No Flask.

The catalogue holds every entry of the store in memory as `Note`s, one per entry *version*:
a note's Markdown is rendered and its risk matrix drawn at most once per version, however
many requests show it. `refresh()` asks SQLite (`PRAGMA data_version`) whether anything
changed since the last look, so a request that changes nothing costs one tiny query.

Every list goes through `kb.access.can_read`, and search through `kb.access.audience`: there
is no method that returns a note without a reader.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import threading
from collections import Counter, OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from operator import attrgetter
from pathlib import Path
from typing import Any

from kb.index.search import FACETS, Index, Results
from kb.model import taxonomy as tx
from kb.model.access import Reader, audience, can_read
from kb.model.changes import describe
from kb.model.entry import Entry, Risk
from kb.model.head import Head, RiskHead, head_from_dict, head_to_dict
from kb.model.serial import entry_from_dict
from kb.site import charts
from kb.store import Store

log = logging.getLogger(__name__)

FACET_KINDS = ("sector", "tag", "driver", "horizon")  # the browse pages and search facets
LOAD_CHUNK = 500  # heads read per query when the catalogue loads
RADAR_LIMIT = 40  # notes on the home page's radar: the highest scores
DETAIL_LIMIT = 300  # whole notes kept in memory (entry, rendered body, chart), least recently used dropped
MEMO_LIMIT = 1000  # cached answers and rendered pages; all dropped when full
EMPTY_SINCE = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)  # `updated` of an empty list


def parse_stamp(text: str) -> dt.datetime:
    stamp = dt.datetime.fromisoformat(text)
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class _Shown:
    """The parts of a stored version that decide who may read it."""

    status: str
    tlp: str
    share_with: tuple[str, ...]


class Detail:
    """The whole of one note version: its entry, rendered once, kept while it is often asked for."""

    def __init__(self, entry: Entry):
        self.entry = entry

    @cached_property
    def body_html(self) -> str:
        return self.entry.body_html

    @cached_property
    def ranked_risks(self) -> list[Risk]:
        return sorted(self.entry.risks, key=lambda r: -r.score)

    @cached_property
    def matrix_svg(self) -> str:
        return charts.risk_matrix(self.ranked_risks, id_prefix="matrix")

    @cached_property
    def measures_by_actor(self) -> list[tuple[str, list[tuple[Risk, Any]]]]:
        groups: dict[str, list[tuple[Risk, Any]]] = {}
        for risk, measure in self.entry.measures:
            groups.setdefault(measure.actor, []).append((risk, measure))
        return [(actor, groups[actor]) for actor in tx.ACTORS if actor in groups]


@dataclass(eq=False)
class Note:
    """One version of an entry, with the dates the store recorded for it.

    Only the head (`kb.model.head`) is always in memory; the whole entry and its rendered body
    are loaded when first asked for and kept among the catalogue's `DETAIL_LIMIT` most recent.
    """

    slug: str
    version: str
    first_seen: dt.datetime
    updated: dt.datetime
    title: str
    status: str
    tlp: str
    share_with: tuple[str, ...]
    catalog: Catalog = field(repr=False)
    stored_head: str = field(default="", repr=False)  # the head's JSON, parsed when first needed
    stamps: tuple[str, str] = field(default=("", ""), repr=False)  # first_seen and updated as stored
    _digest: tuple[tuple[str, str], int] | None = field(default=None, repr=False, init=False)

    @property
    def digest(self) -> int:
        """64 bits that change with the note's version or date (for `Catalog.token`)."""
        if self._digest is None or self._digest[0] != self.stamps:
            text = f"{self.slug}\0{self.version}\0{self.stamps[1]}".encode()
            self._digest = (self.stamps, int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big"))
        return self._digest[1]

    @cached_property
    def order(self) -> tuple[str, str]:
        """Where the note comes in lists by title."""
        return (self.title.lower(), self.slug)

    @cached_property
    def head(self) -> Head:
        return head_from_dict(self.slug, json.loads(self.stored_head))

    @property
    def detail(self) -> Detail:
        return self.catalog.detail(self)

    @property
    def entry(self) -> Entry:
        return self.detail.entry

    @property
    def body_html(self) -> str:
        """The body as sanitised HTML: rendered once for this version."""
        return self.detail.body_html

    @property
    def matrix_svg(self) -> str:
        return self.detail.matrix_svg

    @property
    def ranked_risks(self) -> list[Risk]:
        """Risks by score, highest first (ties in file order)."""
        return self.detail.ranked_risks

    @property
    def measures_by_actor(self) -> list[tuple[str, list[tuple[Risk, Any]]]]:
        """Design-out measures grouped by who must act, in the vocabulary's order."""
        return self.detail.measures_by_actor

    def values(self, kind: str) -> tuple[str, ...]:
        """The note's values for one facet kind (tag, sector, driver, horizon)."""
        h = self.head
        return {"tag": h.tags, "sector": h.sectors, "driver": h.all_drivers, "horizon": (h.horizon,)}[kind]


@dataclass
class Facet:
    kind: str
    value: str
    label: str
    count: int


@dataclass
class SearchPage:
    results: Results
    notes: dict[str, Note] = field(default_factory=dict)  # slug -> note, for every hit shown


def facet_label(kind: str, value: str) -> str:
    vocabulary = {"driver": tx.DRIVERS, "horizon": tx.HORIZON}.get(kind, {})
    return tx.label(vocabulary, value)


def _reader_key(reader: Reader) -> str:
    return json.dumps(audience(reader), sort_keys=True)


class Catalog:
    """Every entry in the store, cached per version; each question is asked for one reader."""

    def __init__(self, store: Store, index: Index, entries_dir: Path, review_days: int = 365):
        self.store = store
        self.index = index
        self.entries_dir = entries_dir
        self.review_days = review_days
        self._lock = threading.RLock()
        self._notes: dict[str, Note] = {}
        self._seen: tuple[int, int] | None = None
        self.generation = 0
        self._memo: dict[Any, Any] = {}  # answers that hold until the next change
        self._details: OrderedDict[tuple[str, str], Detail] = OrderedDict()  # least recently used first

    # -- keeping up with the store --------------------------------------------------------

    def refresh(self) -> None:
        """Reload the heads of notes whose version changed since the last call (cheap when none did)."""
        with self._lock:
            conn = self.store.db.conn
            marker = (conn.execute("PRAGMA data_version").fetchone()[0], conn.total_changes)
            if marker == self._seen:
                return
            fresh: dict[str, Note] = {}
            changed = []
            for slug, version, first_seen, updated in conn.execute(
                "SELECT slug, version, first_seen, updated FROM entries"
            ):
                old = self._notes.get(slug)
                if old is not None and old.version == version:
                    if old.stamps != (first_seen, updated):
                        old.stamps = (first_seen, updated)
                        old.first_seen, old.updated = parse_stamp(first_seen), parse_stamp(updated)
                    fresh[slug] = old
                else:
                    changed.append(slug)
            # the changed notes' heads, a few hundred per query (all of them on the first load)
            for start in range(0, len(changed), LOAD_CHUNK):
                chunk = changed[start : start + LOAD_CHUNK]
                for row in conn.execute(
                    "SELECT slug, version, first_seen, updated, title, status, tlp, share_with, head FROM entries "
                    f"WHERE slug IN ({','.join('?' * len(chunk))})",
                    chunk,
                ):
                    fresh[row[0]] = self._note_from_row(row)
            self._notes = fresh
            self._seen = marker
            self.generation += 1
            self._memo.clear()

    def _note_from_row(self, row: tuple[str, ...]) -> Note:
        slug, version, first_seen, updated, title, status, tlp, share_with, head = row
        note = Note(
            slug,
            version,
            parse_stamp(first_seen),
            parse_stamp(updated),
            title,
            status,
            tlp,
            tuple(json.loads(share_with)),
            self,
            head,
        )
        note.stamps = (first_seen, updated)
        return note

    def detail(self, note: Note) -> Detail:
        """The whole of `note`'s version: from memory when recently used, else from the store."""
        key = (note.slug, note.version)
        with self._lock:
            found = self._details.get(key)
            if found is not None:
                self._details.move_to_end(key)
                return found
        found = Detail(self._load(note))
        with self._lock:
            self._details[key] = found
            while len(self._details) > DETAIL_LIMIT:
                self._details.popitem(last=False)
        return found

    def note_of(self, entry: Entry, version: str, first_seen: dt.datetime, updated: dt.datetime) -> Note:
        """A note for a version read elsewhere (an older one, from the history), its detail kept."""
        note = Note(
            entry.slug,
            version,
            first_seen,
            updated,
            entry.title,
            entry.status,
            entry.tlp,
            entry.share_with,
            self,
            json.dumps(head_to_dict(entry)),
        )
        note.stamps = (first_seen.isoformat(), updated.isoformat())
        with self._lock:
            self._details.setdefault((entry.slug, version), Detail(entry))
        return note

    def _load(self, note: Note) -> Entry:
        data, path, digest = self._stored(note, "data")
        return entry_from_dict(json.loads(data), self.entries_dir / path, digest)

    def body(self, note: Note) -> str:
        """`note`'s body (Markdown): from its kept detail, else only the body is read from the store
        (a search's snippets want a dozen bodies; parsing whole notes took three times as long)."""
        with self._lock:
            found = self._details.get((note.slug, note.version))
        if found is not None:
            return found.entry.body
        return self._stored(note, "json_extract(data, '$.body')")[0] or ""

    def _stored(self, note: Note, column: str) -> tuple[Any, str, str]:
        """`column` (an expression of the stored `data`) of `note`'s own version, its file's path
        and, when that version is the current one, its content hash."""
        conn = self.store.db.conn
        row = conn.execute(
            f"SELECT version, {column}, path, content_hash FROM entries WHERE slug = ?", [note.slug]
        ).fetchone()
        if row is None:
            raise LookupError(f"{note.slug} is no longer in the store")
        version, value, path, digest = row
        if version != note.version:  # changed since this note was read: its own version, from the history
            older = conn.execute(
                f"SELECT {column} FROM entry_versions WHERE slug = ? AND version = ?", [note.slug, note.version]
            ).fetchone()
            value = older[0] if older else value
        return value, path, digest if version == note.version else ""

    def memo(self, key: Any, make: Any) -> Any:
        """`make()`'s answer, kept until the store next changes. Computed outside the lock, so
        one slow page does not hold up other threads; kept only if nothing changed meanwhile."""
        with self._lock:
            if key in self._memo:
                return self._memo[key]
            generation = self.generation
        value = make()
        with self._lock:
            if self.generation == generation:
                if len(self._memo) >= MEMO_LIMIT:  # e.g. pages asked for under many Host names
                    self._memo.clear()
                self._memo.setdefault(key, value)
        return value

    # -- what one reader may see ----------------------------------------------------------

    def notes(self, reader: Reader) -> list[Note]:
        """Every note the reader may read, by title."""
        self.refresh()
        return self.memo(
            ("notes", _reader_key(reader)),
            lambda: sorted((n for n in self._notes.values() if can_read(reader, n)), key=attrgetter("order")),
        )

    def note(self, reader: Reader, slug: str) -> Note | None:
        """The note, or None when it does not exist *or* the reader may not read it."""
        self.refresh()
        note = self._notes.get(slug)
        return note if note is not None and can_read(reader, note) else None

    def related(self, reader: Reader, note: Note) -> list[Note]:
        """Related notes the reader may read: a restricted note is never linked, not even by title."""
        found = (self.note(reader, slug) for slug in note.entry.related)
        return [n for n in found if n is not None]

    def token(self, reader: Reader) -> str:
        """A fingerprint of everything the reader may see: it changes when any of it does."""

        def make() -> str:  # the sum of each readable note's digest: no sorting, and the same in every worker
            readable = [n.digest for n in self._notes.values() if can_read(reader, n)]
            return f"{len(readable):x}-{sum(readable) % 2**64:016x}"

        self.refresh()
        return self.memo(("token", _reader_key(reader)), make)

    def last_modified(self, reader: Reader, notes: Iterable[Note] | None = None) -> dt.datetime:
        """The newest `updated` among the notes (default: all the reader may see)."""
        return max((n.updated for n in (self.notes(reader) if notes is None else notes)), default=EMPTY_SINCE)

    def recent(self, reader: Reader, limit: int | None = None) -> list[Note]:
        """Newest changes first."""
        ordered = sorted(self.notes(reader), key=lambda n: (n.updated, n.slug), reverse=True)
        return ordered[:limit] if limit else ordered

    def top_risks(self, reader: Reader, limit: int = 8) -> list[tuple[Note, RiskHead]]:
        pairs = [(n, r) for n in self.notes(reader) for r in n.head.risks]
        pairs.sort(key=lambda p: (-p[1].score, -p[1].likelihood, p[0].order[0], p[1].title))
        return pairs[:limit]

    def facets(self, reader: Reader, kind: str) -> list[Facet]:
        """Every value of a facet among the reader's notes, with counts, by label."""
        counts = Counter(v for n in self.notes(reader) for v in n.values(kind))
        order = list(tx.HORIZON) if kind == "horizon" else list(tx.DRIVERS) if kind == "driver" else None
        values = (
            [v for v in order if v in counts] if order else sorted(counts, key=lambda v: facet_label(kind, v).lower())
        )
        return [Facet(kind, v, facet_label(kind, v), counts[v]) for v in values]

    def with_value(self, reader: Reader, kind: str, value: str) -> list[Note]:
        """The reader's notes with one facet value, highest score first."""
        found = [n for n in self.notes(reader) if value in n.values(kind)]
        return sorted(found, key=lambda n: (-n.head.score, n.order[0]))

    def radar(self, reader: Reader) -> tuple[str, list[charts.RadarPoint]]:
        """The horizon radar of the reader's notes, at most `RADAR_LIMIT` of them (the highest
        scores): SVG, and the points for its table. More dots would not be readable, and placing
        their labels costs time that grows with the square of their number."""

        def make() -> tuple[str, list[charts.RadarPoint]]:
            shown = sorted(self.notes(reader), key=lambda n: (-n.head.score, n.order))[:RADAR_LIMIT]
            points = charts.radar_points([n.head for n in shown])
            return charts.radar(points, id_prefix="radar"), points

        self.refresh()
        return self.memo(("radar", _reader_key(reader)), make)

    # -- what changed, for subscribers ----------------------------------------------------

    def changes(self, reader: Reader, note: Note) -> list[str]:
        """What changed in this version, compared with the last version the reader could read.

        A version the reader could not read never shows through: the comparison skips it, and
        a note that was never readable before is simply 'New note'.
        """

        def make() -> list[str]:
            versions = self._versions(note.slug)
            position = next((i for i, v in enumerate(versions) if v["version"] == note.version), None)
            if position is None:
                return ["New note"]
            older = versions[position + 1 :]
            readable = [v for v in older if can_read(reader, self._shown(v))]
            if not readable:
                return ["New note"]
            if older[0] is readable[0]:
                stored = json.loads(versions[position]["changes"] or "[]")
                if stored:
                    return stored
            return describe(json.loads(readable[0]["data"]), json.loads(versions[position]["data"])) or ["Text revised"]

        return self.memo(("changes", note.slug, note.version, _reader_key(reader)), make)

    def _versions(self, slug: str) -> list[dict[str, Any]]:
        """The note's versions, newest first (insertion order breaks ties within one second)."""
        rows = self.store.db.execute(
            "SELECT version, seen_at, changes, data FROM entry_versions WHERE slug = ? "
            "ORDER BY seen_at DESC, rowid DESC",
            [slug],
        ).fetchall()
        return [dict(zip(("version", "seen_at", "changes", "data"), row, strict=False)) for row in rows]

    @staticmethod
    def _shown(version_row: dict[str, Any]) -> _Shown:
        data = json.loads(version_row["data"])
        return _Shown(data.get("status", ""), data.get("tlp", ""), tuple(data.get("share_with", ())))

    # -- search ---------------------------------------------------------------------------

    def check_query(self, text: str) -> None:
        """Raise `QueryError` (a sentence saying what to fix) when the query cannot be understood."""
        self.index.parse(text)

    def search(
        self, reader: Reader, text: str, *, page: int = 1, per_page: int = 20, refine: dict[str, str] | None = None
    ) -> SearchPage:
        """Full-text search over what the reader may read. Raises `QueryError` for bad syntax.

        The index filter (`audience`) keeps hits, snippets and facet counts to readable notes;
        each hit is checked again with `can_read` in case the index is behind the store.
        """
        self.refresh()
        results = self.index.search(
            text,
            audience=audience(reader),
            page=page,
            per_page=per_page,
            facets=FACETS,
            refine={k: v for k, v in (refine or {}).items() if k in FACETS and v},
            snippet_text=lambda hit: self._body_for(reader, hit.slug),
        )
        page_ = SearchPage(results)
        kept = []
        for hit in results.hits:
            note = self.note(reader, hit.slug)
            if note is None:
                log.warning("search index is behind the store: dropped a hit for %s", hit.slug)
                continue
            page_.notes[hit.slug] = note
            kept.append(hit)
        results.hits = kept
        return page_

    def _body_for(self, reader: Reader, slug: str) -> str:
        note = self.note(reader, slug)
        return self.body(note) if note else ""
