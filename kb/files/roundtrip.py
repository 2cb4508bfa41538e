"""Round-trip edits of an entry's front matter with ruamel.yaml.

`apply(text, values)` changes only the keys whose values differ: comments, quoting, key order,
layout and keys the schema does not know are kept, and the body stays byte for byte unless it
was edited (CRLF files stay CRLF). `set_status_text` changes the status line alone.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import FoldedScalarString, LiteralScalarString, PlainScalarString

from kb.errors import KbError
from kb.model.entry import MEASURE_FIELDS, RISK_FIELDS, SOURCE_FIELDS, TOP_FIELDS

FOLD_WIDTH = 80


# Field kinds. Text is folded to one line; lists are comma-separated in the form.
TEXT, CHOICE, DATE, SCORE, LIST, CHECKS, SOURCE_DATE = [
    "text",
    "choice",
    "date",
    "score",
    "list",
    "checks",
    "source-date",
]


TOP_KINDS = {
    "title": TEXT,
    "summary": TEXT,
    "tlp": CHOICE,
    "share_with": LIST,
    "category": CHOICE,
    "horizon": CHOICE,
    "maturity": CHOICE,
    "reviewed": DATE,
    "tags": LIST,
    "sectors": LIST,
    "drivers": CHECKS,
    "keywords": LIST,
    "related": LIST,
}


RISK_KINDS = {
    "id": TEXT,
    "title": TEXT,
    "description": TEXT,
    "role": CHOICE,
    "crime_types": LIST,
    "drivers": CHECKS,
    "likelihood": SCORE,
    "impact": SCORE,
    "confidence": CHOICE,
    "trend": CHOICE,
}


MEASURE_KINDS = {"actor": CHOICE, "measure": TEXT, "mechanism": CHOICE, "status": CHOICE, "reference": TEXT}


SOURCE_KINDS = {"title": TEXT, "publisher": TEXT, "url": TEXT, "date": SOURCE_DATE}


class EditorError(KbError):
    """The file cannot be edited in the form (e.g. its front matter is not valid YAML)."""


class _Constructor(RoundTripConstructor):
    """Round-trip loading, but an impossible date (2026-02-30) stays text for the validator to name."""

    def construct_yaml_timestamp(self, node: Any, values: Any = None) -> Any:  # type: ignore[override]
        try:
            return super().construct_yaml_timestamp(node, values)
        except ValueError:
            return PlainScalarString(node.value)


_Constructor.add_constructor("tag:yaml.org,2002:timestamp", _Constructor.construct_yaml_timestamp)


def _yaml(yaml_text: str) -> YAML:
    y = YAML(typ="rt")
    y.Constructor = _Constructor
    y.preserve_quotes = True
    y.width = 4096  # never re-wrap a line that was not changed
    seq, offset = 4, 2
    found = re.search(r"^( *)\w[^\n]*:[ \t]*(?:#[^\n]*)?\n(?:[ \t]*#[^\n]*\n)*( *)- ", yaml_text, re.MULTILINE)
    if found:
        offset = max(0, len(found.group(2)) - len(found.group(1)))
        seq = offset + 2
    y.indent(mapping=2, sequence=seq, offset=offset)
    return y


@dataclass
class _Parts:
    bom: str
    opening: str  # the '---' line, with its line ending
    yaml_text: str
    closing: str
    body: str
    newline: str


def _split(text: str) -> _Parts:
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    lines = text[len(bom) :].splitlines(keepends=True)
    if not lines or lines[0].rstrip() != "---":
        raise EditorError("the file must start with a '---' line; fix it in a text editor first")
    for number, line in enumerate(lines[1:], start=1):
        if line.rstrip() == "---":
            newline = "\r\n" if lines[0].endswith("\r\n") else "\n"
            return _Parts(bom, lines[0], "".join(lines[1:number]), line, "".join(lines[number + 1 :]), newline)
    raise EditorError("the front matter is never closed with a '---' line; fix it in a text editor first")


def _load(parts: _Parts) -> tuple[YAML, CommentedMap]:
    y = _yaml(parts.yaml_text)
    try:
        data = y.load(parts.yaml_text.replace("\r\n", "\n"))
    except YAMLError as exc:
        raise EditorError(
            f"the front matter is not valid YAML ({exc.__class__.__name__}); "
            "fix it in a text editor, or run kb validate for the line"
        ) from exc
    if data is None:
        data = CommentedMap()
    if not isinstance(data, CommentedMap):
        raise EditorError("the front matter must be a mapping of 'field: value' lines")
    return y, data


def sha256(data: str | bytes) -> str:
    return hashlib.sha256(data.encode("utf-8") if isinstance(data, str) else data).hexdigest()


def split_list(text: str) -> list[str]:
    """'a, "b, c", d' -> ['a', 'b, c', 'd'] (blank items dropped)."""
    return [
        (m.group(1) if m.group(1) is not None else m.group(2)).strip()
        for m in re.finditer(r'\s*(?:"([^"]*)"|([^,]+))\s*(?:,|$)', text or "")
        if (m.group(1) if m.group(1) is not None else m.group(2)).strip()
    ]


def _is_blank(group: dict[str, Any], kinds: dict[str, str]) -> bool:
    return not any(group.get(key) for key in kinds) and not group.get("measures")


def _convert(kind: str, raw: Any) -> Any:
    """A form value as the YAML value to write (None for empty)."""
    if kind == CHECKS:
        return [str(v) for v in raw] or None
    if kind == LIST:
        return split_list(raw) or None
    text = " ".join(str(raw or "").split())
    if not text:
        return None
    if kind == DATE:
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            return text
    if kind == SCORE:
        return int(text) if re.fullmatch(r"-?\d{1,3}", text) else text
    if kind == SOURCE_DATE:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            try:
                return dt.date.fromisoformat(text)
            except ValueError:
                return text
        return int(text) if re.fullmatch(r"\d{4}", text) else text
    return text


def _plain(value: Any) -> Any:
    """A value in a form comparable across YAML and the form: equal means 'not changed'."""
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()[:10]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return " ".join(value.split())
    return value


def _folded(text: str, indent: int) -> FoldedScalarString:
    import textwrap

    out = FoldedScalarString(text)
    positions, at = [], 0
    for line in textwrap.wrap(text, max(40, FOLD_WIDTH - indent), break_long_words=False, break_on_hyphens=False)[:-1]:
        at = text.index(line, at) + len(line)
        positions.append(at)
        at += 1
    out.fold_pos = positions  # type: ignore[attr-defined]
    return out


def _insert_at(data: CommentedMap, key: str, value: Any, order: list[str]) -> None:
    """Insert a new key after the last present key that comes before it in the schema's order."""
    before = order[: order.index(key)] if key in order else order
    position = 0
    for index, existing in enumerate(data):
        if existing in before:
            position = index + 1
    data.insert(position, key, value)


