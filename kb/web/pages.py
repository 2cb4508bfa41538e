"""Pages: home, entry pages, browse by tag / sector / driver / horizon, and the error pages."""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
from collections.abc import Iterable
from typing import Any

from flask import Blueprint, Flask, abort, current_app, jsonify, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from kb import clock
from kb.errors import Busy
from kb.model import taxonomy as tx
from kb.model.access import Reader
from kb.site import charts
from kb.site import history as site_history
from kb.site.catalog import FACET_KINDS, Catalog, Note, facet_label
from kb.site.feedout import sharing_text, tlp_label
from kb.web import common
from kb.web.auth import signed_in_user
from kb.web.common import conditional
from kb.web.state import catalog, cfg

bp = Blueprint("pages", __name__)

# URL segment -> facet kind. The browse pages, the search facets and the feeds share these.
BROWSE = {"sectors": "sector", "tags": "tag", "drivers": "driver", "horizons": "horizon"}
SEGMENT = {kind: segment for segment, kind in BROWSE.items()}
BROWSE_TITLES = {"sector": "Sectors", "tag": "Tags", "driver": "Drivers of crime", "horizon": "Horizons"}
FEED_KINDS = ("sector", "tag")  # the facets that have their own feeds
VISIT_GAP = dt.timedelta(hours=1)  # a signed-in reader's visit is recorded at most this often
log = logging.getLogger(__name__)


@bp.get("/")
def home():  # type: ignore[no-untyped-def]
    reader, cat = common.current_reader(), catalog()
    today = dt.date.today()
    since = previous_visit()

    def render() -> str:
        radar_svg, points = cat.radar(reader)
        recent = [(n, cat.changes(reader, n)) for n in cat.recent(reader, 6)]
        return render_template(
            "home.html",
            recent=recent,
            since=since,
            changed_since=lambda n: since is not None and n.updated > since,
            top_risks=cat.top_risks(reader, 8),
            radar_svg=radar_svg,
            radar_points=points,
            sectors=cat.facets(reader, "sector"),
            total=len(cat.notes(reader)),
            overdue=lambda n: n.head.is_overdue(cfg().review_days, today),
            tlp_of={n.slug: n.tlp for n in cat.notes(reader)},  # for the radar table's rows
        )

    return conditional(("home", cat.token(reader), today, _stamp(since)), cat.last_modified(reader), render)


@bp.get("/entries/")
def entries():  # type: ignore[no-untyped-def]
    reader, cat = common.current_reader(), catalog()
    notes = cat.notes(reader)
    return conditional(
        ("entries", cat.token(reader)), cat.last_modified(reader), lambda: render_template("entries.html", notes=notes)
    )


@bp.get("/entries/<slug>")
def entry(slug: str):  # type: ignore[no-untyped-def]
    """One note. A note the reader may not read is 'not found', exactly like one that does not exist."""
    reader, cat = common.current_reader(), catalog()
    note = cat.note(reader, slug)
    if note is None:
        abort(404)
    related = cat.related(reader, note)
    today = dt.date.today()
    review_days = cfg().review_days
    since = previous_visit()
    changed_since = changes_since(cat, reader, note, since) if since is not None else []

    def render() -> str:
        e = note.entry
        return render_template(
            "entry.html",
            note=note,
            e=e,
            related=related,
            risks=note.ranked_risks,
            measures=note.measures_by_actor,
            overdue=e.is_overdue(review_days, today),
            review_due=e.review_due(review_days),
            green_community=cfg().site.green_community,
            feed_facets=[(kind, value) for kind in FEED_KINDS for value in note.values(kind)],
            since=since,
            changed_since=changed_since,
        )

    parts = ("entry", slug, note.version, [(r.slug, r.version) for r in related], today, _feed_key(), _stamp(since))
    return conditional(parts, max([note.updated] + [r.updated for r in related]), render)


@bp.get("/<any(sectors, tags, drivers, horizons):segment>/")
def browse_index(segment: str):  # type: ignore[no-untyped-def]
    reader, cat = common.current_reader(), catalog()
    kind = BROWSE[segment]
    return conditional(
        ("browse", kind, cat.token(reader)),
        cat.last_modified(reader),
        lambda: render_template(
            "browse_index.html", kind=kind, segment=segment, title=BROWSE_TITLES[kind], facets=cat.facets(reader, kind)
        ),
    )


