"""The editor form, framework-free: an entry file as the flat values a form shows, a submitted
form back into values, and validation problems mapped to the form's fields (the same words as
`kb validate`). Risks, measures and sources are repeatable groups named `risks-0-title`,
`risks-0-measures-1-actor`, `sources-2-url`...
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kb.files.roundtrip import (
    CHECKS,
    MEASURE_KINDS,
    RISK_KINDS,
    SOURCE_KINDS,
    TOP_KINDS,
    _is_blank,
    _load,
    _split,
    sha256,
)
from kb.model import organisations
from kb.model.entry import TOP_FIELDS, build_entry
from kb.model.frontmatter import FrontMatter, FrontMatterError, parse

STATUS_ACTIONS = {"publish": "published", "unpublish": "draft", "archive": "archived", "review": "review"}


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
    values: dict[str, Any] = {
        key: (_checks(data.get(key)) if kind == CHECKS else _show(data.get(key))) for key, kind in TOP_KINDS.items()
    }
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


_GROUP = re.compile(r"^(risks|sources)-(\d+)-(?:measures-(\d+)-)?([a-z_]+)$")


def _list_getter(form: Any) -> Callable[[str], list[str]]:
    """`form.getlist`, or its like for a plain dict: a list value as it is, one value as a one-item list."""
    if hasattr(form, "getlist"):
        return form.getlist

    def getlist(key: str) -> list[str]:
        if isinstance(form.get(key), list):
            return form[key]
        return [form[key]] if key in form else []

    return getlist


def values_from_form(form: Any) -> dict[str, Any]:
    """The submitted form as editor values. Blank groups are dropped; groups are renumbered.

    `form` is a Werkzeug MultiDict (or any mapping with `getlist`, or a plain dict).
    """
    getlist = _list_getter(form)

    def first(key: str) -> str:
        """The first value submitted under `key`, or "" when there is none."""
        return (getlist(key) or [""])[0]

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
    if (
        parts[0] == "remove-measure"
        and len(numbers) == 2
        and numbers[0] < len(risks)
        and numbers[1] < len(risks[numbers[0]]["measures"])
    ):
        risks[numbers[0]]["measures"].pop(numbers[1])
        return f"A measure was removed from risk {numbers[0] + 1}. Save to remove it from the file."
    if parts[0] == "remove-source" and numbers and numbers[0] < len(sources):
        sources.pop(numbers[0])
        return "A source was removed from the form. Save to remove it from the file."
    return None


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
            return (
                f"{head}-{i}-{word}" if word in kinds and message.startswith(f"{word} is required") else f"{head}-{i}"
            )
        key = where[2]
        if head == "risks" and key == "measures":
            if len(where) >= 4 and isinstance(where[3], int):
                j = where[3]
                if len(where) == 4:
                    return (
                        f"risks-{i}-measures-{j}-{word}"
                        if word in MEASURE_KINDS and message.startswith(f"{word} is required")
                        else f"risks-{i}-measures-{j}"
                    )
                return f"risks-{i}-measures-{j}-{where[4]}" if where[4] in MEASURE_KINDS else f"risks-{i}-measures-{j}"
            return f"risks-{i}"
        return f"{head}-{i}-{key}" if key in kinds else f"{head}-{i}"
    if head in TOP_KINDS or head in ("risks", "sources"):
        return str(head)
    return None


def check(
    path: Path,
    text: str,
    known: set[str] | None = None,
    display: str | None = None,
    orgs: Collection[str] | None = None,
) -> list[FieldProblem]:
    """Every problem `kb validate` would report for `text` as the file at `path`, with its form field.

    `known` (the entries' slugs) checks `related`; `orgs` (the registered organisations' slugs,
    `Config.organisation_slugs`) checks `share_with`. Either is left unchecked when None."""
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
                out.append(
                    FieldProblem(
                        "related",
                        f"related entry {slug!r} does not exist (no entries/{slug}.md); fix the slug or remove it",
                        fm.lines.get(("related", i), 0),
                        "error",
                        shown,
                    )
                )
    if entry is not None and orgs is not None:
        items = organisations.listed(fm.meta.get("share_with"), fm.lines)
        for p in organisations.share_problems(items, orgs, Path(shown)):
            out.append(FieldProblem("share_with", p.message, p.line, p.severity, shown))
    return out


def errors(problems: Iterable[FieldProblem]) -> list[FieldProblem]:
    return [p for p in problems if p.severity == "error"]


def preview(values: Mapping[str, Any]) -> str:
    """The body as readers will see it (sanitised HTML)."""
    from kb.model.sanitize import render_markdown

    return render_markdown(str(values.get("body") or ""))
