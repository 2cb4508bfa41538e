"""The Entry model: one technology, its crime risks and the measures that design them out.

`read_entry` turns a file into an `Entry` and a list of every problem found, each with
the file's line number. Pure Python: no database, no web. Every value is checked where it is
read, ranges included: text of bounded length, `reviewed:` and
`checked:` from 1990 to a year from today, source dates from 1800 to a year from today.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from kb import clock
from kb.errors import Problem
from kb.model import publishing
from kb.model import taxonomy as tx
from kb.model.frontmatter import FrontMatter, FrontMatterError, decode, parse, read_bytes
from kb.model.sanitize import render_markdown, safe_url

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
SHORT_TEXT, LONG_TEXT, ITEM_TEXT = 300, 5000, 100  # characters: titles; summaries and prose; list items
EARLIEST_REVIEW = dt.date(1990, 1, 1)  # `reviewed:` and a source's `checked:`
EARLIEST_SOURCE = dt.date(1800, 1, 1)  # a source's `date:`
TOP_FIELDS = [
    "title",
    "summary",
    "status",
    "tlp",
    "share_with",
    "category",
    "horizon",
    "maturity",
    "reviewed",
    "tags",
    "sectors",
    "drivers",
    "keywords",
    "risks",
    "sources",
    "related",
]
RISK_FIELDS = [
    "id",
    "title",
    "description",
    "role",
    "crime_types",
    "drivers",
    "likelihood",
    "impact",
    "confidence",
    "trend",
    "measures",
]
MEASURE_FIELDS = ["actor", "measure", "mechanism", "status", "reference"]
SOURCE_FIELDS = ["title", "publisher", "url", "date", "checked", "unchecked"]


@dataclass(frozen=True)
class Measure:
    actor: str
    measure: str
    status: str
    mechanism: str | None = None
    reference: str | None = None


@dataclass(frozen=True)
class Risk:
    id: str
    title: str
    role: str
    crime_types: tuple[str, ...]
    likelihood: int
    impact: int
    trend: str
    confidence: str = "medium"
    description: str = ""
    drivers: tuple[str, ...] = ()
    measures: tuple[Measure, ...] = ()

    @property
    def score(self) -> int:
        return self.likelihood * self.impact


@dataclass(frozen=True)
class Source:
    title: str
    publisher: str | None = None
    url: str | None = None
    date: str | None = None
    checked: str | None = None  # the day the source was read against its published text
    unchecked: str | None = None  # why it could not be checked (shown to staff)


@dataclass(frozen=True)
class Entry:
    slug: str
    path: Path
    title: str
    summary: str
    status: str
    tlp: str
    category: str
    horizon: str
    maturity: str
    reviewed: dt.date
    body: str = ""
    share_with: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    sectors: tuple[str, ...] = ()
    drivers: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    risks: tuple[Risk, ...] = ()
    sources: tuple[Source, ...] = ()
    related: tuple[str, ...] = ()
    content_hash: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)
    lines: dict[tuple, int] = field(default_factory=dict, compare=False, repr=False)

    @property
    def score(self) -> int:
        """The entry's score is its highest risk score (0 with no risks)."""
        return max((r.score for r in self.risks), default=0)

    @property
    def measures(self) -> list[tuple[Risk, Measure]]:
        return [(r, m) for r in self.risks for m in r.measures]

    @property
    def all_drivers(self) -> tuple[str, ...]:
        """Entry-level drivers plus those named on its risks, in vocabulary order."""
        named = set(self.drivers) | {d for r in self.risks for d in r.drivers}
        return tuple(d for d in tx.DRIVERS if d in named)

    @cached_property
    def body_html(self) -> str:
        return render_markdown(self.body)

    def review_due(self, review_days: int) -> dt.date:
        return self.reviewed + dt.timedelta(days=review_days)

    def is_overdue(self, review_days: int, today: dt.date | None = None) -> bool:
        return (today or clock.today()) > self.review_due(review_days)


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def latest_date() -> dt.date:
    """The latest date an entry may give: a year from today (a later one is a typo)."""
    return clock.today() + dt.timedelta(days=365)


