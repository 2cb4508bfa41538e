"""Fast ranking: score a parsed Whoosh query term at a time, straight from the postings.

Whoosh scores document at a time: each matching document walks the whole matcher tree in
Python. A one-word query searches eight fields, so a common word at 10,000 entries took
60-100 ms. Here each posting list is read a block at a time and scored with the formula
Whoosh uses (BM25F with the same idf, average and per-document field lengths and boosts)
into a dict docnum -> score; `Or` adds dicts, `And` intersects them, `Not` subtracts. An And
of plain words first finds the documents that have them all (set operations on the postings'
document numbers) and scores only those. The scores are Whoosh's own, only found sooner:
measured at 2,000 entries, new queries p50 3.5 ms and p95 9.7 ms against Whoosh's searcher's
7.0 and 25.8 ms, and repeated words are cheaper still (the postings cache).

What it scores, each compared with Whoosh's own scores by the tests: terms, And, Or, Not,
AndNot, AndMaybe, Require, phrases (with slop), boosts and prefixes (as Whoosh scores them in
an index of over 5,000 documents, `_eval_prefix`), under Whoosh's default BM25F. Everything
else gives None and Whoosh runs it: wildcards, ranges, fuzzy terms, prefixes of 1,024 words or
more, another weighting, per-field B values, or another Whoosh version than the one whose
postings format this reads.
Used only by `kb.index.search`; one `Ranker` per open searcher (it caches field lengths).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import whoosh
from whoosh import query as wq
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3LeafMatcher, _lenfield
from whoosh.matching import FilterMatcher
from whoosh.reading import TermNotFound
from whoosh.scoring import BM25F
from whoosh.searching import Searcher
from whoosh.util.numeric import byte_to_length

WHOOSH_VERSION = (2, 7, 5)  # whoosh-reloaded: the postings blocks read below are this version's
Scores = dict[int, float]
CACHE_POSTINGS = 400_000  # postings kept per open searcher (~60 MB at most); least recently used go first
_LENGTH_OF_BYTE = [byte_to_length(b) for b in range(256)]


@dataclass
class _Postings:
    """A term's postings in the open searcher. Their scores are worked out when first wanted:
    an And of words wants only the documents that have all of them (`Ranker._all_of`)."""

    tfs: dict[int, float]  # docnum -> the posting's weight (the term's frequency)
    idf: float | None  # the term's BM25F idf; None for a field Whoosh scores by the weight alone
    by_length: list[float]  # BM25's length term of every document in the term's field (`_length_terms`)
    values: dict[int, bytes] | None  # docnum -> Whoosh's encoded positions, when read
    scores: Scores | None = None  # docnum -> the term's BM25F score, unboosted, once worked out

    @property
    def size(self) -> int:
        """What this holds, counted in postings (positions and scores count as a posting each)."""
        return len(self.tfs) + len(self.values or ()) + len(self.scores or ())


class Unsupported(Exception):
    """A query shape this module does not score; Whoosh runs it instead."""


class Ranker:
    """Scores queries against one open searcher (not thread-safe; `kb.search` takes turns)."""

    def __init__(self, searcher: Searcher):
        if tuple(whoosh.__version__[:3]) != WHOOSH_VERSION:
            raise Unsupported(f"written for Whoosh {WHOOSH_VERSION}, found {whoosh.__version__}")
        weighting = searcher.weighting
        if type(weighting) is not BM25F or getattr(weighting, "_field_B", {}):
            raise Unsupported("only BM25F with one B for every field is reproduced")
        self.searcher = searcher
        self.B, self.K1 = searcher.weighting.B, searcher.weighting.K1
        self.leaves = [(s.reader(), offset) for s, offset in searcher.leaf_searchers()]
        self.doc_count = searcher.doc_count_all()
        self._lengths: dict[str, list[float]] = {}  # field -> `_length_terms`
        self._cache: dict[tuple[str, bytes], _Postings] = {}  # least recently used first
        self._cached = 0  # postings held in the cache
        self.terms: set[tuple[str, str]] = set()  # (field, text) of every term looked up by the last `scores`

    def scores(self, q: wq.Query) -> Scores | None:
        """Each matching document's score, or None when Whoosh must run this query."""
        self.terms = set()
        try:
            return self._eval(q)
        except Unsupported:
            return None

    # -- the query tree --------------------------------------------------------------------

    def _eval(self, q: wq.Query) -> Scores:
        """Score `q` with the method for its exact type (`_EVAL`, at the end of the class); any other
        type is Unsupported."""
        method = self._EVAL.get(type(q))
        if method is None:
            raise Unsupported(type(q).__name__)
        return method(self, q)

    def _shared(self, q: wq.Query) -> Scores:
        """`q`'s scores, to be read only: an unboosted term's are the postings cache's own dict,
        not a copy (an Or of eight fields per word made eight copies of large dicts)."""
        if type(q) is wq.Term and q.boost == 1.0:
            btext = self._term_bytes(q.fieldname, q.text)
            return self._scored(q.fieldname, btext) if btext is not None else {}
        return self._eval(q)

    def _eval_term(self, q: wq.Term) -> Scores:
        return self._term(q.fieldname, q.text, q.boost)

    def _eval_or(self, q: wq.Or) -> Scores:
        if q.scale is not None or q.minmatch:
            raise Unsupported("scaled or minimum-match Or")
        return _boost(_union([self._shared(s) for s in q.subqueries]), q.boost)

    def _eval_and(self, q: wq.And) -> Scores:
        positive = [s for s in q.subqueries if type(s) is not wq.Not]
        negative = [s for s in q.subqueries if type(s) is wq.Not]
        if not positive:
            raise Unsupported("an And of only negations")
        words = [self._terms_of(s) for s in positive]
        if len(words) > 1 and all(w is not None for w in words):
            out = self._all_of(words)  # type: ignore[arg-type]
        else:
            out = _intersection([self._shared(s) for s in positive])
        for n in negative:
            for docnum in self._eval(n.query).keys() & out.keys():
                del out[docnum]
            for docnum in out:  # Whoosh's inverse matcher scores each document it lets through
                out[docnum] += n.boost
        return _boost(out, q.boost)

    def _eval_and_not(self, q: wq.AndNot) -> Scores:
        out = self._eval(q.a)
        for docnum in self._eval(q.b).keys() & out.keys():
            del out[docnum]
        return _boost(out, q.boost)

    def _eval_and_maybe(self, q: wq.AndMaybe) -> Scores:
        out = self._eval(q.a)
        for docnum, s in self._eval(q.b).items():
            if docnum in out:
                out[docnum] += s
        return _boost(out, q.boost)

    def _eval_require(self, q: wq.Require) -> Scores:
        b = self._eval(q.b)
        return _boost({d: s for d, s in self._eval(q.a).items() if d in b}, q.boost)

    def _eval_null(self, q: wq.Query) -> Scores:
        return {}

    def _eval_prefix(self, q: wq.Prefix) -> Scores:
        """The words of the field that begin so, each scored as a term: one word unboosted, two or
        more added up and boosted, as Whoosh's `Prefix` scores them in an index of over 5,000
        documents. (In a smaller one Whoosh gives each match of three or more words 1.0, whatever
        its words and boost: a prefix is ranked here as Whoosh ranks it in a big index.)"""
        if q.fieldname not in self.searcher.schema:
            return {}
        words = [w for w in self.searcher.reader().expand_prefix(q.fieldname, q.text) if w]
        if len(words) >= wq.Or.TOO_MANY_CLAUSES:
            raise Unsupported("a prefix of too many words")
        if len(words) == 1:
            return self._term(q.fieldname, words[0], 1.0)
        return _boost(
            _union([self._scored(q.fieldname, self._term_bytes(q.fieldname, w) or b"") for w in words]), q.boost
        )

    def _term(self, field: str, text: Any, boost: float) -> Scores:
        btext = self._term_bytes(field, text)
        if btext is None:
            return {}
        if boost == 1.0:
            return dict(self._scored(field, btext))
        return {d: s * boost for d, s in self._scored(field, btext).items()}

    def _term_bytes(self, field: str, text: Any) -> bytes | None:
        """The term as the index stores it (None when `field` cannot hold it), noted in `terms`."""
        schema = self.searcher.schema
        if field not in schema:
            return None
        try:
            btext = schema[field].to_bytes(text) if not isinstance(text, bytes) else text
        except ValueError:
            return None
        self.terms.add((field, btext.decode("utf-8", "replace")))
        return btext

    def _read(self, field: str, btext: bytes, positions: bool = False) -> _Postings:
        """A term's postings (and, if asked, its raw position data), kept while this searcher is
        open: reading them (unpickling and unzipping Whoosh's blocks) is most of the cost of a
        query, and the same words come back in query after query."""
        key = (field, btext)
        cached = self._cache.get(key)
        if cached is not None and (cached.values is not None or not positions):
            self._cache[key] = self._cache.pop(key)  # most recently used goes last
            return cached
        scorable = self.searcher.schema[field].scorable
        tfs: dict[int, float] = {}
        values: dict[int, bytes] | None = {} if positions else None
        for reader, offset in self.leaves:
            for ids, weights, vals in blocks(reader, field, btext, values=positions):
                docnums = map(offset.__add__, ids) if offset else ids
                tfs.update(zip(docnums, weights, strict=False))
                if values is not None:
                    values.update(zip(map(offset.__add__, ids), vals, strict=False))
        idf = self.searcher.idf(field, btext) if scorable and tfs else None  # no postings, no scores
        return self._keep(key, _Postings(tfs, idf, self._length_terms(field) if scorable else [], values))

    def _scored(self, field: str, btext: bytes) -> Scores:
        """Every posting's score: whoosh.scoring.bm25 with the constants taken out (an unscorable
        field's by the posting's weight, as Whoosh does); worked out once while kept."""
        postings = self._read(field, btext)
        if postings.scores is None:
            idf, by_length = postings.idf, postings.by_length
            if idf is None:
                postings.scores = dict(postings.tfs)
            else:
                k1p1, norm = self.K1 + 1, self.K1 * (1 - self.B)
                postings.scores = {d: idf * tf * k1p1 / (tf + norm + by_length[d]) for d, tf in postings.tfs.items()}
            if self._cache.get((field, btext)) is postings:
                self._cached += len(postings.scores)
        return postings.scores

    def _terms_of(self, q: wq.Query) -> tuple[list[tuple[_Postings, float]], float] | None:
        """A term, or an Or of terms (a word in several fields), as (each term's postings with its
        boost, the Or's boost); None for any other query."""
        if type(q) is wq.Term:
            terms, boost = [q], 1.0
        elif type(q) is wq.Or and q.scale is None and not q.minmatch and all(type(t) is wq.Term for t in q.subqueries):
            terms, boost = q.subqueries, q.boost
        else:
            return None
        found = []
        for t in terms:
            btext = self._term_bytes(t.fieldname, t.text)
            if btext is not None:
                found.append((self._read(t.fieldname, btext), t.boost))
        return found, boost

    def _all_of(self, words: list[tuple[list[tuple[_Postings, float]], float]]) -> Scores:
        """The documents with every one of `words` (`_terms_of`), scored only for them: the same
        sums in the same order as `_union` of each word's terms and `_intersection` of the words."""
        docs = [set().union(*(p.tfs for p, _ in terms)) for terms, _ in words]
        common = set.intersection(*docs)
        out: Scores = {}
        for i in sorted(range(len(words)), key=lambda i: len(docs[i])):  # as _intersection sorts
            terms, or_boost = words[i]
            word = _boost(_union([self._scores_for(p, boost, p.tfs.keys() & common) for p, boost in terms]), or_boost)
            out = {d: s + word[d] for d, s in out.items()} if out else word
        return out

    def _scores_for(self, postings: _Postings, boost: float, docs: Iterable[int]) -> Scores:
        """The term's score (times `boost`) in each of `docs`, all of which have it."""
        tfs, idf, by_length = postings.tfs, postings.idf, postings.by_length
        if postings.scores is not None:
            scores = postings.scores
            return {d: scores[d] * boost for d in docs} if boost != 1.0 else {d: scores[d] for d in docs}
        if idf is None:
            return {d: tfs[d] * boost for d in docs} if boost != 1.0 else {d: tfs[d] for d in docs}
        k1p1, norm = self.K1 + 1, self.K1 * (1 - self.B)
        scores = {d: idf * tf * k1p1 / (tf + norm + by_length[d]) for d in docs for tf in (tfs[d],)}
        return _boost(scores, boost)

    def _keep(self, key: tuple[str, bytes], found: _Postings) -> _Postings:
        old = self._cache.pop(key, None)
        if old is not None:
            self._cached -= old.size
        self._cache[key] = found
        self._cached += found.size
        while self._cached > CACHE_POSTINGS and len(self._cache) > 1:
            oldest = next(iter(self._cache))
            self._cached -= self._cache.pop(oldest).size
        return found

    def _phrase(self, q: wq.Phrase) -> Scores:
        """Documents where the words follow one another (within `slop`), scored as the sum of the
        words' scores, as Whoosh's SpanNear2 does."""
        field = q.fieldname
        schema = self.searcher.schema
        if field not in schema:
            return {}
        fieldobj = schema[field]
        if not fieldobj.format or not fieldobj.format.supports("positions"):
            raise Unsupported("a phrase on a field without positions")
        try:
            words = [fieldobj.to_bytes(w) for w in q.words]
        except ValueError:
            return {}
        if not words or any((field, w) not in self.searcher.reader() for w in words):
            return {}
        for w in words:
            self.terms.add((field, w.decode("utf-8", "replace")))
        # a phrase's matches are kept as a term's are: checking positions is the costly part
        key = b"\0".join([b"phrase", str(q.slop).encode(), *words])
        cached = self._cache.get((field, key))
        if cached is not None:
            self._cache[(field, key)] = self._cache.pop((field, key))
        else:
            postings = [self._read(field, w, positions=True) for w in words]
            candidates = _intersection([dict.fromkeys(p.tfs, 0.0) for p in postings])
            scored = [self._scored(field, w) for w in words]
            decode = fieldobj.format.decode_positions
            scores = {
                d: sum(p[d] for p in scored)
                for d in candidates
                if _near([decode(p.values[d]) for p in postings], q.slop)
            }
            cached = self._keep((field, key), _Postings({}, None, [], None, scores))
        return _boost(dict(cached.scores or {}), q.boost)

    def _length_terms(self, field: str) -> list[float]:
        """Every document's length term of BM25 in `field`, by the searcher's numbers: K1 * B /
        (the field's average length) times the document's length in it (as Whoosh stores it, one
        byte; 1 when it stores none), worked out once, one float per stored byte."""
        terms = self._lengths.get(field)
        if terms is None:
            per_len = self.K1 * self.B / (self.searcher.avg_field_length(field) or 1)
            of_byte = [per_len * (length or 1) for length in _LENGTH_OF_BYTE]
            terms = self._lengths[field] = []
            for reader, offset in self.leaves:
                terms += [per_len] * (offset - len(terms))  # (segments follow one another)
                count = reader.doc_count_all()
                stored = self._length_bytes(reader, field)
                if stored is None:
                    terms += [per_len * (reader.doc_field_length(d, field, 1) or 1) for d in range(count)]
                else:
                    terms += map(of_byte.__getitem__, stored[:count])
                    terms += [per_len] * (offset + count - len(terms))  # as Whoosh's dfl(), default 1
        return terms

    def _length_bytes(self, reader: Any, field: str) -> Any:
        """The segment's one-byte field lengths, one per document, or None when it has no such column."""
        perdoc = getattr(reader, "_perdoc", None)
        column = perdoc._cached_reader(_lenfield(field), LENGTHS_COLUMN) if perdoc is not None else None
        return _column_bytes(column) if column is not None else None

    # the scoring method per query type; matched exactly, so a subclass (which may score
    # differently) is left to Whoosh
    _EVAL: ClassVar[dict[type, Callable[[Ranker, Any], Scores]]] = {
        wq.Term: _eval_term,
        wq.Or: _eval_or,
        wq.And: _eval_and,
        wq.AndNot: _eval_and_not,
        wq.AndMaybe: _eval_and_maybe,
        wq.Require: _eval_require,
        wq.Phrase: _phrase,
        type(wq.NullQuery): _eval_null,
        wq.Prefix: _eval_prefix,
    }


