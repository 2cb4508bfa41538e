"""Similarity of feed items to an entry (`kb.suggest.updates`), across the entry and item indexes.

Entries and feed items live in two indexes of one schema (`kb.index.search`); the similarity is
computed on one searcher over both (a Whoosh `MultiReader`), so term statistics are those of all
the documents together, as when they shared one index.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from whoosh.query import Or, Term
from whoosh.reading import IndexReader, MultiReader
from whoosh.searching import Searcher

from kb.index.snippets import STEM


@dataclass
class Similarity:
    terms: list[str]  # the source's key terms, as words from its text
    scores: dict[str, tuple[float, list[str]]]  # document id -> (share of the source's own score, key terms it has)


def similarity(
    readers: list[IndexReader],
    source_id: str,
    text: str,
    candidates: Iterable[str],
    numterms: int = 15,
    exclude: Iterable[str] = (),
) -> Similarity:
    """How close each candidate document is to the text of `source_id` (an entry), over `readers`
    (closed here).

    The source's key terms are picked from `text` with Whoosh's Bo1 expansion model (terms
    that are frequent in the text and rare in the index); the candidates are scored on those
    terms with the index's BM25F, and each score is given as a share of the score the source
    document itself gets (capped at 1), so 0.35 reads as "35 % as close as the entry is to
    itself". Terms whose word is in `exclude` (stop words) are not used.
    """
    wanted = list(dict.fromkeys(candidates))
    reader = readers[0] if len(readers) == 1 else MultiReader(readers)
    with Searcher(reader) as searcher:
        words = _surface_words(text)
        skip = set(exclude)
        stems = [
            (t, w)
            for t, w in searcher.key_terms_from_text("body", text, numterms=numterms * 2)
            if words.get(t, t) not in skip and t not in skip
        ][:numterms]
        if not stems or not wanted:
            return Similarity([], {})
        query = Or([Term(name, term, boost=weight) for term, weight in stems for name in ("title", "body")])
        own = searcher.search(query, filter=Term("id", source_id), limit=1)
        base = own[0].score if len(own) else 0.0
        scores: dict[str, tuple[float, list[str]]] = {}
        docnums = {n for c in wanted if (n := searcher.document_number(id=c)) is not None}
        if not docnums:
            return Similarity([words.get(t, t) for t, _ in stems], {})
        for hit in searcher.search(query, filter=docnums, limit=None, terms=True):
            share = min(1.0, hit.score / base) if base > 0 else 0.0
            matched = sorted({t.decode() if isinstance(t, bytes) else t for _, t in hit.matched_terms()})
            scores[hit["id"]] = (round(share, 3), [words.get(t, t) for t in matched])
    return Similarity([words.get(t, t) for t, _ in stems], scores)


def _surface_words(text: str) -> dict[str, str]:
    """Stemmed term -> the first word in `text` that stems to it (for messages people read)."""
    out: dict[str, str] = {}
    for token in STEM(text, chars=True, keeporiginal=True):
        out.setdefault(token.text, token.original.lower())
    return out
