"""Which documents a parsed query finds, when not every word is found, and what was meant instead.

Used by `kb.index.search` on its open searcher, with the fast scorer (`kb.index.ranking`) when
it can score the query and Whoosh's own searcher when it cannot:

- `all_words`: the documents matching the query as typed (every word, unless it says OR),
  best first: the search's usual answer.
- `some_words`: when that finds few documents, those matching most of a plain query's words,
  ranked by how many they match and then by score (the sum of the words' BM25F scores, times
  the share of the words matched).
- `corrections`: for each word that finds nothing, the nearest term of the index's stemmed
  fields that does (beginning with the same two letters), shown as a word from the notes'
  text ("Did you mean *cryptocurrency*?").
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from math import ceil
from weakref import WeakKeyDictionary

from whoosh.query import Query
from whoosh.searching import Searcher

from kb.index.language import closest, distance, surface
from kb.index.query import Parsed, Word
from kb.index.ranking import Ranker
from kb.index.terms import originals

Terms = set[tuple[str, str]]  # (field, text) of the terms a query looked up, for highlighting
Ranked = list[tuple[int, float]]  # (docnum, score), best first
CANDIDATES = 8  # corrections tried per word, nearest first
PREFIX = 2  # letters a correction shares with the typed word: a typo there is rare, and looking
# only at the terms that begin the same way keeps a correction to a few milliseconds
# kept per open searcher: the terms beginning with some letters, and the terms near a typed word
_VOCABULARY: WeakKeyDictionary[Searcher, dict[tuple[str, ...], list[tuple[str, int]]]] = WeakKeyDictionary()
_NEAR: WeakKeyDictionary[Searcher, dict[tuple[str, ...], list[tuple[int, int, str]]]] = WeakKeyDictionary()


def all_words(
    searcher: Searcher, ranker: Ranker | None, query: Query, allowed: set[int], want: int
) -> tuple[list[int], Ranked, Terms]:
    """Every allowed document `query` matches, the best `want` of them ranked, and its terms."""
    scores = ranker.scores(query) if ranker else None
    if scores is not None:
        matched = (
            [d for d in scores if d in allowed] if len(scores) <= len(allowed) else [d for d in allowed if d in scores]
        )
        # best first; equal scores in index order, as Whoosh does
        top = heapq.nlargest(want, matched, key=lambda d: (scores[d], -d))
        return matched, [(d, scores[d]) for d in top], set(ranker.terms)  # type: ignore[union-attr]
    # a query shape only Whoosh itself runs
    matched = [d for d in searcher.docs_for_query(query) if d in allowed]
    results = searcher.search(query, limit=want, filter=allowed) if matched else []
    return matched, [(r.docnum, r.score) for r in results], _terms(searcher, query)


def scores(
    searcher: Searcher, ranker: Ranker | None, query: Query, allowed: set[int]
) -> tuple[dict[int, float], Terms]:
    """The score of every allowed document `query` matches."""
    found = ranker.scores(query) if ranker else None
    if found is not None:
        return {d: s for d, s in found.items() if d in allowed}, set(ranker.terms)  # type: ignore[union-attr]
    hits = searcher.search(query, limit=None, filter=allowed)
    return {h.docnum: h.score for h in hits}, _terms(searcher, query)


def some_words(
    searcher: Searcher, ranker: Ranker | None, clauses: Iterable[Query], allowed: set[int], exclude: Iterable[int]
) -> tuple[Ranked, Terms]:
    """The allowed documents (but those in `exclude`) that match most of `clauses`: at least half
    of them, or as many as any document does when none matches half. Most clauses matched first."""
    parts, terms = [], set()
    for clause in clauses:
        found, looked_up = scores(searcher, ranker, clause, allowed)
        parts.append(found)
        terms |= looked_up
    counts: dict[int, int] = {}
    sums: dict[int, float] = {}
    for part in parts:
        for d, s in part.items():
            counts[d] = counts.get(d, 0) + 1
            sums[d] = sums.get(d, 0.0) + s
    skip = set(exclude)
    best = max((c for d, c in counts.items() if d not in skip), default=0)
    need = min(ceil(len(parts) / 2), best)
    if not need:
        return [], terms
    share = len(parts)
    chosen = [(d, sums[d] * counts[d] / share) for d, c in counts.items() if c >= need and d not in skip]
    chosen.sort(key=lambda ds: (-counts[ds[0]], -ds[1], ds[0]))
    return chosen, terms


def corrections(
    searcher: Searcher,
    ranker: Ranker | None,
    parsed: Parsed,
    allowed: set[int],
    read: Callable[[str], Parsed | None],
    fields: Iterable[str],
) -> dict[Word, str]:
    """A correction for each word of `parsed` that finds no allowed document: of the terms of
    `fields` (stemmed fields) nearest to it, the one that finds documents, shown as the word
    nearest to the typed one, then finding most documents with the query's other words, then
    the commonest. `read` parses a word (None when it cannot)."""
    fields = list(fields)
    found = {word: _docs(searcher, ranker, read(word.text), allowed) for word in parsed.words}
    known = [docs for docs in found.values() if docs]
    context = set.intersection(*known) if known else set()
    out: dict[Word, str] = {}
    for word, docs in found.items():
        if docs:
            continue
        best: tuple[tuple[int, int, int], str] | None = None
        near = _closest(searcher, fields, word.text.lower())
        for _, fewer, term in near[:CANDIDATES]:
            shown = surface(word.text, term, _seen(searcher, term))
            hits = _docs(searcher, ranker, read(shown), allowed)
            rank = (distance(word.text.lower(), shown, 99), -len(hits & context), fewer)
            if hits and (best is None or rank < best[0]):
                best = (rank, shown)
        if best is not None:
            out[word] = best[1]
    return out


def _docs(searcher: Searcher, ranker: Ranker | None, parsed: Parsed | None, allowed: set[int]) -> set[int]:
    """The allowed documents a parsed word finds."""
    if parsed is None:
        return set()
    found = ranker.scores(parsed.query) if ranker else None
    return allowed.intersection(found if found is not None else searcher.docs_for_query(parsed.query))


def _closest(searcher: Searcher, fields: list[str], word: str) -> list[tuple[int, int, str]]:
    """`closest` over the terms that begin as `word` does; kept while the searcher is open (the
    same typo comes back as the next page, or from the next reader)."""
    kept = _NEAR.setdefault(searcher, {})
    key = (word, *fields)
    if key not in kept:
        if len(kept) >= 1024:
            kept.clear()
        kept[key] = closest(word, _vocabulary(searcher, fields, word[:PREFIX]))
    return kept[key]


def _vocabulary(searcher: Searcher, fields: list[str], start: str) -> list[tuple[str, int]]:
    """The terms of `fields` beginning with `start`, with the documents that have each (the most
    of any one field); kept while the searcher is open."""
    kept = _VOCABULARY.setdefault(searcher, {})
    key = (start, *fields)
    if key not in kept:
        reader = searcher.reader()
        docs: dict[str, int] = {}
        for name in fields:
            for text, info in reader.iter_prefix(name, start):
                term = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
                docs[term] = max(docs.get(term, 0), info.doc_frequency())
        if len(kept) >= 256:
            kept.clear()
        kept[key] = list(docs.items())
    return kept[key]


def _seen(searcher: Searcher, term: str, limit: int = 3) -> list[str]:
    """Words of the stored titles and summaries that stem to `term` (from a few documents)."""
    reader = searcher.reader()
    words: list[str] = []
    for name in ("title", "summary"):
        if (name, term) not in reader:
            continue
        for n, docnum in enumerate(reader.postings(name, term).all_ids()):
            if n >= limit:
                break
            text = searcher.stored_fields(docnum).get(name, "")
            words += originals(text, term)
    return words


def _terms(searcher: Searcher, query: Query) -> Terms:
    return {
        (name, t.decode("utf-8", "replace") if isinstance(t, bytes) else t)
        for name, t in query.existing_terms(searcher.reader(), expand=True)
    }