# -- postings ---------------------------------------------------------------------------------


def blocks(reader: Any, field: str, btext: bytes, values: bool = False) -> Iterator[tuple[Any, Any, Any]]:
    """(ids, weights, values or None) for each block of a term's postings, deleted documents left out.

    Reads Whoosh's W3 blocks directly (whoosh-reloaded is pinned); any other matcher is walked
    one posting at a time through its public interface. A term the reader lacks has no blocks
    (asking for its postings is cheaper than asking whether it is there, then for its postings).
    """
    try:
        m = reader.postings(field, btext)
    except TermNotFound:
        return
    deleted: set[int] | frozenset[int] = frozenset()
    if isinstance(m, FilterMatcher):
        deleted, m = m._ids, m.child
    if isinstance(m, W3LeafMatcher):
        while m.is_active():
            m._read_ids()
            m._read_weights()
            if values:
                m._read_values()
            ids, weights, vals = m._ids, m._weights, (m._values if values else None)
            if deleted and not deleted.isdisjoint(ids):
                keep = [i for i, d in enumerate(ids) if d not in deleted]
                ids = [ids[i] for i in keep]
                weights = [weights[i] for i in keep]
                vals = [vals[i] for i in keep] if values else None
            yield ids, weights, vals
            m._next_block()
        return
    ids, weights, vals = [], [], []
    while m.is_active():
        if m.id() not in deleted:
            ids.append(m.id())
            weights.append(m.weight())
            vals.append(m.value() if values else None)
        m.next()
    yield ids, weights, (vals if values else None)