@bp.get("/<any(sectors, tags, drivers, horizons):segment>/<value>")
def browse(segment: str, value: str):  # type: ignore[no-untyped-def]
    """The notes with one tag, sector, driver or horizon. A sector page is what a partner bookmarks."""
    reader, cat = common.current_reader(), catalog()
    kind = BROWSE[segment]
    notes = cat.with_value(reader, kind, value)
    if not notes:
        abort(404)
    today = dt.date.today()

    def render() -> str:
        return render_template(
            "browse.html",
            kind=kind,
            segment=segment,
            value=value,
            label=facet_label(kind, value),
            kind_title=BROWSE_TITLES[kind],
            notes=notes,
            has_feed=kind in FEED_KINDS,
            recent=[(n, cat.changes(reader, n)) for n in sorted(notes, key=lambda n: n.updated, reverse=True)[:3]],
            overdue=lambda n: n.head.is_overdue(cfg().review_days, today),
        )

    parts = ("browse", kind, value, cat.token(reader), today, _feed_key())
    return conditional(parts, cat.last_modified(reader, notes), render)


# -- since the reader's last visit --------------------------------------------------------------


def previous_visit() -> dt.datetime | None:
    """When the signed-in reader's previous visit began (None: anonymous, or no visit before this one).

    A visit is recorded when none began in the last hour (`VISIT_GAP`), so browsing writes at
    most once an hour; until then the visit going on is the newest recorded one, and the
    reader's last visit is the one before it. Called before the page is rendered, so the visit
    it records is never the one the page compares with.
    """
    user = signed_in_user()
    if user is None:
        return None
    store, now = catalog().store, clock.utcnow()
    last = store.last_visit(user.id)
    if last is not None and now - last < VISIT_GAP:
        return store.last_visit(user.id, before=last)
    try:
        store.record_visit(user.id, now)
    except sqlite3.OperationalError as exc:  # e.g. the database is busy: the page matters more than the mark
        log.warning("could not record a visit of user %s (%s)", user.id, exc)
    return last


def changes_since(cat: Catalog, reader: Reader, note: Note, since: dt.datetime) -> list[str]:
    """What changed in the note since `since`, for this reader: the catalogue's sentences for each
    version they may read that is newer, oldest first, each sentence once."""
    if note.updated <= since:
        return []
    sentences: list[str] = []
    for version in reversed(site_history.history(cat, reader, note.slug) or []):
        if version.seen_at > since:
            sentences += [c for c in version.changes if c not in sentences]
    return sentences


def _stamp(moment: dt.datetime | None) -> str:
    return moment.isoformat() if moment else ""


# -- errors -------------------------------------------------------------------------------------

ERROR_TEXT = {
    400: ("Sorry, there is a problem with that request", "Check the address or the search words and try again."),
    404: (
        "Page not found",
        "If you typed the web address, check it is correct. If you pasted it, check you copied "
        "the entire address. The note may have been moved or withdrawn.",
    ),
    405: ("Sorry, that is not allowed", "This page can only be read."),
    500: ("Sorry, there is a problem with the service", "Try again later."),
    503: (
        "Sorry, the knowledge base is busy",
        "Another change is being saved. Nothing of yours was lost or half saved: go back and try again in a moment.",
    ),
}


# GOV.UK service pages, linked from every page's footer: the same for everyone.


def _service_page(page: str, title: str) -> str:
    c = cfg()
    return render_template(
        f"service/{page}.html",
        title=title,
        cookie_name=current_app.config.get("SESSION_COOKIE_NAME", "session"),
        secure_cookie=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
        state_file=c.display(c.state_path),
    )


@bp.get("/accessibility")
def accessibility():  # type: ignore[no-untyped-def]
    return _service_page("accessibility", "Accessibility statement")


@bp.get("/privacy")
def privacy():  # type: ignore[no-untyped-def]
    """What personal data is kept, why and where."""
    return _service_page("privacy", "Privacy notice")


@bp.get("/cookies")
def cookies():  # type: ignore[no-untyped-def]
    """The one cookie, as the app really sets it."""
    return _service_page("cookies", "Cookies")


