"""The Entry model: one technology, its crime risks and the measures that design them out.

`read_entry` turns a file into an `Entry` and a list of every problem found, each with
the file's line number. Pure Python: no database, no web.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from kb.errors import Problem
from kb.model import taxonomy as tx
from kb.model.frontmatter import FrontMatter, FrontMatterError, parse
from kb.model.sanitize import render_markdown, safe_url

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
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
        return (today or dt.date.today()) > self.review_due(review_days)


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


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

    def text(self, data: dict, key: str, where: tuple, required: bool = True) -> str:
        value = data.get(key)
        if value is None or value == "":
            if required:
                self.error(where, f"{key} is required")
            return ""
        if isinstance(value, (dict, list)):
            self.error(where + (key,), f"{key} must be text, got a {type(value).__name__}")
            return ""
        return str(value).strip()

    def choice(self, data: dict, key: str, vocabulary: dict, where: tuple, default: str | None = None) -> str:
        value = data.get(key)
        if value is None or value == "":
            if default is None:
                self.error(where, f"{key} is required (one of: {', '.join(vocabulary)})")
                return ""
            return default
        if not isinstance(value, str) or value not in vocabulary:
            self.error(where + (key,), f"{key} must be one of: {', '.join(vocabulary)}; got {value!r}")
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
            if isinstance(item, (dict, list)) or item is None:
                self.error(at, f"{key} items must be plain values, got {item!r}")
                continue
            item = str(item).strip()
            if vocabulary is not None and item not in vocabulary:
                self.error(at, f"{key} must be from: {', '.join(vocabulary)}; got {item!r}")
            elif slugs and not SLUG_RE.match(item):
                self.error(at, f"{key} items must be lower-case slugs like 'crime-type'; got {item!r}")
            elif item in out:
                self.warn(at, f"{key} lists {item!r} twice")
            else:
                out.append(item)
        return tuple(out)

    def score(self, data: dict, key: str, where: tuple) -> int:
        value = data.get(key)
        if value is None:
            self.error(where, f"{key} is required (a whole number 1-5)")
            return 0
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
            self.error(
                where + (key,),
                f"{key} must be 1-5, got {value!r}"
                if not isinstance(value, str)
                else f"{key} must be 1-5, got '{value}'",
            )
            return 0
        return value

    def date(self, data: dict, key: str, where: tuple) -> dt.date | None:
        value = data.get(key)
        if value is None:
            self.error(where, f"{key} is required (a date, YYYY-MM-DD)")
            return None
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        self.error(where + (key,), f"{key} must be a date YYYY-MM-DD, got {value!r}")
        return None

    def unknown(self, data: dict, known: list[str], where: tuple, what: str) -> None:
        for key in data:
            if key not in known:
                self.warn(where + (key,), f"unknown {what} field {key!r} is kept but not used")

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
                measure=c.text(m, "measure", at),
                status=c.choice(m, "status", tx.MEASURE_STATUS, at),
                mechanism=c.choice(m, "mechanism", tx.MECHANISM, at, default="") or None,
                reference=c.text(m, "reference", at, required=False) or None,
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
            c.error(at + ("id",), f"id must be a lower-case slug like 'prison-contraband'; got {rid!r}")
        elif rid in seen:
            c.error(at + ("id",), f"duplicate risk id {rid!r} (first on line {seen[rid]}); give each risk its own id")
        elif rid:
            seen[rid] = c.fm.line(*at, "id")
        out.append(
            Risk(
                id=rid,
                title=c.text(r, "title", at),
                description=c.text(r, "description", at, required=False),
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
        url = c.text(s, "url", at, required=False) or None
        if url and not safe_url(url):
            c.error(at + ("url",), f"url must be a full http:// or https:// address, got {url!r}")
            url = None
        date = s.get("date")
        if isinstance(date, (dt.date, dt.datetime)):
            date_text: str | None = date.isoformat()[:10]
        elif isinstance(date, int) and not isinstance(date, bool) and 1800 <= date <= 2200:
            date_text = str(date)
        elif isinstance(date, str) and re.fullmatch(r"\d{4}(-(0[1-9]|1[0-2]))?", date):
            date_text = date
        elif date is None:
            date_text = None
        else:
            c.error(at + ("date",), f"date must be YYYY-MM-DD, YYYY-MM or YYYY, got {date!r}")
            date_text = None
        out.append(
            Source(
                title=c.text(s, "title", at),
                publisher=c.text(s, "publisher", at, required=False) or None,
                url=url,
                date=date_text,
                checked=_checked_date(c, s, at),
                unchecked=c.text(s, "unchecked", at, required=False) or None,
            )
        )
    return tuple(out)


def _checked_date(c: _Checker, s: dict, at: tuple) -> str | None:
    """`checked:` is the day a source was read against its published text (YYYY-MM-DD)."""
    value = s.get("checked")
    if value is None:
        return None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value.isoformat()
    c.error(at + ("checked",), f"checked must be a date, YYYY-MM-DD, got {value!r}")
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
    if tlp in ("amber", "amber+strict") and not share_with:
        c.error(("tlp",), f"a TLP:{tlp.upper()} note needs share_with: [organisation, ...] naming who may read it")
    entry_fields: dict[str, Any] = dict(
        title=c.text(meta, "title", ()),
        summary=c.text(meta, "summary", ()),
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
    if status == "published" and not entry_fields["risks"] and "risks" not in meta:
        c.error((), "a published entry needs at least one risk under risks:")
    if slug in entry_fields["related"]:
        c.error(("related",), "related lists the entry itself; remove it")
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
    if data is None:
        try:
            data = path.read_bytes()
        except OSError as exc:
            return None, [Problem(shown, 0, f"cannot read the file: {exc.strerror}")]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return None, [Problem(shown, line, "the file is not UTF-8 text; save it as UTF-8")]
    try:
        fm = parse(text)
    except FrontMatterError as exc:
        return None, [Problem(shown, exc.line, exc.message)]
    return build_entry(path, fm, content_hash(data), display=shown)


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
