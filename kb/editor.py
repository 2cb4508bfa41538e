"""The staff editor's logic, below the web: form values from an entry file, form values back into
the file, validation mapped to form fields, and saving that never loses or clobbers work.

- `form_values(text)` turns an entry file into the flat values a form shows.
- `values_from_form(form)` reads a submitted form (risks, measures and sources are repeatable
  groups named `risks-0-title`, `risks-0-measures-1-actor`, `sources-2-url`...).
- `apply(text, values)` updates the front matter with ruamel.yaml in round-trip mode, changing
  only the keys whose values differ: comments, quoting, layout and keys the schema does not know
  are kept, and the body stays byte for byte unless it was edited.
- `check(...)` validates the candidate text with the same checker as `kb validate` (the same
  words) and says which form field each problem belongs to.
- `save(...)` refuses to write when the file changed since the editor was opened (the form
  carries the file's sha256), and writes atomically (temporary file, fsync, rename).
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import io
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import FoldedScalarString, LiteralScalarString, PlainScalarString

from kb import taxonomy as tx
from kb.atomic import write_atomic
from kb.entry import MEASURE_FIELDS, RISK_FIELDS, SLUG_RE, SOURCE_FIELDS, TOP_FIELDS, build_entry, slugify
from kb.errors import KbError, NotFound
from kb.frontmatter import FrontMatter, FrontMatterError, parse

WRITE_LOCK = threading.RLock()  # one writer at a time in this process: files, then the index
FOLD_WIDTH = 80

# Field kinds. Text is folded to one line; lists are comma-separated in the form.
TEXT, CHOICE, DATE, SCORE, LIST, CHECKS, SOURCE_DATE = ["text", "choice", "date", "score", "list", "checks", "source-date"]
TOP_KINDS = {
    "title": TEXT, "summary": TEXT, "tlp": CHOICE, "share_with": LIST, "category": CHOICE, "horizon": CHOICE,
    "maturity": CHOICE, "reviewed": DATE, "tags": LIST, "sectors": LIST, "drivers": CHECKS, "keywords": LIST,
    "related": LIST,
}
RISK_KINDS = {
    "id": TEXT, "title": TEXT, "description": TEXT, "role": CHOICE, "crime_types": LIST, "drivers": CHECKS,
    "likelihood": SCORE, "impact": SCORE, "confidence": CHOICE, "trend": CHOICE,
}
MEASURE_KINDS = {"actor": CHOICE, "measure": TEXT, "mechanism": CHOICE, "status": CHOICE, "reference": TEXT}
SOURCE_KINDS = {"title": TEXT, "publisher": TEXT, "url": TEXT, "date": SOURCE_DATE}
STATUS_ACTIONS = {"publish": "published", "unpublish": "draft", "archive": "archived", "review": "review"}


class EditorError(KbError):
    """The file cannot be edited in the form (e.g. its front matter is not valid YAML)."""


# -- reading and writing YAML -------------------------------------------------------------------


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
    lines = text[len(bom):].splitlines(keepends=True)
    if not lines or lines[0].rstrip() != "---":
        raise EditorError("the file must start with a '---' line; fix it in a text editor first")
    for number, line in enumerate(lines[1:], start=1):
        if line.rstrip() == "---":
            newline = "\r\n" if lines[0].endswith("\r\n") else "\n"
            return _Parts(bom, lines[0], "".join(lines[1:number]), line, "".join(lines[number + 1:]), newline)
    raise EditorError("the front matter is never closed with a '---' line; fix it in a text editor first")


def _load(parts: _Parts) -> tuple[YAML, CommentedMap]:
    y = _yaml(parts.yaml_text)
    try:
        data = y.load(parts.yaml_text.replace("\r\n", "\n"))
    except YAMLError as exc:
        raise EditorError(f"the front matter is not valid YAML ({exc.__class__.__name__}); "
                          "fix it in a text editor, or run kb validate for the line") from exc
    if data is None:
        data = CommentedMap()
    if not isinstance(data, CommentedMap):
        raise EditorError("the front matter must be a mapping of 'field: value' lines")
    return y, data


def sha256(data: str | bytes) -> str:
    return hashlib.sha256(data.encode("utf-8") if isinstance(data, str) else data).hexdigest()


# -- form values --------------------------------------------------------------------------------


def _show(value: Any) -> Any:
    """A front matter value as the form shows it."""
    if value is None:
        return ""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()[:10]
    if isinstance(value, list):
        return join_list(value)
    if isinstance(value, dict):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return " ".join(str(value).split())


def join_list(values: Iterable[Any]) -> str:
    out = []
    for v in values:
        text = _show(v) if not isinstance(v, str) else v
        out.append(f'"{text}"' if "," in text else text)
    return ", ".join(out)


def split_list(text: str) -> list[str]:
    """'a, "b, c", d' -> ['a', 'b, c', 'd'] (blank items dropped)."""
    return [(m.group(1) if m.group(1) is not None else m.group(2)).strip()
            for m in re.finditer(r'\s*(?:"([^"]*)"|([^,]+))\s*(?:,|$)', text or "")
            if (m.group(1) if m.group(1) is not None else m.group(2)).strip()]


def _checks(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)] if value else []


def _group(data: Any, kinds: dict[str, str], origin: int) -> dict[str, Any]:
    data = data if isinstance(data, dict) else {}
    out: dict[str, Any] = {"origin": str(origin)}
    for key, kind in kinds.items():
        out[key] = _checks(data.get(key)) if kind == CHECKS else _show(data.get(key))
    return out


def form_values(text: str) -> dict[str, Any]:
    """What the editor form shows for an entry file (raises EditorError when it cannot be edited)."""
    parts = _split(text)
    _, data = _load(parts)
    values: dict[str, Any] = {key: (_checks(data.get(key)) if kind == CHECKS else _show(data.get(key)))
                              for key, kind in TOP_KINDS.items()}
    values["status"] = _show(data.get("status"))
    risks = data.get("risks") if isinstance(data.get("risks"), list) else []
    values["risks"] = []
    for i, risk in enumerate(risks):
        group = _group(risk, RISK_KINDS, i)
        measures = risk.get("measures") if isinstance(risk, dict) and isinstance(risk.get("measures"), list) else []
        group["measures"] = [_group(m, MEASURE_KINDS, j) for j, m in enumerate(measures)]
        values["risks"].append(group)
    sources = data.get("sources") if isinstance(data.get("sources"), list) else []
    values["sources"] = [_group(s, SOURCE_KINDS, i) for i, s in enumerate(sources)]
    values["body"] = parts.body.replace("\r\n", "\n")
    values["unknown"] = [key for key in data if key not in TOP_FIELDS]
    return values


def blank_risk() -> dict[str, Any]:
    out: dict[str, Any] = {key: ([] if kind == CHECKS else "") for key, kind in RISK_KINDS.items()}
    out.update(origin="", measures=[])
    return out


def blank_measure() -> dict[str, Any]:
    return {"origin": "", **{key: "" for key in MEASURE_KINDS}}


def blank_source() -> dict[str, Any]:
    return {"origin": "", **{key: "" for key in SOURCE_KINDS}}


def _is_blank(group: dict[str, Any], kinds: dict[str, str]) -> bool:
    return not any(group.get(key) for key in kinds) and not group.get("measures")


_GROUP = re.compile(r"^(risks|sources)-(\d+)-(?:measures-(\d+)-)?([a-z_]+)$")


def values_from_form(form: Any) -> dict[str, Any]:
    """The submitted form as editor values. Blank groups are dropped; groups are renumbered.

    `form` is a Werkzeug MultiDict (or any mapping with `getlist`, or a plain dict).
    """
    getlist: Callable[[str], list[str]] = form.getlist if hasattr(form, "getlist") else (
        lambda k: form[k] if isinstance(form.get(k), list) else ([form[k]] if k in form else []))
    first = lambda k: (getlist(k) or [""])[0]
    values: dict[str, Any] = {key: (getlist(key) if kind == CHECKS else first(key)) for key, kind in TOP_KINDS.items()}
    risks: dict[int, dict[str, Any]] = {}
    measures: dict[tuple[int, int], dict[str, Any]] = {}
    sources: dict[int, dict[str, Any]] = {}
    for name in form:
        match = _GROUP.match(name)
        if not match:
            continue
        kind, i, j, key = match.group(1), int(match.group(2)), match.group(3), match.group(4)
        if kind == "risks" and j is not None:
            if key in MEASURE_KINDS or key == "origin":
                measures.setdefault((i, int(j)), blank_measure())[key] = first(name)
            risks.setdefault(i, blank_risk())
        elif kind == "risks" and (key in RISK_KINDS or key == "origin"):
            risks.setdefault(i, blank_risk())[key] = getlist(name) if RISK_KINDS.get(key) == CHECKS else first(name)
        elif kind == "sources" and (key in SOURCE_KINDS or key == "origin"):
            sources.setdefault(i, blank_source())[key] = first(name)
    for (i, _j), m in sorted(measures.items()):
        if not _is_blank(m, MEASURE_KINDS):
            risks[i]["measures"].append(m)
    values["risks"] = [r for _, r in sorted(risks.items()) if not _is_blank(r, RISK_KINDS)]
    values["sources"] = [s for _, s in sorted(sources.items()) if not _is_blank(s, SOURCE_KINDS)]
    values["body"] = first("body").replace("\r\n", "\n")
    return values


def form_action(values: dict[str, Any], action: str) -> str | None:
    """Add or remove a repeatable group in `values` (the no-JavaScript buttons). Returns a note."""
    parts = action.split(":")
    try:
        numbers = [int(p) for p in parts[1:]]
    except ValueError:
        return None
    risks, sources = values["risks"], values["sources"]
    if parts[0] == "add-risk":
        risks.append(blank_risk())
        return "A blank risk was added at the end. Fill it in, then save."
    if parts[0] == "add-source":
        sources.append(blank_source())
        return "A blank source was added at the end. Fill it in, then save."
    if parts[0] == "add-measure" and numbers and numbers[0] < len(risks):
        risks[numbers[0]]["measures"].append(blank_measure())
        return f"A blank measure was added to risk {numbers[0] + 1}. Fill it in, then save."
    if parts[0] == "remove-risk" and numbers and numbers[0] < len(risks):
        gone = risks.pop(numbers[0])
        return f"Risk {gone.get('id') or numbers[0] + 1} was removed from the form. Save to remove it from the file."
    if parts[0] == "remove-measure" and len(numbers) == 2 and numbers[0] < len(risks) \
            and numbers[1] < len(risks[numbers[0]]["measures"]):
        risks[numbers[0]]["measures"].pop(numbers[1])
        return f"A measure was removed from risk {numbers[0] + 1}. Save to remove it from the file."
    if parts[0] == "remove-source" and numbers and numbers[0] < len(sources):
        sources.pop(numbers[0])
        return "A source was removed from the form. Save to remove it from the file."
    return None


# -- applying values to the file ----------------------------------------------------------------


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


def _set(data: CommentedMap, key: str, kind: str, raw: Any, order: list[str], where: str, changes: _Changes,
         indent: int) -> None:
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


def _set_group(data: CommentedMap, group: dict[str, Any], kinds: dict[str, str], order: list[str], where: str,
               changes: _Changes, indent: int) -> None:
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


def _set_groups(parent: CommentedMap, key: str, groups: list[dict[str, Any]], kinds: dict[str, str],
                order: list[str], parent_order: list[str], where: str, changes: _Changes, indent: int,
                nested: Callable[[CommentedMap, dict[str, Any], str], None] | None = None) -> None:
    """Update a list of mappings (risks, measures, sources) in place: kept items keep their
    comments; removed ones go; new ones are appended."""
    old = parent.get(key)
    if not isinstance(old, CommentedSeq) or any(not isinstance(v, CommentedMap) for v in old):
        old_list: list[Any] = list(old) if isinstance(old, list) else []
    else:
        old_list = old
    taken: set[int] = set()
    plan: list[tuple[int | None, dict[str, Any]]] = []
    for group in groups:
        index = _origin(group, old_list, taken)
        if index is not None:
            taken.add(index)
        plan.append((index, group))
    kept = [i for i, _ in plan if i is not None]
    structural = kept != sorted(kept) or len(kept) != len(old_list) or any(i is None for i, _ in plan)
    if not groups:
        if key in parent and old_list:
            changes.add(where)
            if key == "risks":
                empty = CommentedSeq()
                empty.fa.set_flow_style()
                parent[key] = empty
            else:
                del parent[key]
        return
    if isinstance(old, CommentedSeq) and old_list is old and kept == sorted(kept):
        seq = old
        if seq.fa.flow_style():
            seq.fa.set_block_style()
        for index in sorted(set(range(len(old))) - set(kept), reverse=True):
            del seq[index]
        position = 0
        for index, group in plan:
            if index is None:
                item = CommentedMap()
                seq.append(item)
            else:
                item = seq[position]
                position += 1
            _set_group(item, group, kinds, list(kinds), where, changes, indent + 4)
            if nested:
                nested(item, group, where)
    else:
        seq = CommentedSeq()
        for index, group in plan:
            item = old_list[index] if index is not None else CommentedMap()
            _set_group(item, group, kinds, list(kinds), where, changes, indent + 4)
            if nested:
                nested(item, group, where)
            seq.append(item)
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
        _set_groups(risk, "measures", group.get("measures", []), MEASURE_KINDS, list(MEASURE_FIELDS), RISK_FIELDS,
                    "risks", changes, 4)

    if "risks" in values:
        _set_groups(data, "risks", values["risks"], RISK_KINDS, list(RISK_FIELDS), TOP_FIELDS, "risks", changes, 0,
                    nested=measures)
    if "sources" in values:
        _set_groups(data, "sources", values["sources"], SOURCE_KINDS, list(SOURCE_FIELDS), TOP_FIELDS, "sources",
                    changes, 0)


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


# -- validation mapped to form fields -----------------------------------------------------------


@dataclass(frozen=True)
class FieldProblem:
    field: str | None  # the form field's id ('risks-0-likelihood'), or None for the whole entry
    message: str  # the same words as `kb validate`
    line: int  # the line in the candidate file
    severity: str = "error"
    display: str = ""

    def __str__(self) -> str:
        return f"{self.display}:{self.line}: {self.message}"


def field_for(where: tuple[str | int, ...], message: str) -> str | None:
    """The form field a problem found at `where` (a front matter path) belongs to."""
    word = message.split(" ", 1)[0]
    if not where:
        if message.startswith("a published entry needs"):
            return "risks"
        return word if word in TOP_KINDS and message.startswith(f"{word} is required") else None
    head = where[0]
    if head in ("risks", "sources") and len(where) >= 2 and isinstance(where[1], int):
        i = where[1]
        kinds = RISK_KINDS if head == "risks" else SOURCE_KINDS
        if len(where) == 2:
            return f"{head}-{i}-{word}" if word in kinds and message.startswith(f"{word} is required") else f"{head}-{i}"
        key = where[2]
        if head == "risks" and key == "measures":
            if len(where) >= 4 and isinstance(where[3], int):
                j = where[3]
                if len(where) == 4:
                    return (f"risks-{i}-measures-{j}-{word}" if word in MEASURE_KINDS
                            and message.startswith(f"{word} is required") else f"risks-{i}-measures-{j}")
                return f"risks-{i}-measures-{j}-{where[4]}" if where[4] in MEASURE_KINDS else f"risks-{i}-measures-{j}"
            return f"risks-{i}"
        return f"{head}-{i}-{key}" if key in kinds else f"{head}-{i}"
    if head in TOP_KINDS or head in ("risks", "sources"):
        return str(head)
    return None


def check(path: Path, text: str, known: set[str] | None = None, display: str | None = None) -> list[FieldProblem]:
    """Every problem `kb validate` would report for `text` as the file at `path`, with its form field."""
    shown = display or str(path)
    try:
        fm = parse(text)
    except FrontMatterError as exc:
        return [FieldProblem(None, exc.message, exc.line, display=shown)]
    # Validate through the same checker, with a unique number standing in for each key's line,
    # so that every problem names the exact key it is about.
    ids: dict[int, tuple[str | int, ...]] = {2: ()}
    synthetic: dict[tuple[str | int, ...], int] = {}
    for number, key in enumerate(fm.lines, start=1000):
        synthetic[key] = number
        ids[number] = key
    probe = FrontMatter(meta=fm.meta, body=fm.body, body_line=fm.body_line, lines=synthetic)
    entry, problems = build_entry(path, probe, sha256(text), display=Path(shown))
    out = []
    for p in problems:
        where = ids.get(p.line, ())
        line = p.line if p.line < 1000 and p.line != 2 else fm.line(*where) if where else p.line
        out.append(FieldProblem(field_for(where, p.message), p.message, line, p.severity, shown))
    if entry is not None and known is not None:
        for i, slug in enumerate(entry.related):
            if slug not in known:
                out.append(FieldProblem("related", f"related entry {slug!r} does not exist (no entries/{slug}.md); "
                                        "fix the slug or remove it", fm.lines.get(("related", i), 0), "error", shown))
    return out


def errors(problems: Iterable[FieldProblem]) -> list[FieldProblem]:
    return [p for p in problems if p.severity == "error"]


# -- saving -------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What happened to a save: saved, unchanged, invalid (nothing written) or conflict (nothing written)."""

    status: str
    text: str  # the candidate file text ('yours')
    problems: list[FieldProblem] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    sha: str = ""  # the file's sha256 now (after a save, or on disk at a conflict)
    disk_text: str | None = None  # on a conflict: the version on disk
    path: Path | None = None

    @property
    def diff(self) -> str:
        """On a conflict: a unified diff from the version on disk to yours."""
        if self.disk_text is None:
            return ""
        return "".join(difflib.unified_diff(self.disk_text.splitlines(keepends=True),
                                            self.text.splitlines(keepends=True),
                                            "on disk (saved by someone else)", "yours (not saved)"))


