"""Similarity of feed items to an entry (`kb.suggest.updates`), across the entries' Whoosh index
and the items' FTS5 index (`kb.index.items`) counted as one collection.

The model is Whoosh's, computed here because the items are not in Whoosh: an entry's key terms
are picked from a text with the Bo1 expansion model (terms frequent in the text and rare in the
collection, `whoosh.classify.Bo1Model`), and each candidate item is scored on those terms, each
weighted by its key-term weight, with BM25F over the title (a title word counts
`TITLE_BOOST` times, as in the schema) and the body. Document frequencies, field lengths and the
number of documents are those of the entries and the items together. A score is given as a
share of the score the entry itself gets (capped at 1), so 0.35 reads as "35 % as close as the
entry is to itself".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from math import log

from whoosh.reading import IndexReader
from whoosh.util.numeric import byte_to_length, length_to_byte

from kb.index.items import ItemIndex
from kb.index.terms import STEM, terms

TITLE_BOOST = 3.0  # the schema's boost of the title field (kb.index.search.SCHEMA)
B, K1 = 0.75, 1.2  # Whoosh's BM25F defaults, as the entry search uses


@dataclass
class Similarity:
    terms: list[str]  # the source's key terms, as words from its text
    scores: dict[str, tuple[float, list[str]]]  # document id -> (share of the source's own score, key terms it has)


@dataclass(frozen=True)
class _Doc:
    title: Counter[str]
    body: Counter[str]
    title_length: float
    body_length: float


def _doc(title: list[str], body: list[str]) -> _Doc:
    return _Doc(Counter(title), Counter(body), _stored_length(len(title)), _stored_length(len(body)))


def _stored_length(n: int) -> float:
    """A field's length as Whoosh keeps it (in one byte, so rounded above a few dozen terms)."""
    return float(byte_to_length(length_to_byte(n)))


class Collection:
    """The entries and the feed items as one collection, for one run of the suggester: term
    statistics are read once each and kept."""

    def __init__(self, entries: IndexReader, items: ItemIndex):
        self._entries = entries
        self._items = items
        totals = items.totals()
        self.n = entries.doc_count_all() + totals.count
        self._avg = {
            "title": (entries.field_length("title") + totals.title_length) / (self.n or 1) or 1,
            "body": (entries.field_length("body") + totals.body_length) / (self.n or 1) or 1,
        }
        # term -> (documents with it in the title, in the body, times in bodies)
        self._terms: dict[str, tuple[int, int, int]] = {}
        self._docs: dict[int, _Doc] = {}  # item id -> its terms
        self._sources: dict[tuple[str, str], _Doc] = {}  # an entry's (title, body) -> its terms

    def close(self) -> None:
        self._entries.close()

    def _stats(self, wanted: Iterable[str]) -> None:
        missing = [t for t in dict.fromkeys(wanted) if t not in self._terms]
        if not missing:
            return
        from_items = self._items.term_stats(missing)
        r = self._entries
        for t in missing:
            title_docs, body_docs, body_times = from_items.get(t, (0, 0, 0))
            self._terms[t] = (
                title_docs + r.doc_frequency("title", t),
                body_docs + r.doc_frequency("body", t),
                body_times + int(r.frequency("body", t)),
            )

    def key_terms(
        self, text: str, numterms: int, exclude: Iterable[str] = (), words: dict[str, str] | None = None
    ) -> list[tuple[str, float]]:
        """The `numterms` most important terms of `text` (Bo1, normalised as Whoosh does), leaving out
        terms whose word is in `exclude` (`words`: the text's `_surface_words`, when already made)."""
        weights = Counter(terms(text))
        self._stats(weights)
        scored, best = [], 0.0
        for term, weight in weights.items():
            in_collection = self._terms[term][2]
            if not in_collection:
                continue
            f = in_collection / self.n
            score = weight * log((1.0 + f) / f, 2) + log(1.0 + f, 2)
            best = max(best, score)
            scored.append((score, term))
        if not scored:
            return []
        f = best / self.n
        norm = (best * log((1.0 + f) / f) + log(1.0 + f)) / log(2.0) if best else best
        ranked = sorted(((score / norm, term) for score, term in scored), key=lambda x: (-x[0], x[1]))
        words = _surface_words(text) if words is None else words
        skip = set(exclude)
        picked = [(t, w) for w, t in ranked[: numterms * 2] if words.get(t, t) not in skip and t not in skip]
        return picked[:numterms]

    def items(self, ids: Iterable[int]) -> dict[int, _Doc]:
        """The items' terms, read once each."""
        missing = [i for i in ids if i not in self._docs]
        for item_id, (title, body) in self._items.terms_of(missing).items():
            self._docs[item_id] = _doc(title, body)
        return {i: self._docs[i] for i in ids if i in self._docs}

    def score(self, doc: _Doc, query: list[tuple[str, float]]) -> tuple[float, list[str]]:
        """BM25F of `doc` for the weighted terms `query`, and the terms it has."""
        total, matched = 0.0, []
        for term, boost in query:
            title_docs, body_docs, _ = self._terms[term]
            in_title, in_body = doc.title.get(term, 0), doc.body.get(term, 0)
            if in_title:
                total += boost * _bm25(
                    self._idf(title_docs), TITLE_BOOST * in_title, doc.title_length, self._avg["title"]
                )
            if in_body:
                total += boost * _bm25(self._idf(body_docs), in_body, doc.body_length, self._avg["body"])
            if in_title or in_body:
                matched.append(term)
        return total, matched

    def _idf(self, docs: int) -> float:
        return log(self.n / (docs + 1)) + 1

    def similarity(
        self,
        source: tuple[str, str],
        text: str,
        candidates: Iterable[int],
        numterms: int = 15,
        exclude: Iterable[str] = (),
    ) -> Similarity:
        """How close each candidate item is to `text`, a text of the entry whose indexed title and
        body are `source`: its key terms, and each item's score as a share of the entry's own."""
        words = _surface_words(text)
        stems = self.key_terms(text, numterms, exclude, words)
        shown = [words.get(t, t) for t, _ in stems]
        wanted = list(dict.fromkeys(candidates))
        if not stems or not wanted:
            return Similarity(shown if wanted else [], {})
        if source not in self._sources:  # an entry is compared as a whole and by each of its risks
            self._sources[source] = _doc(terms(source[0]), terms(source[1]))
        base, _ = self.score(self._sources[source], stems)
        scores: dict[str, tuple[float, list[str]]] = {}
        for item_id, doc in self.items(wanted).items():
            score, matched = self.score(doc, stems)
            if matched:
                share = min(1.0, score / base) if base > 0 else 0.0
                scores[f"item:{item_id}"] = (round(share, 3), [words.get(t, t) for t in sorted(matched)])
        return Similarity(shown, scores)


def _bm25(idf: float, weight: float, length: float, average: float) -> float:
    return idf * ((weight * (K1 + 1)) / (weight + K1 * ((1 - B) + B * length / average)))


def _surface_words(text: str) -> dict[str, str]:
    """Stemmed term -> the first word in `text` that stems to it (for messages people read)."""
    out: dict[str, str] = {}
    for token in STEM(text, chars=True, keeporiginal=True):
        out.setdefault(token.text, token.original.lower())
    return out
