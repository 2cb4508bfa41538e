"""The synonyms file, `entries/synonyms.yaml`: words and phrases a search treats as one.

Staff edit it; `kb validate` checks it and search reads it at query time (`kb.index.language`).
It is a YAML list, one group a line, the terms of a group separated by `=`:

    - UAV = drone = unmanned aircraft
    - APP fraud = authorised push payment fraud

A term is one or more words (letters, digits, `-`, `'`, `&`, `.`, `+`, `/`); nothing a query
treats as syntax (quotes, brackets, `:`, `*`, `?`, `^`, `~`). Case does not matter, and neither
does the spelling (US or UK) or a plural: the search folds those itself. Pure: reading and
checking only, every problem at its line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from kb.errors import Problem

FILE_NAME = "synonyms.yaml"  # in the entries folder
MAX_BYTES = 256 * 1024
MAX_TERMS = 20  # in one group
MAX_WORDS = 8  # in one term
_TERM = re.compile(r"[\w'&.+/-]+(?: [\w'&.+/-]+)*")
_SYNTAX = re.compile(r"[\"():*?^~\[\]{}\\]")
_WORD = re.compile(r"\w+")
# the query language's own words: a term made of one would read as an operator
_OPERATORS = {"AND", "OR", "NOT", "ANDNOT", "ANDMAYBE", "REQUIRE", "TO"}


@dataclass(frozen=True)
class Group:
    line: int
    terms: tuple[str, ...]  # as written, spaces collapsed


def parse(text: str, shown: Path) -> tuple[list[Group], list[Problem]]:
    """The groups in a synonyms file's text, and every problem (`shown` names the file in them)."""
    problems: list[Problem] = []
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        reason = getattr(exc, "problem", None) or str(exc)
        return [], [Problem(shown, line, f"not valid YAML ({reason}); write one group a line: - UAV = drone")]
    if root is None:
        return [], []
    if not isinstance(root, yaml.SequenceNode):
        return [], [Problem(shown, root.start_mark.line + 1, "must be a list, one group a line: - UAV = drone")]
    groups: list[Group] = []
    seen: dict[str, int] = {}  # term, lower case -> the line of its group
    for node in root.value:
        line = node.start_mark.line + 1
        if not isinstance(node, yaml.ScalarNode) or not node.value.strip():
            problems.append(Problem(shown, line, "each group is one line of terms separated by =, like: - UAV = drone"))
            continue
        terms, found = _terms(node.value, shown, line)
        problems.extend(found)
        for term in terms:
            key = term.lower()
            if key in seen:
                where = "earlier in this group" if seen[key] == line else f"in the group on line {seen[key]}"
                problems.append(Problem(shown, line, f"{term!r} is already {where}: put each term in one group"))
            seen[key] = line
        if len(terms) >= 2 and not found:
            groups.append(Group(line, tuple(terms)))
    return groups, problems


def _terms(value: str, shown: Path, line: int) -> tuple[list[str], list[Problem]]:
    problems: list[Problem] = []
    terms = [" ".join(t.split()) for t in value.split("=")]
    if len(terms) < 2:
        return terms, [
            Problem(shown, line, f"{value.strip()!r} is one term: a group needs two or more, like UAV = drone")
        ]
    if len(terms) > MAX_TERMS:
        problems.append(Problem(shown, line, f"{len(terms)} terms in one group; split it (at most {MAX_TERMS})"))
    for term in terms:
        if not term:
            problems.append(Problem(shown, line, "an empty term: remove the extra = or write the term"))
        elif bad := _SYNTAX.search(term):
            problems.append(
                Problem(shown, line, f"{term!r} has {bad.group()!r}, which search reads as query syntax; leave it out")
            )
        elif not _TERM.fullmatch(term):
            problems.append(Problem(shown, line, f"{term!r}: use only words, digits, spaces and - ' & . + /"))
        elif len(_WORD.findall(term)) > MAX_WORDS:
            problems.append(Problem(shown, line, f"{term!r} is too long for a synonym (at most {MAX_WORDS} words)"))
        elif term in _OPERATORS:
            problems.append(
                Problem(shown, line, f"{term!r} is an operator in the query language; write it in lower case")
            )
    return terms, problems


def read(path: Path, shown: Path | None = None) -> tuple[list[Group], list[Problem]]:
    """The groups of the file at `path` (none, and no problem, when there is no file)."""
    shown = shown or path
    if not path.is_file():
        return [], []
    try:
        if path.stat().st_size > MAX_BYTES:
            return [], [Problem(shown, 0, f"is over {MAX_BYTES // 1024} KB; a synonyms file is a short list")]
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return [], [Problem(shown, 0, "is not UTF-8 text; save it as UTF-8")]
    except OSError as exc:
        return [], [Problem(shown, 0, f"cannot be read ({exc.strerror or exc})")]
    return parse(text, shown)
