"""The one way an entry file is written: by the web editor, by an accepted suggestion, by
`kb new`. Every write holds the knowledge base's write lock (across processes), checks that
the file is still the version the writer read (its sha256), validates the result with the same
checker as `kb validate`, and replaces the file atomically. Nothing is ever half written, and
nobody's work is overwritten without being shown.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kb import clock
from kb.errors import NotFound
from kb.files.atomic import write_atomic
from kb.files.form import FieldProblem, check, errors, form_values
from kb.files.lock import write_lock
from kb.files.roundtrip import EditorError, apply, set_status_text, sha256
from kb.files.scaffold import ENTRY_TEMPLATE
from kb.model import taxonomy as tx
from kb.model.entry import SLUG_RE, slugify


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
        return "".join(
            difflib.unified_diff(
                self.disk_text.splitlines(keepends=True),
                self.text.splitlines(keepends=True),
                "on disk (saved by someone else)",
                "yours (not saved)",
            )
        )


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


def _write(
    path: Path,
    candidate: str,
    base_sha: str,
    make: Callable[[str], str],
    known: set[str] | None,
    display: str | None,
    changed: list[str] | None = None,
    orgs: Collection[str] | None = None,
) -> Outcome:
    with write_lock(path.parent):
        raw, current = _read(path)
        if sha256(raw) != base_sha:
            return Outcome("conflict", make(current), sha=sha256(raw), disk_text=current, path=path)
        problems = check(path, candidate, known, display, orgs)
        if errors(problems):
            return Outcome("invalid", candidate, problems, changed or [], sha=base_sha, path=path)
        if candidate == current:
            return Outcome("unchanged", candidate, problems, [], sha=base_sha, path=path)
        write_atomic(path, candidate)
        return Outcome("saved", candidate, problems, changed or [], sha=sha256(candidate), path=path)


def save(
    path: Path,
    values: dict[str, Any],
    base_sha: str,
    known: set[str] | None = None,
    display: str | None = None,
    orgs: Collection[str] | None = None,
) -> Outcome:
    """Apply `values` to the entry file and write it, unless it changed since `base_sha` was read
    (then nothing is written and the outcome holds both versions) or the result is invalid."""
    with write_lock(path.parent):
        _, current = _read(path)
        candidate, changed = apply(current, values)
        return _write(path, candidate, base_sha, lambda disk: apply(disk, values)[0], known, display, changed, orgs)


def set_status(
    path: Path,
    status: str,
    base_sha: str | None = None,
    known: set[str] | None = None,
    display: str | None = None,
    orgs: Collection[str] | None = None,
) -> Outcome:
    """Publish, unpublish (draft), archive or send for review: only `status` changes, validated first."""
    if status not in tx.STATUS:
        raise EditorError(f"status must be one of: {', '.join(tx.STATUS)}; got {status!r}")
    with write_lock(path.parent):
        raw, current = _read(path)
        candidate, _ = set_status_text(current, status)
        return _write(
            path,
            candidate,
            base_sha or sha256(raw),
            lambda disk: set_status_text(disk, status)[0],
            known,
            display,
            ["status"],
            orgs,
        )


def new_entry_text(title: str = "", today: dt.date | None = None) -> str:
    """The text a new entry starts from: `kb new`'s template (with its guiding comments)."""
    return ENTRY_TEMPLATE.format(title=title or "New entry", today=(today or clock.today()).isoformat())


def create(
    entries_dir: Path,
    slug: str,
    values: dict[str, Any],
    known: set[str] | None = None,
    display: Callable[[Path], str] = str,
    orgs: Collection[str] | None = None,
) -> Outcome:
    """Write a new draft entry from the form. The slug is the file name and cannot clash."""
    slug = (slug or "").strip() or slugify(str(values.get("title") or ""))
    path = entries_dir / f"{slug}.md"
    shown = display(path)
    if not SLUG_RE.match(slug):
        problem = FieldProblem(
            "slug",
            f"file name must be a slug (lower-case letters, digits, hyphens), e.g. {slugify(slug)}.md",
            1,
            display=shown,
        )
        return Outcome("invalid", "", [problem], path=path)
    candidate, changed = apply(new_entry_text(), {**values, "status": "draft"})
    candidate, _ = set_status_text(candidate, "draft")
    with write_lock(entries_dir):
        problems = check(path, candidate, (known or set()) | {slug}, shown, orgs)
        if path.exists():
            problems.insert(
                0,
                FieldProblem(
                    "slug", f"{shown} already exists; choose another slug, or edit that entry", 1, display=shown
                ),
            )
        if errors(problems):
            return Outcome("invalid", candidate, problems, changed, path=path)
        entries_dir.mkdir(parents=True, exist_ok=True)
        write_atomic(path, candidate)
    return Outcome("saved", candidate, problems, ["created"], sha=sha256(candidate), path=path)


def summary_of(changed: list[str]) -> str:
    """A short line for the audit log: 'title, risks, body'."""
    return ", ".join(changed) if changed else "no change"