class _Changes:
    def __init__(self) -> None:
        self.fields: list[str] = []

    def add(self, name: str) -> None:
        if name not in self.fields:
            self.fields.append(name)


def _set(
    data: CommentedMap, key: str, kind: str, raw: Any, order: list[str], where: str, changes: _Changes, indent: int
) -> None:
    new = _convert(kind, raw)
    old = data.get(key)
    if kind == CHECKS and isinstance(new, list) and isinstance(old, list):  # keep the file's order
        new = [v for v in old if v in new] + [v for v in new if v not in old]
    if _plain(old) == _plain(new) and (key in data or new is None):
        return
    changes.add(where)
    if new is None:  # emptied: the key goes (a required one is then reported as required)
        if key in data:
            del data[key]
        return
    if isinstance(new, list):
        if isinstance(old, CommentedSeq) and all(not isinstance(v, (dict, list)) for v in old):
            if not old or old.fa.flow_style() is not False:
                old.fa.set_flow_style()
            del old[:]
            old.extend(new)
            return
        seq = CommentedSeq(new)
        seq.fa.set_flow_style()
        new = seq
    elif isinstance(new, str) and isinstance(old, FoldedScalarString):
        new = _folded(new, indent + 2)
    elif isinstance(new, str) and isinstance(old, LiteralScalarString):
        new = LiteralScalarString(new)
    if key in data:
        data[key] = new
    else:
        _insert_at(data, key, new, order)


