"""Reading a query: Whoosh's query language, with the words people type made to find notes.

On top of Whoosh's parser (run over the default fields, with field aliases), one filter runs
on the parsed syntax before the words are spread over the fields:

- a bare word that is a stop word (`of`, `by`, `the`) is dropped: the stemmed fields drop it
  anyway, but `tag` and `sector` keep stop words, so it became a required `(tag:of OR sector:of)`;
- a bare word also searches its other spellings (`kb.index.language.spellings`), in the
  default fields and in a stemmed field named for it (`title:organized`);
- bare words next to each other that spell a term of a synonym group also search the group's
  other terms (a multi-word term as a phrase): `deep fake` finds *deepfake*.

The result, `Parsed`, keeps what the search needs besides the query: for a plain query (words
only: no quotes, fields, operators, brackets, wildcards or boosts), one clause per word or
synonym, so notes with most of the words can be ranked; and each bare word with its place in the
text, for spelling corrections.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from whoosh.fields import Schema
from whoosh.qparser import FieldAliasPlugin, MultifieldParser, syntax
from whoosh.qparser.plugins import PhrasePlugin as _PhrasePlugin
from whoosh.qparser.plugins import Plugin
from whoosh.query import And, NullQuery, Phrase, Query, Term

from kb.errors import QueryError
from kb.index.language import STOPS, Synonyms, SynonymsFile, keys, spellings, words

_FIELD_RE = re.compile(r"(?<![\w\"'])([A-Za-z_]+):")
_NOT_PLAIN = re.compile(r"[\"()\[\]{}:*?^~]|(?<!\S)(?:AND|OR|NOT|ANDNOT|ANDMAYBE|REQUIRE)(?!\S)")
_CORRECTABLE = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")  # a word of letters (an apostrophe allowed)
_STAGE = 105  # after field names are read (100), before words are spread over the fields (110)


@dataclass(frozen=True)
class Word:
    """A bare word of the query, where it is in the text (for a spelling correction)."""

    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Parsed:
    text: str
    query: Query
    clauses: tuple[Query, ...] = ()  # a plain query of two or more words: one query per word or synonym
    words: tuple[Word, ...] = ()  # bare words that could be misspelt

    def replaced(self, fixes: dict[Word, str]) -> str:
        """The query text with some words replaced."""
        out, at = [], 0
        for word in sorted(fixes, key=lambda w: w.start):
            out += [self.text[at : word.start], fixes[word]]
            at = word.end
        return "".join([*out, self.text[at:]])


class _Alternatives(syntax.OrGroup):
    """Either of these (a word's spellings, a synonym's terms). Never merged with a neighbouring
    OR group by Whoosh's operators, so each stays one clause."""

    merging = False


@dataclass
class _Words(Plugin):
    """The filter described in the module docstring; one per parse (it records what it saw)."""

    synonyms: Synonyms
    stemmed: frozenset[str]
    seen: list[Word] = field(default_factory=list)

    def filters(self, parser: Any) -> list[tuple[Any, int]]:
        return [(self.do_words, _STAGE)]

    def do_words(self, parser: Any, group: Any) -> Any:
        out = group.empty_copy()
        nodes = list(group)
        i = 0
        while i < len(nodes):
            node = nodes[i]
            if isinstance(node, syntax.GroupNode):
                out.append(self.do_words(parser, node))
            elif _bare(node):
                run = [node]
                while i + 2 < len(nodes) and nodes[i + 1].is_ws() and _bare(nodes[i + 2]):
                    run += [nodes[i + 1], nodes[i + 2]]
                    i += 2
                out.extend(self._run(run))
            elif type(node) is syntax.WordNode and node.fieldname in self.stemmed:
                out.append(self._spellings(node))
            else:
                out.append(node)
            i += 1
        return out

    def _run(self, run: list[Any]) -> list[Any]:
        """Bare words (with the spaces between them): synonyms found, stop words dropped."""
        nodes = run[::2]
        spans = [len(keys(n.text)) for n in nodes]  # how many words each node holds ("3D-printed": 2)
        flat = [k for n in nodes for k in keys(n.text)]
        starts = [sum(spans[:j]) for j in range(len(nodes))]
        out: list[Any] = []
        j = 0
        while j < len(nodes):
            found = self.synonyms.find(flat, starts[j]) if flat and spans[j] else None
            width = 0
            if found is not None:  # the synonym must take whole nodes
                ends = {starts[k] + spans[k]: k for k in range(j, len(nodes))}
                width = ends[starts[j] + found[0]] - j + 1 if starts[j] + found[0] in ends else 0
            if width:
                span = nodes[j : j + width]
                typed = syntax.AndGroup([self._spellings(n) for n in span if n.text.lower() not in STOPS])
                others = [_term_node(t, span[0].startchar, span[-1].endchar) for t in found[1]]
                out.append(_Alternatives([typed, *others]))
                j += width
                continue
            node = nodes[j]
            if node.text.lower() not in STOPS:
                if _CORRECTABLE.fullmatch(node.text):
                    self.seen.append(Word(node.text, node.startchar, node.endchar))
                out.append(self._spellings(node))
            j += 1
        return out  # no spaces between: Whoosh drops them before the operators are read

    def _spellings(self, node: Any) -> Any:
        others = spellings(node.text)[1:] if len(words(node.text)) == 1 else ()
        if not others:
            return node
        copies = []
        for text in others:
            copy = syntax.WordNode(text)
            copy.fieldname, copy.boost = node.fieldname, node.boost
            copy.startchar, copy.endchar = node.startchar, node.endchar
            copies.append(copy)
        return _Alternatives([node, *copies])


