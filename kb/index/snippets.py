"""Snippets: the best fragments of a hit's summary (else of its body) with the matched words in
<mark>, everything else HTML-escaped, so a snippet is safe to show as it is.

Snippets are cut from the text as a reader sees it: Markdown syntax (`#` headings, `**bold**`,
`[text](url)` links, list markers, tables, code fences) is taken out first (`plain`; HTML tags
written in a body stay, as escaped text), and a fragment always starts and ends at a space (never inside a word, nor inside
`3D-printed`), with `…` where text was left out.
"""

from __future__ import annotations

import heapq
import html
import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from whoosh import highlight

from kb.index.terms import WORDS as _TOKENS
from kb.index.terms import term

ELLIPSIS = "…"
SHORT = 240  # characters of the summary shown when no word is found in it

_MARKDOWN = [  # (pattern, replacement, text one of which it needs to match), in this order
    (re.compile(r"^ {0,3}(```|~~~).*$", re.M), "", ("```", "~~~")),  # code fences (the code stays)
    (re.compile(r"^ {0,3}\[[^\]\n]+\]:\s*\S+.*$", re.M), "", ("]:",)),  # link reference definitions
    (re.compile(r"^ {0,3}(?:[-*_] *){3,}$", re.M), "", ("-", "*", "_")),  # horizontal rules
    (re.compile(r"^ {0,3}(?:=+|-+) *$", re.M), "", ("=", "-")),  # setext heading underlines
    (
        re.compile(r"^ {0,3}#{1,6}[ \t]+(.*?)[ \t#]*$", re.M),
        lambda m: m[1] + ("" if m[1][-1:] in ".:?!" else "."),
        ("#",),
    ),
    (re.compile(r"^ {0,3}\|?(?: *:?-+:? *\|)+ *:?-*:? *$", re.M), "", ("|",)),  # table separator rows
    (re.compile(r"^[ \t]*(?:>[ \t]?)+", re.M), "", (">",)),  # blockquote markers
    (  # list markers, task boxes
        re.compile(r"^[ \t]*(?:[-*+]|\d{1,9}[.)])[ \t]+(?:\[[ xX]\][ \t]+)?", re.M),
        "",
        ("-", "*", "+", ".", ")"),
    ),
    (re.compile(r"!\[([^\]\n]*)\]\([^)\n]*\)"), r"\1", ("![",)),  # images: their alt text
    (re.compile(r"\[\^[^\]\n]+\]"), "", ("[^",)),  # footnote references
    (re.compile(r"\[([^\]\n]+)\]\([^)\n]*\)"), r"\1", ("](",)),  # inline links: their text
    (re.compile(r"\[([^\]\n]+)\]\[[^\]\n]*\]"), r"\1", ("][",)),  # reference links: their text
    (re.compile(r"<(https?://[^>\s]+)>"), r"\1", ("<http",)),  # autolinks
    (re.compile(r"(`+)(.+?)\1"), r"\2", ("`",)),  # inline code
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), r"\2", ("**", "__")),  # strong
    (re.compile(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])"), r"\1", ("*",)),  # emphasis with *
    (re.compile(r"(?<!\w)_(?=\S)(.+?)(?<=\S)_(?!\w)"), r"\1", ("_",)),  # emphasis with _ (not snake_case)
    (re.compile(r"~~(?=\S)(.+?)(?<=\S)~~"), r"\1", ("~~",)),  # strikethrough
    (re.compile(r" *\| *"), " ", ("|",)),  # table cell borders
    (re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>~])"), r"\1", ("\\",)),  # backslash escapes
]


_MAYBE_MARKDOWN = re.compile(r"[*_\[\]#<>|`~&\\]|(?:^|\n)[ \t]*(?:[-+=>]|\d{1,9}[.)])")


def plain(markdown: str) -> str:
    """The text of `markdown` as a reader sees it, on one line: no Markdown syntax, entities
    decoded, runs of white space made one space. HTML tags are left as they are (the snippet
    escapes them)."""
    text = markdown
    if not _MAYBE_MARKDOWN.search(text):  # most summaries: nothing to take out
        return " ".join(text.split())
    for pattern, replacement, needs in _MARKDOWN:
        if any(part in text for part in needs):  # a pattern is slower to try than this
            text = pattern.sub(replacement, text)
    return " ".join(html.unescape(text).split())


def _widen(text: str, start: int, end: int) -> tuple[int, int]:
    """`start` back and `end` forward to the nearest white space (or the ends of `text`)."""
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    while end < len(text) and not text[end].isspace():
        end += 1
    return start, end


