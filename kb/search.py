"""The full-text index (Whoosh). The only module that imports `whoosh`.

The index is a cache: it can be deleted and rebuilt from the entries and the database.
Documents are entries (`kind=entry`) and, from the feeds side, feed items (`kind=item`).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from whoosh import highlight, index, sorting
from whoosh.analysis import StemmingAnalyzer
from whoosh.fields import DATETIME, ID, KEYWORD, NUMERIC, STORED, TEXT, Schema
from whoosh.qparser import FieldAliasPlugin, MultifieldParser, OrGroup
from whoosh.query import And, NullQuery, Or, Query, Term
from whoosh.writing import IndexWriter

from kb.entry import Entry
from kb.errors import QueryError

_STEM = StemmingAnalyzer()
SCHEMA = Schema(
    id=ID(stored=True, unique=True),  # "entry:<slug>" or "item:<n>"
    kind=ID(stored=True),
    slug=ID(stored=True),
    title=TEXT(analyzer=_STEM, stored=True, field_boost=3.0),
    keywords=TEXT(analyzer=_STEM, field_boost=2.0),
    summary=TEXT(analyzer=_STEM, stored=True),
    body=TEXT(analyzer=_STEM),
    risks=TEXT(analyzer=_STEM),
    measures=TEXT(analyzer=_STEM),
    tag=KEYWORD(commas=True, lowercase=True, scorable=True),
    sector=KEYWORD(commas=True, lowercase=True, scorable=True),
    driver=KEYWORD(commas=True, lowercase=True),
    horizon=ID(stored=True),
    category=ID(stored=True),
    status=ID(stored=True),
    tlp=ID(stored=True),
    share_with=KEYWORD(commas=True, lowercase=True),
    score=NUMERIC(stored=True),
    published=DATETIME(stored=True),
    feed=ID(stored=True),  # feed items: the feed's id
    link=STORED,  # feed items: the item's link
    extra=STORED,
)
TEXT_FIELDS = ["title", "keywords", "summary", "body", "risks", "measures", "tag", "sector"]
FACETS = ("sector", "tag", "driver", "horizon")
ALIASES = {"tag": ["tags"], "sector": ["sectors"], "driver": ["drivers"], "title": ["name"]}
SEARCHABLE = sorted(set(SCHEMA.names()) - {"id", "extra", "published", "link"})
_FIELD_RE = re.compile(r"(?<![\w\"'])([A-Za-z_]+):")

# An audience is a list of alternatives; each maps a field to the values it may take.
# [{"status": ["published"], "tlp": ["clear"]}] is what an anonymous reader may see.
Audience = list[dict[str, list[str]]]


@dataclass
class Hit:
    id: str
    kind: str
    slug: str
    title: str
    score: float
    summary: str = ""
    snippet: str = ""  # HTML: the matched terms in <mark>, everything else escaped
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass
class Results:
    query: str
    total: int
    page: int
    per_page: int
    hits: list[Hit]
    facets: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def entry_document(entry: Entry) -> dict[str, Any]:
    return {
        "id": f"entry:{entry.slug}",
        "kind": "entry",
        "slug": entry.slug,
        "title": entry.title,
        "keywords": " ".join(entry.keywords),
        "summary": entry.summary,
        "body": entry.body,
        "risks": "\n".join(f"{r.title}. {r.description} {' '.join(r.crime_types)}".replace("-", " ") for r in entry.risks),
        "measures": "\n".join(m.measure for _, m in entry.measures),
        "tag": ",".join(entry.tags),
        "sector": ",".join(entry.sectors),
        "driver": ",".join(entry.all_drivers),
        "horizon": entry.horizon,
        "category": entry.category,
        "status": entry.status,
        "tlp": entry.tlp,
        "share_with": ",".join(entry.share_with),
        "score": entry.score,
    }


class _Marker(highlight.Formatter):
    """Matched terms in <mark>; the rest HTML-escaped, so snippets are safe to show."""

    between = " … "

    def format_token(self, text: str, token: Any, replace: bool = False) -> str:
        return f"<mark>{highlight.htmlescape(highlight.get_text(text, token, replace))}</mark>"

    def format_fragment(self, fragment: Any, replace: bool = False) -> str:
        output, index_ = [], fragment.startchar
        text = fragment.text
        for t in fragment.matches:
            if t.startchar > index_:
                output.append(highlight.htmlescape(text[index_ : t.startchar]))
            output.append(self.format_token(text, t, replace))
            index_ = t.endchar
        output.append(highlight.htmlescape(text[index_ : fragment.endchar]))
        return "".join(output)


class Index:
    """The Whoosh index in one folder."""

    def __init__(self, path: Path):
        self.path = path
        if index.exists_in(str(path)):
            self.ix = index.open_dir(str(path))
        else:
            path.mkdir(parents=True, exist_ok=True)
            self.ix = index.create_in(str(path), SCHEMA)
        self._parser = MultifieldParser(TEXT_FIELDS, SCHEMA, fieldboosts={"title": 3.0, "keywords": 2.0})
        self._parser.add_plugin(FieldAliasPlugin(ALIASES))

    @classmethod
    def recreate(cls, path: Path) -> Index:
        if path.exists():
            shutil.rmtree(path)
        return cls(path)

    def doc_count(self) -> int:
        return self.ix.doc_count()

    # -- writing ---------------------------------------------------------------------------

    @contextmanager
    def writer(self, bulk: bool = False) -> Iterator[_Writer]:
        """One writer at a time (Whoosh's rule); waits up to 30 s for another to finish."""
        w = self.ix.writer(timeout=30.0, delay=0.1, limitmb=256 if bulk else 64)
        try:
            yield _Writer(w)
        except BaseException:
            w.cancel()
            raise
        else:
            w.commit()

    # -- reading ---------------------------------------------------------------------------

    def parse(self, text: str, *, fields: list[str] | None = None) -> Query:
        text = text.strip()
        if not text:
            raise QueryError("type something to search for")
        if text.count('"') % 2:
            raise QueryError(f'unbalanced quotes in {text!r}: close the phrase with another "')
        depth = 0
        for ch in text:
            depth += {"(": 1, ")": -1}.get(ch, 0)
            if depth < 0:
                break
        if depth:
            raise QueryError(f"unbalanced brackets in {text!r}: every ( needs a )")
        known = set(SEARCHABLE) | {a for names in ALIASES.values() for a in names}
        for name in _FIELD_RE.findall(text):
            if name not in known and not name.lower().startswith(("http", "https")):
                raise QueryError(f"unknown field {name!r}; search one of: {', '.join(SEARCHABLE)}")
        parser = self._parser if not fields else MultifieldParser(fields, SCHEMA, group=OrGroup)
        try:
            query = parser.parse(text)
        except Exception as exc:  # Whoosh raises assorted types for odd input
            raise QueryError(f"could not understand the query {text!r}: {exc}") from exc
        if query is NullQuery or isinstance(query, type(NullQuery)):
            raise QueryError(f"nothing to search for in {text!r}: very common words are ignored; add a more specific term")
        return query

    def search(
        self,
        text: str,
        *,
        audience: Audience | None = None,
        kinds: Iterable[str] = ("entry",),
        page: int = 1,
        per_page: int = 10,
        facets: Iterable[str] = (),
        refine: dict[str, str] | None = None,
        snippet_text: Callable[[Hit], str] | None = None,
    ) -> Results:
        """Search. `audience` limits what may be seen (None: everything); `refine` narrows by facet."""
        query = self.parse(text)
        restrict = [Or([Term("kind", k) for k in kinds])]
        if audience is not None:
            restrict.append(_audience_query(audience))
        for name, value in (refine or {}).items():
            restrict.append(Term(name, value.lower() if name in ("tag", "sector", "driver") else value))
        flt = And(restrict)
        facet_defs = {name: sorting.FieldFacet(name, allow_overlap=name in ("tag", "sector", "driver")) for name in facets}
        with self.ix.searcher() as searcher:
            page = max(1, page)
            results = searcher.search(query, limit=page * per_page, filter=flt, groupedby=facet_defs or None, terms=True)
            results.fragmenter = highlight.ContextFragmenter(maxchars=200, surround=60)
            results.formatter = _Marker()
            total = len(results)
            hits = []
            for r in results[(page - 1) * per_page : page * per_page]:
                stored = r.fields()
                hit = Hit(id=stored["id"], kind=stored["kind"], slug=stored.get("slug", ""),
                          title=stored.get("title", ""), score=r.score, summary=stored.get("summary", ""),
                          fields=stored)
                hit.snippet = self._snippet(r, hit, snippet_text)
                hits.append(hit)
            counts = {}
            for name in facet_defs:
                groups = results.groups(name)
                counts[name] = {k: len(v) for k, v in sorted(groups.items(), key=lambda kv: (-len(kv[1]), str(kv[0]))) if k}
        return Results(query=text, total=total, page=page, per_page=per_page, hits=hits, facets=counts)

    @staticmethod
    def _snippet(r: Any, hit: Hit, snippet_text: Callable[[Hit], str] | None) -> str:
        for name, text in (("summary", hit.summary), ("body", snippet_text(hit) if snippet_text else "")):
            if text:
                fragment = r.highlights(name, text=text[:20000], top=2)
                if fragment:
                    return fragment
        return highlight.htmlescape(hit.summary[:240])

    def facet_counts(self, audience: Audience | None, names: Iterable[str] = FACETS, kinds: Iterable[str] = ("entry",)) -> dict[str, dict[str, int]]:
        """Counts of every value of each facet among the documents the audience may see."""
        restrict: list[Query] = [Or([Term("kind", k) for k in kinds])]
        if audience is not None:
            restrict.append(_audience_query(audience))
        out: dict[str, dict[str, int]] = {}
        with self.ix.searcher() as searcher:
            docs = searcher.search(And(restrict), limit=None, groupedby={
                n: sorting.FieldFacet(n, allow_overlap=n in ("tag", "sector", "driver")) for n in names})
            for n in names:
                out[n] = {k: len(v) for k, v in docs.groups(n).items() if k}
        return out


class _Writer:
    def __init__(self, w: IndexWriter):
        self._w = w

    def put_entry(self, entry: Entry) -> None:
        self._w.update_document(**entry_document(entry))

    def put(self, **document: Any) -> None:
        self._w.update_document(**document)

    def add(self, **document: Any) -> None:
        """Add without looking for an older copy: for a fresh index (much faster)."""
        self._w.add_document(**document)

    def delete(self, doc_id: str) -> None:
        self._w.delete_by_term("id", doc_id)


def _audience_query(audience: Audience) -> Query:
    alternatives = []
    for rule in audience:
        parts = [Or([Term(name, v) for v in values]) for name, values in rule.items()]
        alternatives.append(And(parts) if parts else Or([]))
    return Or(alternatives) if alternatives else NullQuery
