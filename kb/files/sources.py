"""Safe, small edits to entry files: add a source to `sources:`, write a pre-filled draft.

Both hold the knowledge base's write lock (`kb.files.lock`) from reading the file to replacing
it, like every other writer, so an edit in the browser and an accepted suggestion never race.

Only the lines that change are touched: the rest of the front matter (comments, quoting,
order) and the whole body stay byte for byte. The new text is parsed and validated with
`read_entry` before the file is replaced atomically (temporary file, fsync, os.replace).
"""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path
from typing import Any

from kb.errors import KbError
from kb.files.atomic import write_atomic
from kb.files.lock import write_lock
from kb.files.scaffold import new_entry
from kb.model.entry import read_entry
from kb.model.frontmatter import FrontMatterError, parse

MAX_TITLE = 200
_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


def _text(value: str, limit: int = MAX_TITLE) -> str:
    """Untrusted text made safe for one YAML line: no control characters, folded spaces, capped."""
    value = "".join(" " if unicodedata.category(ch).startswith("C") else ch for ch in value)
    value = " ".join(value.split())
    return value[: limit - 1] + "…" if len(value) > limit else value


def _quote(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid YAML double-quoted scalar


def source_lines(source: dict[str, Any], dash_col: int) -> list[str]:
    pad = " " * dash_col
    lines = [f"{pad}- title: {_quote(_text(str(source['title'])))}"]
    if source.get("publisher"):
        lines.append(f"{pad}  publisher: {_quote(_text(str(source['publisher'])))}")
    if source.get("url"):
        lines.append(f"{pad}  url: {_quote(str(source['url']))}")
    date = str(source.get("date") or "")
    if date and _DATE.match(date):
        lines.append(f"{pad}  date: {date if len(date) == 10 else _quote(date)}")
    return lines


def _block_end(lines: list[str], start: int, dash_col: int, stop: int) -> int:
    """First line after the block sequence that starts at `start` (0-based), before `stop`."""
    end = start + 1
    j = start + 1
    while j < stop:
        line = lines[j]
        stripped = line.strip()
        if not stripped:
            j += 1
            continue
        indent = len(line) - len(line.lstrip())
        if (
            indent > dash_col
            or (indent == dash_col and stripped.startswith("- "))
            or (indent == dash_col and stripped == "-")
        ):
            j += 1
            end = j
            continue
        break
    return end


def add_source(path: Path, source: dict[str, Any], display: Path | None = None) -> bool:
    """Append `source` (title, publisher, url, date) to the entry's `sources:` list.

    Returns False (and changes nothing) when a source with the same URL is there already.
    Raises KbError when the file cannot be edited safely.
    """
    with write_lock(path.parent):
        return _add_source(path, source, display)


def _add_source(path: Path, source: dict[str, Any], display: Path | None) -> bool:
    shown = display or path
    raw = path.read_bytes()
    text = raw.decode("utf-8")
    before, problems = read_entry(path, raw, display=shown)
    if before is None:
        raise KbError(f"{shown} has problems, so it was not changed; fix them first:\n" + "\n".join(map(str, problems)))
    url = source.get("url")
    if url and any(s.url == url for s in before.sources):
        return False
    nl = "\r\n" if "\r\n" in text else "\n"
    bom = text.startswith("\ufeff")
    lines = text[1:].split(nl) if bom else text.split(nl)
    try:
        fm = parse(text)
    except FrontMatterError as exc:  # pragma: no cover - read_entry caught this already
        raise KbError(f"{shown}:{exc.line}: {exc.message}") from exc
    close = fm.body_line - 2  # 0-based index of the closing '---'
    key_line = fm.lines.get(("sources",))
    if key_line is None:
        new_lines = lines[:close] + ["sources:"] + source_lines(source, 2) + lines[close:]
    else:
        k = key_line - 1
        head = lines[k]
        value = head.split(":", 1)[1]
        value_text, _, comment = value.partition(" #")
        value_text = value_text.strip()
        count = len(before.sources)
        if count:
            first = fm.lines[("sources", 0)] - 1
            dash_col = lines[first].index("-")
            if value_text:  # a flow list: [ {...}, ... ]
                raise KbError(
                    f"{shown}:{key_line}: sources is written as a [ ] list; rewrite it as lines starting "
                    "with '- title:' and accept the suggestion again"
                )
            end = _block_end(lines, first, dash_col, close)
            new_lines = lines[:end] + source_lines(source, dash_col) + lines[end:]
        else:
            if value_text not in ("", "[]", "~", "null"):
                raise KbError(f"{shown}:{key_line}: cannot read sources: {value_text!r}; make it a list")
            lines[k] = "sources:" + (f"  #{comment}" if comment else "")
            new_lines = lines[: k + 1] + source_lines(source, 2) + lines[k + 1 :]
    new_text = ("\ufeff" if bom else "") + nl.join(new_lines)
    after, problems = read_entry(path, new_text.encode("utf-8"), display=shown)
    if after is None or len(after.sources) != len(before.sources) + 1:
        detail = "\n".join(map(str, problems)) if problems else "the new source did not read back"
        raise KbError(f"adding the source would break {shown}, so it was not changed:\n{detail}")
    write_atomic(path, new_text)
    return True


def create_draft(
    entries_dir: Path,
    title: str,
    keywords: list[str],
    sources: list[dict[str, Any]],
    note: str = "",
    display: Path | None = None,
) -> Path:
    """A new draft entry from the template, pre-filled with title, keywords and sources."""
    with write_lock(entries_dir):
        return _create_draft(entries_dir, title, keywords, sources, note, display)


def _create_draft(
    entries_dir: Path, title: str, keywords: list[str], sources: list[dict[str, Any]], note: str, display: Path | None
) -> Path:
    path = new_entry(entries_dir, _text(title, 120))
    shown = display or path
    try:
        text = path.read_text(encoding="utf-8")
        words = ", ".join(_quote(_text(k, 80)) for k in keywords if k.strip())
        text = re.sub(r"(?m)^keywords: \[\](.*)$", lambda m: f"keywords: [{words}]{m.group(1)}", text, count=1)
        block = "\n".join(line for s in sources for line in source_lines(s, 2))
        if block:
            text = re.sub(r"(?m)^sources: \[\]$", lambda _m: "sources:\n" + block, text, count=1)
        if note:
            text = text.replace("## Background\n", "## Background\n\n" + note.strip() + "\n", 1)
        entry, problems = read_entry(path, text.encode("utf-8"), display=shown)
        if entry is None:
            raise KbError(f"the draft for {title!r} would not validate:\n" + "\n".join(map(str, problems)))
        write_atomic(path, text)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path