def _show(value: Any) -> str:
    """A value as a message shows it: its repr, cut short (a value may be megabytes long)."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _not_text(key: str, value: Any) -> str | None:
    """Why `value` cannot be read as text, or None."""
    if isinstance(value, bool):
        return f"{key} must be text, but YAML reads {str(value).lower()} (and yes, no, on, off) as true or false; put it in quotes"
    if isinstance(value, (str, int, float, dt.date)):
        return None
    kind = {bytes: "!!binary value", dict: "mapping", set: "!!set"}.get(type(value), type(value).__name__)
    return f"{key} must be text, got a {kind}"


class _Checker:
    """Reads typed values out of the front matter, collecting a problem for each bad one."""

    def __init__(self, path: Path, fm: FrontMatter):
        self.path = path
        self.fm = fm
        self.problems: list[Problem] = []

    def error(self, where: tuple[str | int, ...], message: str) -> None:
        self.problems.append(Problem(self.path, self.fm.line(*where), message))

    def warn(self, where: tuple[str | int, ...], message: str) -> None:
        self.problems.append(Problem(self.path, self.fm.line(*where), message, "warning"))

    def missing(self, data: dict, key: str, where: tuple) -> bool:
        if data.get(key) in (None, "", []):
            self.error(where, f"{key} is required")
            return True
        return False

    def text(self, data: dict, key: str, where: tuple, required: bool = True, limit: int = SHORT_TEXT) -> str:
        value = data.get(key)
        if value is None or value == "":
            if required:
                self.error(where, f"{key} is required")
            return ""
        problem = _not_text(key, value)
        text = "" if problem else str(value).strip()
        if len(text) > limit:
            problem = f"{key} is {len(text)} characters long; keep it to {limit}"
        if problem:
            self.error(where + (key,), problem)
            return ""
        return text

    def choice(self, data: dict, key: str, vocabulary: dict, where: tuple, default: str | None = None) -> str:
        value = data.get(key)
        if value is None or value == "":
            if default is None:
                self.error(where, f"{key} is required (one of: {', '.join(vocabulary)})")
                return ""
            return default
        if not isinstance(value, str) or value not in vocabulary:
            self.error(where + (key,), f"{key} must be one of: {', '.join(vocabulary)}; got {_show(value)}")
            return ""
        return value

    def strings(
        self, data: dict, key: str, where: tuple, *, slugs: bool = False, vocabulary: dict | None = None
    ) -> tuple[str, ...]:
        value = data.get(key)
        if value is None:
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            self.error(where + (key,), f"{key} must be a list, e.g. {key}: [a, b]")
            return ()
        out = []
        for index, item in enumerate(value):
            at = where + (key, index)
            if item is None or _not_text(key, item):
                self.error(at, f"{key} items must be plain values, got {_show(item)}")
                continue
            item = str(item).strip()
            if len(item) > ITEM_TEXT:
                self.error(at, f"{key} items must be at most {ITEM_TEXT} characters; got one of {len(item)}")
            elif vocabulary is not None and item not in vocabulary:
                self.error(at, f"{key} must be from: {', '.join(vocabulary)}; got {_show(item)}")
            elif slugs and not SLUG_RE.match(item):
                self.error(at, f"{key} items must be lower-case slugs like 'crime-type'; got {_show(item)}")
            elif item in out:
                self.warn(at, f"{key} lists {_show(item)} twice")
            else:
                out.append(item)
        return tuple(out)

    def score(self, data: dict, key: str, where: tuple) -> int:
        value = data.get(key)
        if value is None:
            self.error(where, f"{key} is required (a whole number 1-5)")
            return 0
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
            self.error(where + (key,), f"{key} must be 1-5, got {_show(value)}")
            return 0
        return value

    def date(self, data: dict, key: str, where: tuple) -> dt.date | None:
        value = data.get(key)
        if value is None:
            self.error(where, f"{key} is required (a date, YYYY-MM-DD)")
            return None
        if isinstance(value, dt.datetime):
            value = value.date()
        if not isinstance(value, dt.date):
            self.error(where + (key,), f"{key} must be a date YYYY-MM-DD, got {_show(value)}")
            return None
        return value if self.in_range(key, value, EARLIEST_REVIEW, where) else None

    def in_range(self, key: str, value: dt.date, earliest: dt.date, where: tuple) -> bool:
        latest = latest_date()
        if earliest <= value <= latest:
            return True
        self.error(where + (key,), f"{key} must be from {earliest} to {latest} (a year from today), got {value}")
        return False

    def unknown(self, data: dict, known: list[str], where: tuple, what: str) -> None:
        for key in data:
            if key not in known:
                self.warn(where + (key,), f"unknown {what} field {_show(key)} is kept but not used")

    def mapping_list(self, data: dict, key: str, where: tuple) -> list[tuple[int, dict]]:
        value = data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.error(where + (key,), f"{key} must be a list of items starting with '- '")
            return []
        out = []
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                self.error(where + (key, index), f"each item in {key} must be a mapping of 'field: value' lines")
            else:
                out.append((index, item))
        return out


def _measures(c: _Checker, risk: dict, where: tuple) -> tuple[Measure, ...]:
    out = []
    for index, m in c.mapping_list(risk, "measures", where):
        at = where + ("measures", index)
        c.unknown(m, MEASURE_FIELDS, at, "measure")
        out.append(
            Measure(
                actor=c.choice(m, "actor", tx.ACTORS, at),
                measure=c.text(m, "measure", at, limit=LONG_TEXT),
                status=c.choice(m, "status", tx.MEASURE_STATUS, at),
                mechanism=c.choice(m, "mechanism", tx.MECHANISM, at, default="") or None,
                reference=c.text(m, "reference", at, required=False, limit=LONG_TEXT) or None,
            )
        )
    return tuple(out)


def _risks(c: _Checker, meta: dict) -> tuple[Risk, ...]:
    out: list[Risk] = []
    seen: dict[str, int] = {}
    for index, r in c.mapping_list(meta, "risks", ()):
        at = ("risks", index)
        c.unknown(r, RISK_FIELDS, at, "risk")
        rid = c.text(r, "id", at)
        if rid and not SLUG_RE.match(rid):
            c.error(at + ("id",), f"id must be a lower-case slug like 'prison-contraband'; got {_show(rid)}")
        elif rid in seen:
            c.error(
                at + ("id",), f"duplicate risk id {_show(rid)} (first on line {seen[rid]}); give each risk its own id"
            )
        elif rid:
            seen[rid] = c.fm.line(*at, "id")
        out.append(
            Risk(
                id=rid,
                title=c.text(r, "title", at),
                description=c.text(r, "description", at, required=False, limit=LONG_TEXT),
                role=c.choice(r, "role", tx.ROLE, at),
                crime_types=c.strings(r, "crime_types", at, slugs=True) or (c.missing(r, "crime_types", at) and ()),
                drivers=c.strings(r, "drivers", at, vocabulary=tx.DRIVERS),
                likelihood=c.score(r, "likelihood", at),
                impact=c.score(r, "impact", at),
                confidence=c.choice(r, "confidence", tx.CONFIDENCE, at, default="medium"),
                trend=c.choice(r, "trend", tx.TREND, at),
                measures=_measures(c, r, at),
            )
        )
    return tuple(out)


def _sources(c: _Checker, meta: dict) -> tuple[Source, ...]:
    out = []
    for index, s in c.mapping_list(meta, "sources", ()):
        at = ("sources", index)
        c.unknown(s, SOURCE_FIELDS, at, "source")
        url = c.text(s, "url", at, required=False, limit=LONG_TEXT) or None
        if url and not safe_url(url):
            c.error(at + ("url",), f"url must be a full http:// or https:// address, got {_show(url)}")
            url = None
        out.append(
            Source(
                title=c.text(s, "title", at),
                publisher=c.text(s, "publisher", at, required=False) or None,
                url=url,
                date=_source_date(c, s, at),
                checked=_checked_date(c, s, at),
                unchecked=c.text(s, "unchecked", at, required=False, limit=LONG_TEXT) or None,
            )
        )
    return tuple(out)


def _source_date(c: _Checker, s: dict, at: tuple) -> str | None:
    """A source's `date:` (when it was published) as YYYY-MM-DD, YYYY-MM or YYYY, from 1800 to a year from today."""
    date = s.get("date")
    if date is None:
        return None
    if isinstance(date, dt.date):
        day = date.date() if isinstance(date, dt.datetime) else date
        return day.isoformat() if c.in_range("date", day, EARLIEST_SOURCE, at) else None
    text = str(date) if isinstance(date, (int, str)) and not isinstance(date, bool) else ""
    if not re.fullmatch(r"\d{4}(-(0[1-9]|1[0-2]))?", text):
        c.error(at + ("date",), f"date must be YYYY-MM-DD, YYYY-MM or YYYY, got {_show(date)}")
        return None
    if not EARLIEST_SOURCE.year <= int(text[:4]) <= latest_date().year:
        c.error(at + ("date",), f"date must be from {EARLIEST_SOURCE.year} to {latest_date().year}, got {text}")
        return None
    return text