def _read(path: Path) -> tuple[bytes, str]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise NotFound(f"{path.name} no longer exists; it may have been renamed or deleted") from exc
    try:
        return raw, raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EditorError(f"{path.name} is not UTF-8 text; save it as UTF-8 in a text editor first") from exc


def open_entry(path: Path) -> tuple[dict[str, Any], str]:
    """The form values of an entry file and the sha256 the form must carry."""
    raw, text = _read(path)
    return form_values(text), sha256(raw)


def _write(path: Path, candidate: str, base_sha: str, make: Callable[[str], str], known: set[str] | None,
           display: str | None, changed: list[str] | None = None) -> Outcome:
    with WRITE_LOCK:
        raw, current = _read(path)
        if sha256(raw) != base_sha:
            return Outcome("conflict", make(current), sha=sha256(raw), disk_text=current, path=path)
        problems = check(path, candidate, known, display)
        if errors(problems):
            return Outcome("invalid", candidate, problems, changed or [], sha=base_sha, path=path)
        if candidate == current:
            return Outcome("unchanged", candidate, problems, [], sha=base_sha, path=path)
        write_atomic(path, candidate)
        return Outcome("saved", candidate, problems, changed or [], sha=sha256(candidate), path=path)


def save(path: Path, values: dict[str, Any], base_sha: str, known: set[str] | None = None,
         display: str | None = None) -> Outcome:
    """Apply `values` to the entry file and write it, unless it changed since `base_sha` was read
    (then nothing is written and the outcome holds both versions) or the result is invalid."""
    with WRITE_LOCK:
        _, current = _read(path)
        candidate, changed = apply(current, values)
        return _write(path, candidate, base_sha, lambda disk: apply(disk, values)[0], known, display, changed)


