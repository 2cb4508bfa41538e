"""Read a Markdown file and split it into YAML front matter and body, keeping line numbers.

`read_bytes` refuses a folder, a pipe or a file over 1 MiB before reading it; `decode` wants
UTF-8. `parse` never swallows an error: a problem raises `FrontMatterError` with the line
(1-based, counted in the whole file) where it was found. Front matter is plain data: YAML
anchors and aliases (`&name`, `*name`) are refused before anything is built, since a few
lines of them can stand for billions of values ("billion laughs"); so are characters YAML
does not allow and keys that are lists or mappings.
"""

from __future__ import annotations

import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

try:  # libyaml is several times faster; PyYAML's wheels ship it
    _Base: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - only without libyaml
    _Base = yaml.SafeLoader


class _Loader(_Base):  # type: ignore[misc,valid-type]
    """Safe loading, but an impossible date (2026-02-30) or a number too long for Python
    (over 4300 digits) stays text for the validator to name."""


def _timestamp(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> object:
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except (ValueError, OverflowError):
        return node.value


def _int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> object:
    try:
        return yaml.SafeLoader.construct_yaml_int(loader, node)
    except ValueError:
        return node.value


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)
_Loader.add_constructor("tag:yaml.org,2002:int", _int)
# what YAML refuses to read (PyYAML's reader): control characters other than tab, LF and CR
_NOT_YAML = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

Path_ = tuple[str | int, ...]
FENCE = "---"
MAX_BYTES = 1024 * 1024  # the largest entry file read; the biggest real one is ~20 KB


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


def read_bytes(path: Path) -> bytes:
    """The bytes of an entry file. A folder, a pipe (reading one waits for a writer forever) or a
    file over `MAX_BYTES` is refused before a byte is read."""
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise FrontMatterError(1, "this is a folder, not an entry file; an entry is a Markdown file")
        if not stat.S_ISREG(info.st_mode):
            raise FrontMatterError(1, "this is not a regular file (a pipe or a device?); an entry is a Markdown file")
        if info.st_size > MAX_BYTES:
            raise FrontMatterError(1, _too_big(info.st_size))
        return path.read_bytes()
    except OSError as exc:
        raise FrontMatterError(0, f"cannot read the file: {exc.strerror}") from exc


def _too_big(size: int) -> str:
    return f"the file is {size / 1024 / 1024:.1f} MiB; an entry file must be at most {MAX_BYTES // 1024 // 1024} MiB"


def decode(data: bytes) -> str:
    """An entry file's text: UTF-8, at most `MAX_BYTES`."""
    if len(data) > MAX_BYTES:
        raise FrontMatterError(1, _too_big(len(data)))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise FrontMatterError(line, "the file is not UTF-8 text; save it as UTF-8") from exc


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
            line = key_node.start_mark.line + offset
            if not isinstance(key_node, yaml.ScalarNode):
                raise FrontMatterError(line, "a key must be a plain name such as 'title', not a list or a mapping")
            key = key_node.value
            if key in seen:
                raise FrontMatterError(line, f"'{key}' appears twice (first on line {seen[key]}); keep one")
            seen[key] = line
            lines[path + (key,)] = line
            _walk(value_node, path + (key,), lines, offset)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[path + (index,)] = item.start_mark.line + offset
            _walk(item, path + (index,), lines, offset)


def _refuse_characters(yaml_text: str, offset: int) -> None:
    bad = _NOT_YAML.search(yaml_text)
    if bad:
        line = yaml_text.count("\n", 0, bad.start()) + offset
        raise FrontMatterError(
            line, f"the control character U+{ord(bad.group()):04X} is not allowed in front matter; delete it"
        )


def refuse_anchors(yaml_text: str, offset: int = 0) -> None:
    """Refuse `&name` and `*name` from the parser's events, before any node is built."""
    if "&" not in yaml_text and "*" not in yaml_text:  # neither can be written without its sign
        return
    loader = _Loader(yaml_text)
    try:
        while not loader.check_event(yaml.StreamEndEvent):
            event = loader.get_event()
            name = getattr(event, "anchor", None)
            if name is not None:
                sign = "*" if isinstance(event, yaml.AliasEvent) else "&"
                raise FrontMatterError(
                    event.start_mark.line + offset,
                    f"YAML anchors and aliases ('{sign}{name[:40]}') are not allowed in front matter; "
                    "write the value out in full (a quoted value may contain & and *)",
                )
    finally:
        loader.dispose()


def _syntax_error(exc: yaml.MarkedYAMLError, yaml_text: str, offset: int) -> FrontMatterError:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + offset if mark else 2
    source = yaml_text.splitlines()[mark.line :][:1] if mark else []
    indent = source[0][: len(source[0]) - len(source[0].lstrip())] if source else ""
    if "\t" in indent:
        return FrontMatterError(line, "YAML syntax error: a tab indents this line; YAML indents with spaces only")
    what = exc.problem or exc.context or "invalid YAML"
    return FrontMatterError(
        line,
        f"YAML syntax error: {what}; check the indentation and quote values that contain ': ' or start with [ {{ * & ! | > % @ `",
    )


def parse(text: str) -> FrontMatter:
    """Parse a whole entry file. Line numbers are those of the file, not of the YAML."""
    yaml_text, body, body_line = split(text)
    offset = 2  # YAML line 0 is file line 2
    _refuse_characters(yaml_text, offset)
    loader = _Loader(yaml_text)
    try:
        refuse_anchors(yaml_text, offset)
        node = loader.get_single_node()
        if node is None:
            raise FrontMatterError(2, "the front matter is empty: add at least title, summary, status and tlp")
        lines: dict[Path_, int] = {}
        _walk(node, (), lines, offset)
        meta = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc, yaml_text, offset) from exc
    except yaml.YAMLError as exc:
        raise FrontMatterError(2, f"YAML error: {str(exc).splitlines()[0]}") from exc
    finally:
        loader.dispose()
    if not isinstance(meta, dict):
        raise FrontMatterError(2, "the front matter must be a mapping of 'field: value' lines")
    return FrontMatter(meta=meta, body=body, body_line=body_line, lines=lines)