def _checked_date(c: _Checker, s: dict, at: tuple) -> str | None:
    """`checked:` is the day a source was read against its published text (YYYY-MM-DD)."""
    value = s.get("checked")
    if value is None:
        return None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value.isoformat() if c.in_range("checked", value, EARLIEST_REVIEW, at) else None
    c.error(at + ("checked",), f"checked must be a date, YYYY-MM-DD, got {_show(value)}")
    return None


def build_entry(
    path: Path, fm: FrontMatter, digest: str = "", display: Path | None = None
) -> tuple[Entry | None, list[Problem]]:
    c = _Checker(display or path, fm)
    meta = fm.meta
    slug = path.stem
    if not SLUG_RE.match(slug):
        c.problems.append(
            Problem(
                c.path, 1, f"file name must be a slug (lower-case letters, digits, hyphens), e.g. {slugify(slug)}.md"
            )
        )
    extra = {k: v for k, v in meta.items() if k not in TOP_FIELDS}
    c.unknown(meta, TOP_FIELDS, (), "front matter")
    status = c.choice(meta, "status", tx.STATUS, ())
    tlp = c.choice(meta, "tlp", tx.TLP, ())
    share_with = c.strings(meta, "share_with", (), slugs=True)
    # AMBER with nobody in share_with is staff only: where new drafts start. Publishing needs more
    # (kb.model.publishing): no template text, a risk with a measure, a source, a TLP chosen.
    entry_fields: dict[str, Any] = dict(
        title=c.text(meta, "title", ()),
        summary=c.text(meta, "summary", (), limit=LONG_TEXT),
        category=c.choice(meta, "category", tx.CATEGORY, ()),
        horizon=c.choice(meta, "horizon", tx.HORIZON, ()),
        maturity=c.choice(meta, "maturity", tx.MATURITY, ()),
        reviewed=c.date(meta, "reviewed", ()),
        tags=c.strings(meta, "tags", (), slugs=True),
        sectors=c.strings(meta, "sectors", (), slugs=True),
        drivers=c.strings(meta, "drivers", (), vocabulary=tx.DRIVERS),
        keywords=c.strings(meta, "keywords", ()),
        risks=_risks(c, meta),
        sources=_sources(c, meta),
        related=c.strings(meta, "related", (), slugs=True),
    )
    if slug in entry_fields["related"]:
        c.error(("related",), "related lists the entry itself; remove it")
    c.problems.extend(publishing.gate(fm, c.path))
    if any(p.severity == "error" for p in c.problems):
        return None, c.problems
    entry = Entry(
        slug=slug,
        path=path,
        status=status,
        tlp=tlp,
        share_with=share_with,
        body=fm.body,
        content_hash=digest,
        extra=extra,
        lines=fm.lines,
        **entry_fields,
    )
    return entry, c.problems


def read_entry(
    path: Path, data: bytes | None = None, display: Path | None = None
) -> tuple[Entry | None, list[Problem]]:
    """Parse and validate one entry file. Returns the entry (None on any error) and all problems.

    `display` is the path used in messages (e.g. relative to the knowledge base).
    """
    shown = display or path
    try:
        raw = read_bytes(path) if data is None else data
        fm = parse(decode(raw))
    except FrontMatterError as exc:
        return None, [Problem(shown, exc.line, exc.message)]
    return build_entry(path, fm, content_hash(raw), display=shown)


def check_related(entry: Entry, known: set[str], display: Path) -> list[Problem]:
    """Problems for `related` slugs that name no entry in the knowledge base."""
    return [
        Problem(
            display,
            entry.lines.get(("related", i), 0),
            f"related entry {slug!r} does not exist (no entries/{slug}.md); fix the slug or remove it",
        )
        for i, slug in enumerate(entry.related)
        if slug not in known
    ]


def slugify(text: str) -> str:
    """A file-name slug for a title: 'Smart locks & doorbells' -> 'smart-locks-doorbells'."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:80].strip("-") or "entry"