def snippet(summary: str, words: frozenset[str], body_of: Callable[[], str] | None) -> str:
    """The best two fragments of the summary, else of the body (Markdown), else the summary's start."""
    summary = plain(summary)
    if words:
        pattern = _word_starts(words)
        fragment = _highlight(summary, words) if pattern and pattern.search(summary) else ""
        if fragment:
            return fragment
        stretch, before, after = _around_first(body_of() if body_of else "", words)
        fragment = _highlight(stretch, words)
        if fragment:  # the stretch's own ends are not the body's
            head = f"{ELLIPSIS} " if before and not fragment.startswith(ELLIPSIS) else ""
            tail = f" {ELLIPSIS}" if after and not fragment.endswith(ELLIPSIS) else ""
            return head + fragment + tail
    return html.escape(clip(summary, SHORT))


def clip(text: str, size: int) -> str:
    """At most `size` characters of `text`, cut at a space, with … when anything was cut."""
    if len(text) <= size:
        return text
    cut = text.rfind(" ", 0, size + 1)
    return text[: cut if cut > 0 else size].rstrip(" ,;:") + " " + ELLIPSIS


def _highlight(text: str, words: frozenset[str]) -> str:
    """The best `TOP` fragments of `text` with the words that analyse to one of `words` marked,
    as Whoosh's `highlight` with its `ContextFragmenter(maxchars=200, surround=60)` and basic
    scorer gives them: widened to the spaces around them, joined where they meet, separated by
    … where text is left out (and at the ends, when the text goes on), the rest HTML-escaped.
    Each distinct word is analysed once (`_term`), not the whole text on every hit."""
    if not text:
        return ""
    return _format(text, _best(_fragments(text, words)))


TOP = 2  # fragments shown
MAXCHARS = 200  # characters of words in one fragment, at most
SURROUND = 60  # characters of context before the first and after the last marked word
CHARLIMIT = highlight.DEFAULT_CHARLIMIT  # words ending past this are not looked at

# (start, end, term) of a marked word; (start, end, marked words) of a fragment
_Mark = tuple[int, int, str]
_Fragment = tuple[int, int, list[_Mark]]


def _fragments(text: str, words: frozenset[str]) -> list[_Fragment]:
    """The fragments around the marked words, cut as Whoosh's `ContextFragmenter` cuts them:
    up to `SURROUND` characters of words before the first mark, and the fragment ends once
    `SURROUND` characters of words follow the last one or it holds `MAXCHARS` characters.
    Only the words in and just before fragments are looked at one by one."""
    tokens = list(_TOKENS.finditer(text))
    forms = list(map(re.Match.group, tokens))
    marked = {form for form in set(forms) if _term(form) in words}
    hits = [n for n, form in enumerate(forms) if form in marked]
    if not hits:
        return []
    words_at = _Words(list(map(re.Match.start, tokens)), list(map(re.Match.end, tokens)), forms, marked)
    out: list[_Fragment] = []
    after = 0  # the first word after the last fragment
    for hit in hits:
        if hit >= words_at.limit:
            break
        if hit >= after:
            fragment, after = words_at.fragment(hit, after)
            if fragment is not None:
                out.append(fragment)
    return out


class _Words:
    """The words of a text (`_TOKENS`), by number: where each starts and ends, and which are marked."""

    def __init__(self, starts: list[int], ends: list[int], forms: list[str], marked: set[str]):
        self.starts, self.ends, self.forms, self.marked = starts, ends, forms, marked
        self.limit = bisect_right(ends, CHARLIMIT)  # Whoosh stops at the first word ending past it

    def fragment(self, hit: int, after: int) -> tuple[_Fragment | None, int]:
        """The fragment marked word `hit` begins (no earlier fragment took words from `after` on),
        and the first word after it."""
        starts, ends = self.starts, self.ends
        length = ends[hit] - starts[hit]
        if length > MAXCHARS:  # Whoosh makes an empty fragment of it, never shown
            return None, hit + 1
        # the words before it: those that start within SURROUND of where the word before it ends
        near = bisect_left(starts, ends[hit - 1] - SURROUND, after, hit) if hit > after else hit
        first, countdown = (starts[near], SURROUND) if near < hit else (starts[hit], 2 * SURROUND)
        marks = [(starts[hit], ends[hit], _term(self.forms[hit]))]
        size, countdown, n = length, countdown - length, hit
        while countdown > 0:
            n += 1
            if n >= self.limit:  # the text ends (or is no longer looked at) inside the fragment
                return (first, ends[n] if n < len(ends) else ends[n - 1], marks), n
            length = ends[n] - starts[n]
            if size + length > MAXCHARS:
                countdown = 0
            elif self.forms[n] in self.marked:
                countdown = SURROUND
                marks.append((starts[n], ends[n], _term(self.forms[n])))
            size, countdown = size + length, countdown - length
        # Whoosh takes the word after a fragment that ends with exactly nothing left to count
        # as an empty fragment of its own, so it is not among the words before the next one
        swallowed = countdown == 0 and n + 1 < self.limit and self.forms[n + 1] not in self.marked
        return (first, ends[n], marks), n + 1 + swallowed


