"""The entry editor for staff: edit and create entries in a form, preview the body, and publish,
unpublish or archive with explicit buttons. The logic is `kb.editor`; these views read the form,
call it, log the change, re-index and render."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from kb.errors import NotFound
from kb.files import editor
from kb.model import taxonomy as tx
from kb.model.entry import SLUG_RE
from kb.sync import entry_files
from kb.web.actions import audit, index_after_write
from kb.web.auth import staff_required
from kb.web.state import catalog, cfg, state

bp = Blueprint("editor", __name__)
STATUS_VERBS = {
    "publish": "Published",
    "unpublish": "Moved back to draft",
    "archive": "Archived",
    "review": "Sent for review",
}


def _path(slug: str) -> Path:
    if not SLUG_RE.match(slug):
        abort(404)
    path = cfg().entries_dir / f"{slug}.md"
    if not path.is_file():
        abort(404)
    return path


def _known() -> set[str]:
    return {p.stem for p in entry_files(cfg().entries_dir)}


def _audit(action: str, slug: str, summary: str) -> None:
    audit(action, slug, summary=summary)


def _errors(problems: list[editor.FieldProblem]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for p in editor.errors(problems):
        out.setdefault(p.field or "entry-form", []).append(p.message)
    return out


def _render(
    values: dict[str, Any],
    *,
    slug: str | None,
    sha: str,
    status: int = 200,
    problems: list[editor.FieldProblem] | None = None,
    note: str | None = None,
    preview: str | None = None,
    conflict: editor.Outcome | None = None,
    new_slug: str = "",
) -> Any:
    problems = problems or []
    return render_template(
        "staff/editor.html",
        v=values,
        slug=slug,
        sha=sha,
        problems=editor.errors(problems),
        warnings=[p for p in problems if p.severity != "error"],
        errors=_errors(problems),
        note=note,
        preview=preview,
        conflict=conflict,
        new_slug=new_slug,
        blank_risk=editor.blank_risk(),
        blank_source=editor.blank_source(),
        blank_measure=editor.blank_measure(),
    ), status


# -- the entry's staff page: status and actions ------------------------------------------------


@bp.get("/staff/entries/<slug>")
@staff_required
def entry(slug: str):  # type: ignore[no-untyped-def]
    path = _path(slug)
    try:
        values, sha = editor.open_entry(path)
        trouble = None
    except editor.EditorError as exc:
        values, sha, trouble = {}, "", str(exc)
    text = path.read_text(encoding="utf-8", errors="replace")
    problems = editor.check(path, text, _known(), cfg().display(path), cfg().organisation_slugs)
    history = [
        {"seen_at": h["seen_at"], "changes": json.loads(h["changes"] or "[]")}
        for h in state().workspace.store.versions(slug)[:10]
    ]
    return render_template(
        "staff/entry.html",
        slug=slug,
        v=values,
        sha=sha,
        trouble=trouble,
        problems=problems,
        history=history,
        status=values.get("status") or "",
        tx=tx,
    )


@bp.post("/staff/entries/<slug>/status")
@staff_required
def change_status(slug: str):  # type: ignore[no-untyped-def]
    path = _path(slug)
    action = request.form.get("action", "")
    if action not in editor.STATUS_ACTIONS:
        abort(400)
    shown = cfg().display(path)
    with editor.write_lock(cfg().entries_dir):
        outcome = editor.set_status(
            path,
            editor.STATUS_ACTIONS[action],
            request.form.get("sha") or None,
            _known(),
            shown,
            cfg().organisation_slugs,
        )
        note = index_after_write() if outcome.status == "saved" else None
    if outcome.status == "conflict":
        flash(
            "The entry changed since you opened this page, so its status was not changed. Check it, then try again.",
            "error",
        )
    elif outcome.status == "invalid":
        flash(
            f"Not {STATUS_VERBS[action].lower()}: fix these first. "
            + " ".join(f"{p}." for p in editor.errors(outcome.problems)),
            "error",
        )
    elif outcome.status == "unchanged":
        flash(f"The entry is {tx.STATUS[editor.STATUS_ACTIONS[action]].lower()} already.")
    else:
        catalog().refresh()
        _audit(f"entry.{action}", slug, f"status: {editor.STATUS_ACTIONS[action]}")
        flash(f"{STATUS_VERBS[action]}: {slug}.")
        if note:
            flash(note, "error")
    return redirect(url_for("staff.editor.entry", slug=slug))


# -- editing ----------------------------------------------------------------------------------


@bp.route("/staff/entries/<slug>/edit", methods=["GET", "POST"])
@staff_required
def edit(slug: str):  # type: ignore[no-untyped-def]
    path = _path(slug)
    if request.method == "GET":
        try:
            values, sha = editor.open_entry(path)
        except editor.EditorError as exc:
            flash(f"This entry cannot be edited in the form: {exc}", "error")
            return redirect(url_for("staff.editor.entry", slug=slug))
        return _render(values, slug=slug, sha=sha)
    values = editor.values_from_form(request.form)
    values["status"] = request.form.get("status", "")
    sha = request.form.get("sha", "")
    action = request.form.get("action", "save")
    if action == "preview":
        return _render(values, slug=slug, sha=sha, preview=editor.preview(values))
    if action not in ("save", "overwrite"):
        return _render(values, slug=slug, sha=sha, note=editor.form_action(values, action))
    if action == "overwrite":  # 'save mine anyway', against the version the conflict showed
        sha = request.form.get("disk_sha", "")
    shown = cfg().display(path)
    try:
        with editor.write_lock(cfg().entries_dir):
            outcome = editor.save(path, values, sha, _known(), shown, cfg().organisation_slugs)
            note = index_after_write() if outcome.status == "saved" else None
    except NotFound:
        abort(404)
    if outcome.status == "conflict":
        return _render(values, slug=slug, sha=sha, conflict=outcome, status=409)
    if outcome.status == "invalid":
        return _render(values, slug=slug, sha=sha, problems=outcome.problems, status=400)
    if outcome.status == "saved":
        catalog().refresh()
        _audit("entry.save", slug, editor.summary_of(outcome.changed))
        flash(f"Saved {shown}: {editor.summary_of(outcome.changed)}.")
        if note:
            flash(note, "error")
    else:
        flash("Nothing had changed, so the file was left as it was.")
    return redirect(url_for("staff.editor.entry", slug=slug))


@bp.route("/staff/entries/new", methods=["GET", "POST"])
@staff_required
def new():  # type: ignore[no-untyped-def]
    if request.method == "GET":
        values = editor.form_values(editor.new_entry_text(""))
        values["title"] = ""
        return _render(values, slug=None, sha="")
    values = editor.values_from_form(request.form)
    values["status"] = "draft"
    new_slug = (request.form.get("slug") or "").strip()
    action = request.form.get("action", "save")
    if action == "preview":
        return _render(values, slug=None, sha="", preview=editor.preview(values), new_slug=new_slug)
    if action != "save":
        return _render(values, slug=None, sha="", note=editor.form_action(values, action), new_slug=new_slug)
    if not values.get("title", "").strip():
        problem = editor.FieldProblem("title", "title is required", 2)
        return _render(values, slug=None, sha="", problems=[problem], status=400, new_slug=new_slug)
    with editor.write_lock(cfg().entries_dir):
        outcome = editor.create(cfg().entries_dir, new_slug, values, _known(), cfg().display, cfg().organisation_slugs)
        note = index_after_write() if outcome.status == "saved" else None
    if outcome.status != "saved":
        return _render(values, slug=None, sha="", problems=outcome.problems, status=400, new_slug=new_slug)
    assert outcome.path is not None
    slug = outcome.path.stem
    catalog().refresh()
    _audit("entry.create", slug, f"new draft: {values.get('title')}")
    flash(f"Created the draft {cfg().display(outcome.path)}.")
    if note:
        flash(note, "error")
    return redirect(url_for("staff.editor.entry", slug=slug))