def _set_group(
    data: CommentedMap,
    group: dict[str, Any],
    kinds: dict[str, str],
    order: list[str],
    where: str,
    changes: _Changes,
    indent: int,
) -> None:
    for key, kind in kinds.items():
        _set(data, key, kind, group.get(key), order, where, changes, indent)


def _origin(group: dict[str, Any], old: list[Any], taken: set[int]) -> int | None:
    try:
        index = int(group.get("origin") or "")
    except ValueError:
        return None
    if 0 <= index < len(old) and isinstance(old[index], CommentedMap) and index not in taken:
        return index
    return None


def _plan_groups(groups: list[dict[str, Any]], old_list: list[Any]) -> list[tuple[int | None, dict[str, Any]]]:
    """Pair each submitted group with the index of the old item it came from (None for a new one)."""
    taken: set[int] = set()
    plan: list[tuple[int | None, dict[str, Any]]] = []
    for group in groups:
        index = _origin(group, old_list, taken)
        if index is not None:
            taken.add(index)
        plan.append((index, group))
    return plan


def _clear_groups(parent: CommentedMap, key: str, old_list: list[Any], where: str, changes: _Changes) -> None:
    """Every item was removed: `risks` becomes an empty flow list `[]`, any other key goes."""
    if key in parent and old_list:
        changes.add(where)
        if key == "risks":
            empty = CommentedSeq()
            empty.fa.set_flow_style()
            parent[key] = empty
        else:
            del parent[key]


def _fill_group(
    item: CommentedMap,
    group: dict[str, Any],
    kinds: dict[str, str],
    where: str,
    changes: _Changes,
    indent: int,
    nested: Callable[[CommentedMap, dict[str, Any], str], None] | None,
) -> None:
    """Set one item's fields from its submitted group, then its nested lists (a risk's measures)."""
    _set_group(item, group, kinds, list(kinds), where, changes, indent + 4)
    if nested:
        nested(item, group, where)


def _update_seq(
    seq: CommentedSeq,
    plan: list[tuple[int | None, dict[str, Any]]],
    kept: list[int],
    fill: Callable[[CommentedMap, dict[str, Any]], None],
) -> None:
    """Edit `seq` in place (kept items are in their old order): removed items go, new ones are
    appended, so kept items keep their comments."""
    if seq.fa.flow_style():
        seq.fa.set_block_style()
    for index in sorted(set(range(len(seq))) - set(kept), reverse=True):
        del seq[index]
    position = 0
    for index, group in plan:
        if index is None:
            item = CommentedMap()
            seq.append(item)
        else:
            item = seq[position]
            position += 1
        fill(item, group)


def _rebuild_seq(
    old_list: list[Any],
    plan: list[tuple[int | None, dict[str, Any]]],
    fill: Callable[[CommentedMap, dict[str, Any]], None],
) -> CommentedSeq:
    """A new list in the submitted order, reusing the old items that are kept."""
    seq = CommentedSeq()
    for index, group in plan:
        item = old_list[index] if index is not None else CommentedMap()
        fill(item, group)
        seq.append(item)
    return seq