def set_status(path: Path, status: str, base_sha: str | None = None, known: set[str] | None = None,
               display: str | None = None) -> Outcome:
    """Publish, unpublish (draft), archive or send for review: only `status` changes, validated first."""
    if status not in tx.STATUS:
        raise EditorError(f"status must be one of: {', '.join(tx.STATUS)}; got {status!r}")
    with WRITE_LOCK:
        raw, current = _read(path)
        candidate, _ = set_status_text(current, status)
        return _write(path, candidate, base_sha or sha256(raw), lambda disk: set_status_text(disk, status)[0],
                      known, display, ["status"])


def new_entry_text(title: str = "", today: dt.date | None = None) -> str:
    """The text a new entry starts from: `kb new`'s template (with its guiding comments)."""
    from kb.scaffold import ENTRY_TEMPLATE

    return ENTRY_TEMPLATE.format(title=title or "New entry", today=(today or dt.date.today()).isoformat())


def create(entries_dir: Path, slug: str, values: dict[str, Any], known: set[str] | None = None,
           display: Callable[[Path], str] = str) -> Outcome:
    """Write a new draft entry from the form. The slug is the file name and cannot clash."""
    slug = (slug or "").strip() or slugify(str(values.get("title") or ""))
    path = entries_dir / f"{slug}.md"
    shown = display(path)
    if not SLUG_RE.match(slug):
        problem = FieldProblem("slug", f"file name must be a slug (lower-case letters, digits, hyphens), e.g. "
                               f"{slugify(slug)}.md", 1, display=shown)
        return Outcome("invalid", "", [problem], path=path)
    candidate, changed = apply(new_entry_text(), {**values, "status": "draft"})
    candidate, _ = set_status_text(candidate, "draft")
    with WRITE_LOCK:
        problems = check(path, candidate, (known or set()) | {slug}, shown)
        if path.exists():
            problems.insert(0, FieldProblem("slug", f"{shown} already exists; choose another slug, or edit that entry",
                                            1, display=shown))
        if errors(problems):
            return Outcome("invalid", candidate, problems, changed, path=path)
        entries_dir.mkdir(parents=True, exist_ok=True)
        write_atomic(path, candidate)
    return Outcome("saved", candidate, problems, ["created"], sha=sha256(candidate), path=path)


def summary_of(changed: list[str]) -> str:
    """A short line for the audit log: 'title, risks, body'."""
    return ", ".join(changed) if changed else "no change"


def preview(values: Mapping[str, Any]) -> str:
    """The body as readers will see it (sanitised HTML)."""
    from kb.sanitize import render_markdown

    return render_markdown(str(values.get("body") or ""))
