"""Split a Markdown file into YAML front matter and body, keeping line numbers.

`parse` never swallows an error: a problem raises `FrontMatterError` with the line
(1-based, counted in the whole file) where it was found.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

try:  # libyaml is several times faster; PyYAML's wheels ship it
    _Base: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - only without libyaml
    _Base = yaml.SafeLoader


class _Loader(_Base):  # type: ignore[misc,valid-type]
    """Safe loading, but an impossible date (2026-02-30) stays text for the validator to name."""


def _timestamp(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> object:
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except ValueError:
        return node.value


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)

Path_ = tuple[str | int, ...]
FENCE = "---"


class FrontMatterError(ValueError):
    def __init__(self, line: int, message: str):
        self.line = line
        self.message = message
        super().__init__(f"line {line}: {message}")


@dataclass
class FrontMatter:
    meta: dict[str, Any]
    body: str
    body_line: int  # the file line where the body starts
    lines: dict[Path_, int] = field(default_factory=dict)  # key path -> file line

    def line(self, *path: str | int) -> int:
        """The line of the deepest known part of `path` (the key itself when known)."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return 2


def split(text: str) -> tuple[str, str, int]:
    """Return (yaml_text, body, body_line). Raises when the fences are missing."""
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].rstrip() != FENCE:
        raise FrontMatterError(1, "the file must start with a '---' line, then the front matter, then '---'")
    for number, line in enumerate(lines[1:], start=2):
        if line.rstrip() == FENCE:
            return "".join(lines[1 : number - 1]), "".join(lines[number:]), number + 1
    raise FrontMatterError(len(lines), "the front matter is never closed: add a '---' line after it")


def _walk(node: yaml.Node, path: Path_, lines: dict[Path_, int], offset: int) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            line = key_node.start_mark.line + offset
            if key in seen:
                raise FrontMatterError(line, f"'{key}' appears twice (first on line {seen[key]}); keep one")
            seen[key] = line
            lines[path + (key,)] = line
            _walk(value_node, path + (key,), lines, offset)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[path + (index,)] = item.start_mark.line + offset
            _walk(item, path + (index,), lines, offset)


def parse(text: str) -> FrontMatter:
    """Parse a whole entry file. Line numbers are those of the file, not of the YAML."""
    yaml_text, body, body_line = split(text)
    offset = 2  # YAML line 0 is file line 2
    loader = _Loader(yaml_text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise FrontMatterError(2, "the front matter is empty: add at least title, summary, status and tlp")
        lines: dict[Path_, int] = {}
        _walk(node, (), lines, offset)
        meta = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + offset if mark else 2
        what = exc.problem or exc.context or "invalid YAML"
        raise FrontMatterError(
            line,
            f"YAML syntax error: {what}; check the indentation and quote values that contain ': ' or start with [ {{ * & ! | > % @ `",
        ) from exc
    except yaml.YAMLError as exc:
        raise FrontMatterError(2, f"YAML error: {exc}") from exc
    finally:
        loader.dispose()
    if not isinstance(meta, dict):
        raise FrontMatterError(2, "the front matter must be a mapping of 'field: value' lines")
    return FrontMatter(meta=meta, body=body, body_line=body_line, lines=lines)
