"""The JSON API: /api/entries, /api/entries/<slug>, /api/search?q=. Same sharing rule as the pages.

Every note object carries `tlp` (the value, `amber`) and `tlp_label` (FIRST's words, `TLP:AMBER`),
so the marking travels with every copy.

CSV downloads (`kb.site.exports`: one row per measure, every row with its TLP label) of a note,
`/api/entries/<slug>.csv`, and of the whole register the reader may read, `/api/register.csv`;
`csv_response` serves a sector's too (`/sectors/<value>.csv`, in `kb.web.history`).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, request, url_for

from kb.errors import QueryError
from kb.model.serial import entry_to_dict
from kb.site import exports
from kb.site.catalog import FACET_KINDS, Note
from kb.site.feedout import tlp_label
from kb.web import common
from kb.web.common import conditional
from kb.web.search import page_number, refinements
from kb.web.state import catalog, cfg

bp = Blueprint("api", __name__, url_prefix="/api")
JSON = "application/json"


def _json(data: Any) -> str:
    """JSON text (not a Response: a rendered body may be cached and shared between requests)."""
    return current_app.json.dumps(data)


def _summary(note: Note) -> dict[str, Any]:
    e = note.entry
    return {
        "slug": e.slug,
        "title": e.title,
        "summary": e.summary,
        "url": url_for("pages.entry", slug=e.slug, _external=True),
        "api_url": url_for("api.entry", slug=e.slug, _external=True),
        "tlp": e.tlp,
        "tlp_label": tlp_label(e.tlp),
        "category": e.category,
        "horizon": e.horizon,
        "maturity": e.maturity,
        "score": e.score,
        "tags": list(e.tags),
        "sectors": list(e.sectors),
        "drivers": list(e.all_drivers),
        "reviewed": e.reviewed.isoformat(),
        "updated": note.updated.isoformat(),
    }


@bp.get("/entries")
def entries() -> Response:
    """Every readable note, narrowed by ?sector=, ?tag=, ?driver=, ?horizon= when given."""
    reader, cat = common.current_reader(), catalog()
    refine = refinements()
    notes = [n for n in cat.notes(reader) if all(v in n.values(k) for k, v in refine.items())]

    def render() -> str:
        return _json({"count": len(notes), "entries": [_summary(n) for n in notes]})

    return conditional(
        ("api-entries", cat.token(reader), sorted(refine.items()), request.host_url),
        cat.last_modified(reader, notes),
        render,
        mimetype=JSON,
    )


@bp.get("/entries/<slug>")
def entry(slug: str) -> Response:
    reader, cat = common.current_reader(), catalog()
    note = cat.note(reader, slug)
    if note is None:
        abort(404)
    related = cat.related(reader, note)

    def render() -> str:
        data = entry_to_dict(note.entry)
        data["related"] = [n.slug for n in related]  # a restricted related note is not named
        data.update(_summary(note))
        data["body_html"] = note.body_html
        data["changes"] = cat.changes(reader, note)
        return _json(data)

    parts = ("api-entry", slug, note.version, [n.slug for n in related], request.host_url)
    return conditional(parts, note.updated, render, mimetype=JSON)


@bp.get("/entries/<slug>.csv")
def entry_csv(slug: str) -> Response:
    """The note's risks and measures as CSV; 'not found' exactly like the note's page."""
    reader, cat = common.current_reader(), catalog()
    note = cat.note(reader, slug)
    if note is None:
        abort(404)
    return csv_response(("csv-entry", slug, note.version), [note], exports.filename(slug))


@bp.get("/register.csv")
def register_csv() -> Response:
    """Every risk and measure of every note the reader may read, as CSV."""
    reader, cat = common.current_reader(), catalog()
    return csv_response(("csv-register", cat.token(reader)), cat.notes(reader), exports.filename("register"))


def csv_response(parts: Any, notes: list[Note], name: str) -> Response:
    """The notes' rows as a CSV download named `name`, with an ETag like every page.

    `notes` must already be only what the reader may read (the catalogue's answer)."""
    response = conditional(
        parts,
        catalog().last_modified(common.current_reader(), notes),
        lambda: exports.to_csv(notes),
        mimetype=exports.MEDIA_TYPE,
    )
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@bp.get("/search")
def search() -> Response:
    reader, cat = common.current_reader(), catalog()
    q = request.args.get("q", "").strip()
    if not q:
        return jsonify({"error": "give a query: /api/search?q=drones", "status": 400}), 400  # type: ignore[return-value]
    refine, page = refinements(), page_number()
    try:
        found = cat.search(reader, q, page=page, per_page=cfg().site.per_page, refine=refine)
    except QueryError as exc:
        return jsonify({"error": str(exc), "status": 400}), 400  # type: ignore[return-value]
    results = found.results
    return jsonify(
        {
            "query": q,
            "total": results.total,
            "page": results.page,
            "pages": results.pages,
            "results": [
                # No relevance score: it is computed over the whole index, restricted notes included,
                # so it would change when a note the reader cannot see is added (finding 9).
                dict(_summary(found.notes[h.slug]), snippet_html=h.snippet)
                for h in results.hits
            ],
            "facets": {kind: results.facets.get(kind, {}) for kind in FACET_KINDS},
        }
    )