def _set_groups(
    parent: CommentedMap,
    key: str,
    groups: list[dict[str, Any]],
    kinds: dict[str, str],
    order: list[str],
    parent_order: list[str],
    where: str,
    changes: _Changes,
    indent: int,
    nested: Callable[[CommentedMap, dict[str, Any], str], None] | None = None,
) -> None:
    """Update a list of mappings (risks, measures, sources) in place: kept items keep their
    comments; removed ones go; new ones are appended."""
    old = parent.get(key)
    if not isinstance(old, CommentedSeq) or any(not isinstance(v, CommentedMap) for v in old):
        old_list: list[Any] = list(old) if isinstance(old, list) else []
    else:
        old_list = old
    plan = _plan_groups(groups, old_list)
    kept = [i for i, _ in plan if i is not None]
    structural = kept != sorted(kept) or len(kept) != len(old_list) or any(i is None for i, _ in plan)
    if not groups:
        _clear_groups(parent, key, old_list, where, changes)
        return

    def fill(item: CommentedMap, group: dict[str, Any]) -> None:
        _fill_group(item, group, kinds, where, changes, indent, nested)

    if isinstance(old, CommentedSeq) and old_list is old and kept == sorted(kept):
        _update_seq(old, plan, kept, fill)
    else:
        seq = _rebuild_seq(old_list, plan, fill)
        if key in parent:
            parent[key] = seq
        else:
            _insert_at(parent, key, seq, parent_order)
    if structural:
        changes.add(where)


def _apply_data(data: CommentedMap, values: dict[str, Any], changes: _Changes) -> None:
    for key, kind in TOP_KINDS.items():
        if key in values:
            _set(data, key, kind, values[key], TOP_FIELDS, key, changes, 0)

    def measures(risk: CommentedMap, group: dict[str, Any], where: str) -> None:
        _set_groups(
            risk,
            "measures",
            group.get("measures", []),
            MEASURE_KINDS,
            list(MEASURE_FIELDS),
            RISK_FIELDS,
            "risks",
            changes,
            4,
        )

    if "risks" in values:
        _set_groups(
            data,
            "risks",
            values["risks"],
            RISK_KINDS,
            list(RISK_FIELDS),
            TOP_FIELDS,
            "risks",
            changes,
            0,
            nested=measures,
        )
    if "sources" in values:
        _set_groups(
            data, "sources", values["sources"], SOURCE_KINDS, list(SOURCE_FIELDS), TOP_FIELDS, "sources", changes, 0
        )


def _assemble(parts: _Parts, y: YAML, data: CommentedMap, yaml_changed: bool, body: str) -> str:
    yaml_text = parts.yaml_text
    if yaml_changed:
        out = io.StringIO()
        y.dump(data, out)
        yaml_text = out.getvalue()
        if parts.newline == "\r\n":
            yaml_text = yaml_text.replace("\n", "\r\n")
    return parts.bom + parts.opening + yaml_text + parts.closing + body


def apply(text: str, values: dict[str, Any]) -> tuple[str, list[str]]:
    """The file text with `values` applied, and the names of the fields that changed.

    Only changed keys are rewritten; with no change the text is returned as it was.
    """
    parts = _split(text)
    y, data = _load(parts)
    changes = _Changes()
    _apply_data(data, values, changes)
    body = parts.body
    if "body" in values:
        wanted = values["body"].replace("\r\n", "\n")
        if wanted != parts.body.replace("\r\n", "\n"):
            changes.add("body")
            body = wanted.replace("\n", parts.newline) if parts.newline == "\r\n" else wanted
    yaml_changed = any(name != "body" for name in changes.fields)
    return _assemble(parts, y, data, yaml_changed, body), changes.fields


def set_status_text(text: str, status: str) -> tuple[str, bool]:
    """The file text with only `status` changed (its comment and everything else kept)."""
    parts = _split(text)
    y, data = _load(parts)
    if data.get("status") == status:
        return text, False
    if "status" in data:
        data["status"] = status
    else:
        _insert_at(data, "status", status, TOP_FIELDS)
    return _assemble(parts, y, data, True, parts.body), True
