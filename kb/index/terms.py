"""The stemmed terms of a text, exactly as the stemmed fields' analyser (`kb.index.snippets.STEM`:
Whoosh's StemmingAnalyzer) makes them, without its per-token objects: three to four times faster.

The feed items' index (`kb.index.items`) stores these terms, and the similarity of items to
entries (`kb.index.similar`) counts them, so both see the words the entries' Whoosh index sees.
`tests/index/test_items_index.py` checks the two analysers agree.
"""

from __future__ import annotations

import re

from whoosh.analysis import STOP_WORDS
from whoosh.lang.porter import stem

# Whoosh's default tokeniser pattern, with a group that does not capture (so findall gives words)
_TOKEN = re.compile(r"[\w*]+(?:\.?[\w*]+)*")
_STOPS = frozenset(STOP_WORDS)
_CACHE_LIMIT = 200_000  # stems kept; a feed of made-up words cannot grow it without bound
_stems: dict[str, str] = {}


def terms(text: str) -> list[str]:
    """The text's terms in order: words lowercased, stop words and one-letter words left out, stemmed."""
    if len(_stems) > _CACHE_LIMIT:
        _stems.clear()
    cache = _stems
    return [
        cache.get(w) or cache.setdefault(w, stem(w))
        for w in map(str.lower, _TOKEN.findall(text))
        if len(w) > 1 and w not in _STOPS
    ]