def register_errors(app: Flask) -> None:
    """Error pages in the site's style; JSON under /api/. They never repeat the address asked for.

    An unhandled exception reaches the HTTPException handler as a 500 (Flask logs it first).
    """

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):  # type: ignore[no-untyped-def]
        return _error(exc.code or 500)

    @app.errorhandler(Busy)
    def _busy(_exc: Busy):  # type: ignore[no-untyped-def]
        response = _error(503)
        return response[0], 503, {"Retry-After": "5"}


def _error(code: int):  # type: ignore[no-untyped-def]
    title, text = ERROR_TEXT.get(code, (f"Sorry, there is a problem (error {code})", ""))
    if request.path.startswith("/api/"):
        return jsonify({"error": title, "status": code}), code
    try:
        return render_template("error.html", title=title, text=text, code=code), code
    except Exception:  # the error page itself must not fail
        return (
            f"<!DOCTYPE html><title>{title}</title><h1>{title}</h1>",
            code,
            {"Content-Type": "text/html; charset=utf-8"},
        )


# -- template helpers ---------------------------------------------------------------------------


def long_date(value: dt.date | dt.datetime | str | None) -> str:
    """GOV.UK style: 1 October 2026."""
    if value is None:
        return ""
    if isinstance(value, str):
        value = dt.date.fromisoformat(value[:10])
    return f"{value.day} {value:%B %Y}"


def facet_url(kind: str, value: str) -> str:
    return url_for("pages.browse", segment=SEGMENT[kind], value=value)


TLP_ORDER = ("clear", "green", "amber", "amber+strict", "red")  # least to most restricted


def strictest_tlp(notes: Iterable[Note | str]) -> str:
    """The most restricted TLP among the notes (or TLP values); '' for none. A printed list is marked with it."""
    found = {n if isinstance(n, str) else n.tlp for n in notes}
    return next((tlp for tlp in reversed(TLP_ORDER) if tlp in found), "")


PRINT_PATTERNS = {"high": "cross-hatched", "medium": "diagonal lines", "low": "dotted"}  # print.css's patterns


def matrix_key() -> list[dict[str, Any]]:
    """The risk matrix's bands, highest first: name, scores, the cells' fill, and the pattern in print."""
    key, top = [], 25
    for name, floor, _strong, pale in charts.BANDS:
        key.append({"name": name, "low": max(floor, 1), "high": top, "fill": pale, "pattern": PRINT_PATTERNS[name]})
        top = floor - 1
    return key


def facet_feed_url(kind: str, value: str, fmt: str) -> str:
    """A sector's or tag's feed. Signed in, the reader's private feed: it works in a feed reader,
    which has no cookie; a public feed would show only TLP:CLEAR notes there, or be 'not found'."""
    user = signed_in_user()
    if user is None:
        return url_for("feeds_out.by_facet", segment=SEGMENT[kind], value=value, fmt=fmt)
    return url_for(
        "feeds_out.private_by_facet", token=user.feed_token, segment=SEGMENT[kind], value=value, fmt=fmt, _external=True
    )


def _feed_key() -> str:
    """Part of the ETag of a page that shows private feed links: a changed token changes the page."""
    user = signed_in_user()
    return user.feed_token if user else ""


def register_template_helpers(app: Flask) -> None:
    green_community = app.extensions["kb"].cfg.site.green_community
    app.add_template_filter(long_date, "long_date")
    app.add_template_filter(charts.band, "band")
    app.jinja_env.globals.update(  # globals, so imported macros see them too
        tx=tx,
        label=tx.label,
        facet_label=facet_label,
        facet_url=facet_url,
        facet_kinds=FACET_KINDS,
        segment_of=SEGMENT,
        browse_titles=BROWSE_TITLES,
        site_title=cfg_title(app),
        tlp_label=tlp_label,
        strictest_tlp=strictest_tlp,
        facet_feed_url=facet_feed_url,
        matrix_key=matrix_key(),
        sharing=lambda note: sharing_text(note.tlp, note.share_with, green_community),
    )

    @app.context_processor
    def _per_request() -> dict[str, Any]:
        return {
            "nav_current": request.endpoint or "",
            "query": request.args.get("q", "") if request.endpoint == "search.search" else "",
        }


def cfg_title(app: Flask) -> str:
    return app.extensions["kb"].cfg.site.title