def _best(fragments: list[_Fragment]) -> list[_Fragment]:
    """The `TOP` fragments with the most marks times the most distinct words (later first among
    equals, as Whoosh's `BasicFragmentScorer` and `top_fragments` choose), in text order."""
    scored = [(len(marks) * len({t for _, _, t in marks}), start, end, marks) for start, end, marks in fragments]
    best = heapq.nlargest(TOP, [s for s in scored if s[0]], key=lambda s: s[:2])
    return sorted(s[1:] for s in best)


def _format(text: str, fragments: list[_Fragment]) -> str:
    """`fragments` widened to the spaces around them and joined where they overlap or touch, the
    marked words in <mark>, everything else escaped."""
    if not fragments:
        return ""
    spans: list[list[Any]] = []  # [start, end, marks] of each stretch shown, in order
    for start, end, marks in fragments:
        start, end = _widen(text, start, end)
        if spans and start <= spans[-1][1] + 1:  # overlapping or next to each other: one stretch
            spans[-1][1] = max(spans[-1][1], end)
            spans[-1][2] += marks
        else:
            spans.append([start, end, list(marks)])
    out = [ELLIPSIS + " " if spans[0][0] > 0 else ""]
    for n, (start, end, marks) in enumerate(spans):
        if n:
            out.append(f" {ELLIPSIS} ")
        at = start
        for mark_start, mark_end in sorted({(s, e) for s, e, _ in marks}):
            if mark_start < at:
                continue
            out.append(html.escape(text[at:mark_start]))
            out.append(f"<mark>{html.escape(text[mark_start:mark_end])}</mark>")
            at = mark_end
        out.append(html.escape(text[at:end]))
    out.append(" " + ELLIPSIS if spans[-1][1] < len(text) else "")
    return "".join(out)


def _term(word: str) -> str:
    """The term a word is marked by: as the index makes it, or the word in lower case for a word
    the index leaves out (Whoosh's highlighting keeps stop words, and so marks them if asked)."""
    return term(word) or word.lower()


@lru_cache(maxsize=256)
def _word_starts(words: frozenset[str]) -> re.Pattern[str] | None:
    """A regex for the words that may stem to one of `words`: a stemmed word is, but for a final
    e or i (as in `relai` from relay), the start of the words it came from. Analysing text to
    highlight it costs far more than this search, so text it does not match is not analysed."""
    starts = {w[:-1] if len(w) > 3 and w[-1] in "ei" else w for w in words if w}
    if not starts:
        return None
    return re.compile(r"\b(?:" + "|".join(re.escape(w) for w in sorted(starts, key=len, reverse=True)) + ")", re.I)


def _around_first(markdown: str, words: frozenset[str], size: int = 600) -> tuple[str, bool, bool]:
    """About `size` characters of the body's plain text from just before the first word that may
    stem to one of `words`, starting and ending at a space: (text, whether text comes before it,
    whether text comes after it).

    Analysing a whole body costs ~2 ms, and taking the Markdown out of it ~1 ms, so a regex
    (`_word_starts`) finds where to look and only the lines around it are made plain.
    """
    pattern = _word_starts(words)
    if not markdown or pattern is None:
        return "", False, False
    for n, found in enumerate(pattern.finditer(markdown)):
        if n == 5:  # five in link addresses and other syntax: give up
            break
        first = markdown.rfind("\n", 0, max(0, found.start() - 300)) + 1
        last = markdown.find("\n", found.end() + size)
        last = len(markdown) if last < 0 else last
        region = plain(markdown[first:last])
        again = pattern.search(region)
        if again is None:  # the word was in syntax that is gone (a link's address)
            continue
        start = max(0, again.start() - 100)
        if start:
            start = region.find(" ", start) + 1
        end = start + size
        if end < len(region):
            end = max(region.rfind(" ", start, end), again.end())
        return region[start:end], first > 0 or start > 0, last < len(markdown) or end < len(region)
    return "", False, False
