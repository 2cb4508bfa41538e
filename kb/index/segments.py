"""What the index keeps per Whoosh segment, across searchers: the documents each filter allows
and each document's facet values.

A commit (an edit, a deletion) adds a small segment and marks deletions in the old ones; the
big segments keep their ids. So after an edit only the new segment is matched and read, and
the documents deleted since are taken out of what was kept. Used only by `kb.index.search`,
which takes turns on one searcher (not thread-safe on its own).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from itertools import chain
from typing import Any

from whoosh.query import Query
from whoosh.searching import Searcher

from kb.index.ranking import blocks

LIMIT = 256  # answers kept; segments merged away leave theirs behind, so all are dropped when full


def keep(cache: dict[Any, Any], key: Any, value: Any, limit: int = LIMIT) -> Any:
    """Store `value` under `key`, emptying `cache` first when it holds `limit` answers; returns `value`."""
    if len(cache) >= limit:
        cache.clear()
    cache[key] = value
    return value


def segment_key(leaf: Any) -> Any:
    """What names one segment across searchers (its id; the reader itself when it has none)."""
    segment = leaf.segment()
    return segment.segment_id() if segment is not None else id(leaf)


class SegmentCache:
    def __init__(self) -> None:
        self._docs: dict[tuple[Any, Query], frozenset[int]] = {}  # (segment, filter) -> documents it allows
        self._values: dict[tuple[Any, str], list[tuple[str, ...]]] = {}  # (segment, facet) -> values by docnum
        self._tables: dict[tuple[Any, str], list[tuple[str, ...]]] = {}  # (segments, facet) -> values by docnum

    def allowed(self, leaf_searcher: Searcher, flt: Query) -> set[int] | frozenset[int]:
        """The documents of one segment (its own numbers) that `flt` allows, less those deleted since."""
        leaf = leaf_searcher.reader()
        key = (segment_key(leaf), flt)
        docs = self._docs.get(key)
        if docs is None:
            docs = keep(self._docs, key, frozenset(leaf_searcher.docs_for_query(flt)))
        if leaf.has_deletions():
            deleted = getattr(leaf, "deleted_docs_set", None)
            return docs - deleted if deleted is not None else {d for d in docs if not leaf.is_deleted(d)}
        return docs

    def count_values(self, searcher: Searcher, name: str, docnums: Iterable[int]) -> dict[str, int]:
        """How many of `docnums` (the searcher's numbers) have each value of facet `name`, most first."""
        counts = Counter(chain.from_iterable(map(self._table(searcher, name).__getitem__, docnums)))
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

    def _table(self, searcher: Searcher, name: str) -> list[tuple[str, ...]]:
        """Every document's values of facet `name`, by the searcher's numbers: its segments' own
        lists end to end (after an edit, only the new segment's is read)."""
        leaves = searcher.reader().leaf_readers()
        key = (tuple((segment_key(leaf), offset) for leaf, offset in leaves), name)
        table = self._tables.get(key)
        if table is None:
            table = []
            for leaf, offset in leaves:
                table += [()] * (offset - len(table))
                table += self._segment_values(leaf, name)
            keep(self._tables, key, table, 16)
        return table

    def _segment_values(self, leaf: Any, name: str) -> list[tuple[str, ...]]:
        """One segment's values of facet `name` for each of its documents, read from its postings once."""
        key = (segment_key(leaf), name)
        values = self._values.get(key)
        if values is None:
            found: dict[int, list[str]] = {}
            for term in leaf.lexicon(name):
                value = term.decode("utf-8") if isinstance(term, bytes) else str(term)
                for ids, _, _ in blocks(leaf, name, term):
                    for docnum in ids:
                        found.setdefault(docnum, []).append(value)
            values = [tuple(found.get(docnum, ())) for docnum in range(leaf.doc_count_all())]
            keep(self._values, key, values)
        return values
