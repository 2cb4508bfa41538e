"""Snippets: the best fragments of a hit's summary (else of its body) with the matched words in
<mark>, everything else HTML-escaped, so a snippet is safe to show as it is.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from whoosh import highlight
from whoosh.analysis import StemmingAnalyzer

STEM = StemmingAnalyzer()  # the analyser of every stemmed field, and of highlighting


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


def snippet(summary: str, words: frozenset[str], body_of: Callable[[], str] | None) -> str:
    """The best two fragments of the summary, else of the body, else the summary's start."""
    if words:
        fragment = _highlight(summary, words)
        if fragment:
            return fragment
        body = body_of() if body_of else ""
        if body:
            fragment = _highlight(_around_first(body, words), words)
            if fragment:
                return fragment
    return highlight.htmlescape(summary[:240])


def _highlight(text: str, words: frozenset[str]) -> str:
    if not text:
        return ""
    return highlight.highlight(
        text, words, STEM, highlight.ContextFragmenter(maxchars=200, surround=60), _Marker(), top=2
    )


def _around_first(body: str, words: frozenset[str], size: int = 600) -> str:
    """The stretch of `body` from just before the first word that may stem to one of `words`.

    Analysing a whole body costs ~2 ms; a stemmed word is, but for a final e or i (`relai`
    from relay), the start of the words it came from, so a regex finds where to look.
    """
    starts = {w[:-1] if len(w) > 3 and w[-1] in "ei" else w for w in words if w}
    if not starts:
        return ""
    found = re.search(
        r"\b(?:" + "|".join(re.escape(w) for w in sorted(starts, key=len, reverse=True)) + ")", body, re.IGNORECASE
    )
    if not found:
        return ""
    start = max(0, found.start() - 100)
    if start:
        start = body.find(" ", start) + 1
    return body[start : start + size]