def _bare(node: Any) -> bool:
    return type(node) is syntax.WordNode and node.fieldname is None


def _term_node(term: str, start: int, end: int) -> Any:
    """A synonym's term as a word or, of several words, a phrase; placed where the typed words were."""
    node = syntax.WordNode(term) if len(words(term)) == 1 else _PhrasePlugin.PhraseNode(term, start, slop=1)
    node.startchar, node.endchar = start, end
    return node


class Reader:
    """Reads query text into `Parsed`, for one schema and its default fields, with the synonyms
    of the file `synonyms` (read again when it changes; None: no synonyms)."""

    def __init__(
        self,
        schema: Schema,
        fields: Sequence[str],
        searchable: Sequence[str],
        aliases: dict[str, list[str]],
        boosts: dict[str, float],
        synonyms: Path | None = None,
    ):
        self.schema = schema
        self.fields = list(fields)
        self.aliases = aliases
        self.boosts = boosts
        self.known = set(searchable) | {a for names in aliases.values() for a in names}
        self.searchable = sorted(searchable)
        self.stemmed = frozenset(n for n in fields if schema[n].supports("positions"))
        self._synonyms = SynonymsFile(synonyms)
        self._parsed: dict[tuple[str, Any], Parsed] = {}  # (text, synonyms' version) -> parsed, for default fields
        self._lock = threading.Lock()

    def synonyms(self) -> Synonyms:
        with self._lock:
            return self._synonyms.current()

    def read(self, text: str, fields: Sequence[str] | None = None) -> Parsed:
        """`text` parsed; QueryError with a sentence saying what to fix when it cannot be read."""
        synonyms = self.synonyms()
        key = (text, synonyms.version)
        if not fields and key in self._parsed:  # parsing costs ~2 ms; pages parse each query twice
            return self._parsed[key]
        parsed = self._parse(text, synonyms, fields)
        if not fields:
            if len(self._parsed) >= 512:
                self._parsed.clear()
            self._parsed[key] = parsed
        return parsed

    def check(self, text: str) -> str:
        """The text stripped, or QueryError with a sentence saying what to fix."""
        text = text.strip()
        if not text:
            raise QueryError("type something to search for")
        if text.count('"') % 2:
            raise QueryError(f'unbalanced quotes in {text!r}: close the phrase with another "')
        depth = 0
        for ch in text:
            depth += {"(": 1, ")": -1}.get(ch, 0)
            if depth < 0:
                break
        if depth:
            raise QueryError(f"unbalanced brackets in {text!r}: every ( needs a )")
        for name in _FIELD_RE.findall(text):
            if name not in self.known and not name.lower().startswith(("http", "https")):
                raise QueryError(f"unknown field {name!r}; search one of: {', '.join(self.searchable)}")
        return text

    def _parse(self, text: str, synonyms: Synonyms, fields: Sequence[str] | None) -> Parsed:
        text = self.check(text)
        plugin = _Words(synonyms, self.stemmed)
        if fields:
            parser = MultifieldParser(list(fields), self.schema, group=syntax.OrGroup)
        else:
            parser = MultifieldParser(self.fields, self.schema, fieldboosts=self.boosts)
            parser.add_plugin(FieldAliasPlugin(self.aliases))
        parser.add_plugin(plugin)
        try:
            nodes = parser.process(text)
            query = self._finish(nodes.query(parser))
            clauses = (
                [c for node in nodes if (c := self._finish(node.query(parser))) is not NullQuery]
                if not fields and not _NOT_PLAIN.search(text)
                else []
            )
        except Exception as exc:  # Whoosh raises assorted types for odd input
            raise QueryError(f"could not understand the query {text!r}: {exc}") from exc
        if query is NullQuery or isinstance(query, type(NullQuery)):
            raise QueryError(
                f"nothing to search for in {text!r}: very common words are ignored; add a more specific term"
            )
        return Parsed(text, query, tuple(clauses) if len(clauses) > 1 else (), tuple(plugin.seen))

    def _finish(self, q: Query | None) -> Query:
        return NullQuery if q is None else q.normalize().accept(self._phrases_where_possible)

    def _phrases_where_possible(self, q: Query) -> Query:
        """A phrase on a field that keeps no positions (tags, sectors) becomes 'all of these words':
        Whoosh would raise on it at search time, and `"a,b c"` is a fair thing to type."""
        if isinstance(q, Phrase) and not self.schema[q.fieldname].supports("positions"):
            return And([Term(q.fieldname, w) for w in q.words], boost=q.boost)
        return q
