"""Change history: a note's versions (`/entries/<slug>/history`), two of them side by side
(`.../history/compare?from=V1&to=V2`), the latest changes across the site (`/changes`), and a
sector's risks and measures as CSV (`/sectors/<value>.csv`; the other CSV downloads are in the API).

The read models are `kb.site.history` and `kb.site.exports`; every door asks the catalogue, so a
note or a version the reader may not read is 'not found', exactly like one that does not exist.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template, request

from kb.site import exports
from kb.site import history as hist
from kb.web import common
from kb.web.api import csv_response
from kb.web.common import conditional
from kb.web.state import catalog

bp = Blueprint("history", __name__)
MAX_VERSION_ID = 64  # version ids are 16 hex digits; anything much longer is not one


@bp.get("/entries/<slug>/history")
def history(slug: str) -> Response:
    """Each version of the note the reader may read, newest first, with what changed in words."""
    reader, cat = common.current_reader(), catalog()
    versions = hist.history(cat, reader, slug)
    if versions is None:
        abort(404)
    note = versions[0].note

    def render() -> str:
        return render_template("history.html", note=note, e=note.entry, versions=versions)

    parts = ("history", slug, [(v.id, v.seen_at.isoformat(), v.changes) for v in versions])
    return conditional(parts, note.updated, render)


@bp.get("/entries/<slug>/history/compare")
def compare(slug: str) -> Response:
    """Two versions side by side: their risks and measures row by row, with what differs marked."""
    reader, cat = common.current_reader(), catalog()
    versions = hist.history(cat, reader, slug)
    if versions is None:
        abort(404)
    old_id, new_id = (request.args.get(name, "").strip()[:MAX_VERSION_ID] for name in ("from", "to"))
    if not old_id or not new_id:
        text = "Choose two versions of the note to compare on its change history page."
        return render_template("error.html", title="Choose two versions to compare", text=text, code=400), 400
    old, new = hist.find(versions, old_id), hist.find(versions, new_id)
    if old is None or new is None:
        abort(404)  # unknown, or a version this reader may not read: the same answer
    current = versions[0].note

    def render() -> str:
        return render_template("compare.html", note=current, e=current.entry, diff=hist.compare(old, new))

    parts = ("compare", slug, current.version, old.id, new.id, old.number, new.number, old.changes, new.changes)
    return conditional(parts, max(old.seen_at, new.seen_at), render)


@bp.get("/changes")
def changes() -> Response:
    """The latest changes across every note the reader may read, newest first."""
    reader, cat = common.current_reader(), catalog()
    found = hist.latest_changes(cat, reader)

    def render() -> str:
        return render_template("changes.html", changes=found, limit=hist.CHANGES_LIMIT)

    return conditional(("changes", cat.token(reader)), cat.last_modified(reader), render)


@bp.get("/sectors/<value>.csv")
def sector_csv(value: str) -> Response:
    """The risks and measures of a sector's notes the reader may read, highest risk first, as CSV."""
    reader, cat = common.current_reader(), catalog()
    notes = cat.with_value(reader, "sector", value)
    if not notes:
        abort(404)
    return csv_response(("csv-sector", value, cat.token(reader)), notes, exports.filename("sector", value))