def _near(positions: list[list[int]], slop: int) -> bool:
    """True when there is a position of each word, in order, each 1 to `slop` after the one before."""
    current = positions[0]
    for following in positions[1:]:
        later = set(following)
        nxt = sorted({p + gap for p in current for gap in range(1, max(1, slop) + 1)} & later)
        if not nxt:
            return False
        current = nxt
    return True


# -- combining --------------------------------------------------------------------------------


def _union(parts: list[Scores]) -> Scores:
    """A new dict: every document of `parts` with the sum of its scores, added in the order of
    `parts` (the parts themselves are left as they are: they may be the postings cache's)."""
    out: Scores = {}
    for part in parts:
        if not out:
            out = dict(part)
            continue
        get = out.get
        for docnum, s in part.items():
            out[docnum] = get(docnum, 0.0) + s
    return out


def _intersection(parts: list[Scores]) -> Scores:
    """A new dict: the documents in every one of `parts`, with their scores added, smallest part first."""
    if not parts:
        return {}
    parts = sorted(parts, key=len)
    out = dict(parts[0])
    for part in parts[1:]:
        out = {d: s + part[d] for d, s in out.items() if d in part}
    return out


def _boost(scores: Scores, boost: float) -> Scores:
    if boost != 1.0:
        for docnum in scores:
            scores[docnum] *= boost
    return scores


def _column_bytes(column: Any) -> Iterable[int]:
    """A one-byte numeric column's values in one read (Whoosh's `load()` reads each document's
    byte with its own seek and read when the index is not memory-mapped)."""
    try:
        if column._typecode == "B":
            return column._dbfile.get(column._basepos, column._count * column._fixedlen)
    except AttributeError:
        pass
    return column.load()
