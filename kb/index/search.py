"""The full-text index (Whoosh). With the rest of `kb.index`, the only code that imports `whoosh`.

The index is a cache, rebuilt from the entries and the database beside the live one, then swapped
in (`kb.sync`); an `Index` notices the swap. `var/index/` holds the entries
(`kind=entry`); the feed items are in their own SQLite FTS5 index (`kb.index.items`), so a poll
never invalidates the entry search's searcher and caches.

Locking: Whoosh allows one writer at a time, across processes, with its own lock file. Every
write goes through `Index.writer()`, which waits at most `WRITE_WAIT` seconds (well under
gunicorn's 30 s worker timeout), then raises `Busy` ("try again"); a writer whose commit fails
is cancelled and its lock released at once. Entry saves and every `kb.sync` run also hold the
entries folder's write lock (`kb.files.lock`), so they never interleave.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from whoosh.fields import DATETIME, ID, KEYWORD, NUMERIC, STORED, TEXT, Schema
from whoosh.filedb.filestore import FileStorage
from whoosh.index import FileIndex, LockError
from whoosh.multiproc import MpWriter, SubWriterTask
from whoosh.query import And, NullQuery, Or, Query, Term
from whoosh.reading import IndexReader
from whoosh.searching import Searcher
from whoosh.writing import IndexWriter

from kb.errors import Busy, KbError, QueryError
from kb.index import matching
from kb.index.query import Parsed, Reader
from kb.index.ranking import Ranker, Unsupported
from kb.index.segments import SegmentCache, keep
from kb.index.snippets import snippet
from kb.index.terms import STEM as _STEM
from kb.model.entry import Entry

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
WRITE_WAIT = 10.0  # seconds a writer waits for another process's writer, then Busy
TEXT_FIELDS = ["title", "keywords", "summary", "body", "risks", "measures", "tag", "sector"]
FACETS = ("sector", "tag", "driver", "horizon")
ALIASES = {"tag": ["tags"], "sector": ["sectors"], "driver": ["drivers"], "title": ["name"]}
SEARCHABLE = sorted(set(SCHEMA.names()) - {"id", "extra", "published", "link"})
TEXT_STEMMED = ["title", "keywords", "summary", "body", "risks", "measures"]
_HIGHLIGHT_FROM = set(TEXT_STEMMED)
FEW = 3  # fewer notes than this with all the words: notes with most of them follow

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
    complete: int = 0  # how many match all the words; hits after these match only some (`partial`)
    corrected: str = ""  # the query these are results for, when the typed one found nothing
    suggestion: str = ""  # "Did you mean ...?": the typed query with its unknown words corrected

    @property
    def partial(self) -> bool:
        return self.total > self.complete

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
        "risks": "\n".join(
            f"{r.title}. {r.description} {' '.join(r.crime_types)}".replace("-", " ") for r in entry.risks
        ),
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


class Index:
    """The Whoosh index in one folder, opened (or made, when there is none) at its first use."""

    def __init__(self, path: Path, synonyms: Path | None = None):  # synonyms: the knowledge base's synonyms file
        self.path = path
        self.synonyms = synonyms
        self._ix: FileIndex | None = None
        self._reader = Reader(SCHEMA, TEXT_FIELDS, SEARCHABLE, ALIASES, {"title": 3.0, "keywords": 2.0}, synonyms)
        self._lock = threading.RLock()
        self._searcher: Searcher | None = None
        self._allowed: dict[Query, set[int]] = {}  # filter -> document numbers, for self._searcher
        self._ranker: Ranker | None = None  # scores queries on self._searcher, with its postings cache
        self._segments = SegmentCache()  # what filters allow and facet values, per segment, across searchers

    @property
    def ix(self) -> FileIndex:
        if self._ix is None:
            with warnings.catch_warnings():  # Whoosh leaves a damaged index's file open: close it quietly
                warnings.simplefilter("ignore", ResourceWarning)
                try:
                    self.path.mkdir(parents=True, exist_ok=True)
                    self._inode = os.stat(self.path).st_ino
                    # Read with plain file reads, not mmap: Whoosh copies each mmapped segment part
                    # into a BytesIO, which cost a worker ~120 MB of its own memory at 10,000 notes.
                    storage = FileStorage(str(self.path), supports_mmap=False)
                    found = storage.index_exists()
                    self._ix = storage.open_index() if found else storage.create_index(SCHEMA)
                except Exception as exc:  # Whoosh raises assorted types for a damaged folder
                    failed = str(exc)
            if self._ix is None:
                raise KbError(f"the search index {self.path} cannot be opened ({failed}); run kb index --rebuild")
        return self._ix

    def _swapped(self) -> bool:  # a rebuild swapped another index in at this path: open that one
        with suppress(OSError):
            self._ix = None if os.stat(self.path).st_ino != self._inode else self._ix
        return self._ix is None

    @classmethod
    def recreate(cls, path: Path, synonyms: Path | None = None) -> Index:
        shutil.rmtree(path, ignore_errors=True)
        return cls(path, synonyms)

    def close(self) -> None:
        """Close the open searcher (the index stays usable; the next search opens a new one)."""
        with self._lock:
            if self._searcher is not None:
                self._searcher.close()
                self._searcher = None
                self._allowed.clear()
                self._ranker = None

    def clear_cache(self) -> None:
        """Forget the postings read by earlier searches (for benchmarks of first-time searches)."""
        with self._lock:
            self._ranker = None

    def doc_count(self) -> int:
        with self._reading() as searcher:  # opening a reader just to count costs as much as a search
            return searcher.doc_count()

    def count(self, kind: str) -> int:
        """How many documents of one kind (`entry`, `item`) the index holds."""
        with self._reading() as searcher:
            return len(self._allowed_docs(searcher, Term("kind", kind)))

    # -- writing ---------------------------------------------------------------------------

    @contextmanager
    def writer(self, bulk: bool = False, procs: int = 1) -> Iterator[_Writer]:
        """One writer at a time (Whoosh's rule); waits up to `WRITE_WAIT` s, then raises `Busy`.

        `bulk` gives Whoosh room to sort postings in memory (with less, a full index of 10,000 entries
        took twice as long). `procs` > 1 writes in that many processes (killed if this one dies), a
        segment each, kept as they are; only for a new index built by a command, as it forks.
        """
        options: dict[str, Any] = dict(timeout=WRITE_WAIT, delay=0.1, limitmb=512 if bulk else 64)
        many = procs > 1 and os.uname().sysname == "Linux"
        try:
            w = _MortalWriter(self.ix, procs=procs, multisegment=True, **options) if many else self.ix.writer(**options)
        except LockError:
            raise Busy("the search index is being updated by another process; try again in a moment") from None
        try:
            yield _Writer(w)
        except BaseException:
            _abandon(w)
            raise
        try:
            w.commit()
        except BaseException:
            _abandon(w)
            raise

    # -- reading ---------------------------------------------------------------------------

    @contextmanager
    def _reading(self) -> Iterator[Searcher]:
        """The open searcher, replaced when a commit (from any process) has changed the index.

        Opening a searcher reads every segment's term index, about 30 ms at 10,000 entries, so
        one is kept between searches. Searches take turns on it (Whoosh searchers keep state,
        and Python runs one search at a time anyway). Whoosh's own `Searcher.refresh()` is not
        used: in whoosh-reloaded 2.7.5 it keeps merged-away segments, so deleted documents
        come back.
        """
        with self._lock:
            if self._searcher is not None and (self._swapped() or not self._searcher.up_to_date()):
                self.close()
            if self._searcher is None:
                self._searcher = self.ix.searcher()
            yield self._searcher

    def _allowed_docs(self, searcher: Searcher, flt: Query) -> set[int]:
        """The document numbers `flt` allows, kept until the index changes: the kind and audience
        filters are the same on almost every search, and matching them costs as much as the query."""
        docs = self._allowed.get(flt)
        if docs is None:
            docs = set()
            for leaf_searcher, offset in searcher.leaf_searchers():
                docs.update(d + offset for d in self._segments.allowed(leaf_searcher, flt))
            keep(self._allowed, flt, docs, 64)
        return docs

    def parse(self, text: str, *, fields: list[str] | None = None) -> Query:
        """The query `text` reads as (`kb.index.query`); QueryError with a sentence when it cannot be read."""
        return self.read(text, fields=fields).query

    def read(self, text: str, *, fields: list[str] | None = None) -> Parsed:
        return self._reader.read(text, fields)

    def synonyms_version(self) -> tuple[int, int]:
        """Changes when `entries/synonyms.yaml` does: pages of results depend on it."""
        return self._reader.synonyms().version

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
        """Search. `audience` limits what may be seen (None: everything); `refine` narrows by facet.

        Notes with all the words come first; when fewer than `FEW` have them all, notes with most
        of a plain query's words follow. When none has them all and a misspelt word has a
        correction, the corrected query is searched instead (`corrected`); otherwise the
        correction is offered (`suggestion`).
        """
        parsed = self.read(text)
        restrict = [Or([Term("kind", k) for k in kinds])]
        if audience is not None:
            restrict.append(_audience_query(audience))
        for name, value in (refine or {}).items():
            restrict.append(Term(name, value.lower() if name in ("tag", "sector", "driver") else value))
        flt = And(restrict)
        facets = tuple(facets)
        page = max(1, page)
        out = Results(query=text, total=0, page=page, per_page=per_page, hits=[], facets={name: {} for name in facets})
        with self._reading() as searcher:
            allowed = self._allowed_docs(searcher, flt)
            if not allowed:  # nothing may be seen (and Whoosh reads an empty filter set as no filter)
                return out
            ranker = self._ranker_for(searcher)
            found = self._find(searcher, ranker, parsed, allowed, page * per_page)
            if parsed.words and (not found[0] or len(found[0]) < len(found[1])):
                fixes = matching.corrections(searcher, ranker, parsed, allowed, self._read_or_none, TEXT_STEMMED)
                fixed = parsed.replaced(fixes) if fixes else ""
                reread = self._read_or_none(fixed) if fixed else None
                again = self._find(searcher, ranker, reread, allowed, page * per_page) if reread else None
                if again and again[0] and not found[0]:
                    found, out.corrected = again, fixed
                else:
                    out.suggestion = fixed
            complete, matched, ranked, terms = found
            words = frozenset(t for name, t in terms if name in _HIGHLIGHT_FROM)
            for docnum, score in ranked[(page - 1) * per_page :]:
                stored = searcher.stored_fields(docnum)
                hit = Hit(
                    id=stored["id"],
                    kind=stored["kind"],
                    slug=stored.get("slug", ""),
                    title=stored.get("title", ""),
                    score=score,
                    summary=stored.get("summary", ""),
                    fields=stored,
                )
                body_of = (lambda h=hit: snippet_text(h)) if snippet_text else None
                hit.snippet = snippet(hit.summary, words, body_of)
                out.hits.append(hit)
            out.facets = {name: self._segments.count_values(searcher, name, matched) for name in facets}
        out.total, out.complete = len(matched), len(complete)
        return out

    def _find(
        self, searcher: Searcher, ranker: Ranker | None, parsed: Parsed, allowed: set[int], want: int
    ) -> tuple[list[int], list[int], matching.Ranked, matching.Terms]:
        """(documents with all the words, every document matched, the best `want` ranked, terms to mark)."""
        complete, ranked, terms = matching.all_words(searcher, ranker, parsed.query, allowed, want)
        if len(complete) >= FEW or not parsed.clauses:
            return complete, complete, ranked, terms
        if len(ranked) < len(complete):  # every complete match comes before the partial ones
            complete, ranked, terms = matching.all_words(searcher, ranker, parsed.query, allowed, len(complete))
        some, more = matching.some_words(searcher, ranker, parsed.clauses, allowed, complete)
        return complete, complete + [d for d, _ in some], (ranked + some)[:want], terms | more

    def _read_or_none(self, text: str) -> Parsed | None:
        try:
            return self.read(text)
        except QueryError:
            return None

    def _ranker_for(self, searcher: Searcher) -> Ranker | None:
        if self._ranker is None or self._ranker.searcher is not searcher:
            try:
                self._ranker = Ranker(searcher)
            except Unsupported:
                return None
        return self._ranker

    def facet_counts(
        self, audience: Audience | None, names: Iterable[str] = FACETS, kinds: Iterable[str] = ("entry",)
    ) -> dict[str, dict[str, int]]:
        """Counts of every value of each facet among the documents the audience may see."""
        restrict: list[Query] = [Or([Term("kind", k) for k in kinds])]
        if audience is not None:
            restrict.append(_audience_query(audience))
        with self._reading() as searcher:
            docs = self._allowed_docs(searcher, And(restrict))
            return {n: self._segments.count_values(searcher, n, docs) for n in names}

    def reader(self) -> IndexReader:
        """A reader of the index as it is now, for term statistics (`kb.index.similar`); close it after use."""
        return self.ix.reader()


def _abandon(w: IndexWriter) -> None:
    """Cancel a writer and release its lock, whatever state a failed commit left it in."""
    with suppress(Exception):
        w.cancel()
    lock = getattr(w, "writelock", None)
    if lock is not None:
        with suppress(Exception):
            lock.release()


class _MortalWriter(MpWriter):
    """Whoosh's writer in several processes, each killed when this one dies (kill -9 included):
    an orphan would keep the locks it inherited (the index's, the entries folder's) for ever."""

    def _new_task(self) -> SubWriterTask:
        task = SubWriterTask(self.storage, self.indexname, self.jobqueue, self.resultqueue, self.subargs, True)
        parent = os.getpid()
        task.run = lambda run=task.run: self._die_with(parent, run)  # in the child
        self.tasks.append(task)
        task.start()
        return task

    @staticmethod
    def _die_with(parent: int, run: Callable[[], None]) -> None:
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: killed when the parent dies, kill -9 too
        if os.getppid() != parent:  # it died before that line
            os._exit(1)
        run()


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
