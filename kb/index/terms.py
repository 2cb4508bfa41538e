"""The analyser of every stemmed field (`STEM`), and the same analysis without its chain of
per-token objects: `term` for one word, `terms` for a text, three to four times faster.

`STEM` is Whoosh's StemmingAnalyzer with its defaults named: words (`default_pattern`), lower
case, stop words and words shorter than `SHORTEST` left out, the rest stemmed (Porter). The
feed items' index (`kb.index.items`) stores `terms`, the similarity of items to entries
(`kb.index.similar`) counts them, and highlighting (`kb.index.snippets`) marks words by `term`,
so all of them see the words the entries' Whoosh index sees; `tests/index/test_items_index.py`
checks that `terms` and `STEM` agree.
"""

from __future__ import annotations

import re

from whoosh.analysis import STOP_WORDS, StemmingAnalyzer
from whoosh.analysis.tokenizers import default_pattern
from whoosh.lang.porter import stem

SHORTEST = 2  # letters of the shortest word that is not left out
STEM = StemmingAnalyzer(default_pattern, stoplist=STOP_WORDS, minsize=SHORTEST, stemfn=stem)
WORDS = default_pattern  # the words `STEM` finds in a text (its tokenizer's pattern)
_WORDS_ALONE = re.compile(r"[\w*]+(?:\.?[\w*]+)*")  # `WORDS` with no group, so findall gives whole words
_KEPT = 200_000  # words whose terms are kept; a feed of made-up words cannot grow it without bound
_terms: dict[str, str] = {}  # word as written -> its term ("" for a word left out)


def term(word: str) -> str:
    """The term `STEM` makes of one word its tokenizer found; "" for a word it leaves out (a stop
    word, or shorter than `SHORTEST`). Kept: the analysis is the same wherever the word stands."""
    found = _terms.get(word)
    if found is None:
        if len(_terms) >= _KEPT:
            _terms.clear()
        lower = word.lower()
        found = _terms[word] = "" if len(lower) < SHORTEST or lower in STOP_WORDS else stem(lower)
    return found


def terms(text: str) -> list[str]:
    """The text's terms in order, as `STEM` makes them."""
    return [t for t in map(term, _WORDS_ALONE.findall(text)) if t]


def originals(text: str, term: str) -> list[str]:
    """The words of `text`, as written, that `STEM` makes `term` of."""
    return [t.original for t in STEM(text, keeporiginal=True) if t.text == term]
