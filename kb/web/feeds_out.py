"""Feeds out: Atom 1.0 and RSS 2.0 for all notes, per sector and per tag; sitemap.xml; robots.txt.

Feed bytes are built once per change of what the reader may see (the catalogue's token) and
served with an ETag, so an unchanged feed is a 304 and costs nothing to build.

A partner's private feeds, `/feeds/private/TOKEN/all.atom` and `/feeds/private/TOKEN/sectors/X.rss`
(or `tags/`), carry what that partner may read, with no cookie: a feed reader has none. The token
is the only key; changing it on the account page (or disabling the user) stops every one of them.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from flask import Blueprint, Response, abort, g, request, url_for

from kb.site import feedout
from kb.site.catalog import Note, facet_label
from kb.web import common
from kb.web.common import conditional
from kb.web.pages import BROWSE, BROWSE_TITLES, FEED_KINDS, SEGMENT
from kb.web.state import catalog, cfg

bp = Blueprint("feeds_out", __name__)
FEED_SEGMENTS = [SEGMENT[kind] for kind in FEED_KINDS]


@bp.get("/feeds/all.<any(atom, rss):fmt>")
def all_notes(fmt: str) -> Response:
    return _feed(fmt, None, None)


@bp.get("/feeds/<any(sectors, tags):segment>/<value>.<any(atom, rss):fmt>")
def by_facet(segment: str, value: str, fmt: str) -> Response:
    return _feed(fmt, BROWSE[segment], value)


@bp.get("/feeds/private/<token>/all.<any(atom, rss):fmt>")
def private_notes(token: str, fmt: str) -> Response:
    """A partner's own feed of every note they may read. The token is secret and revocable."""
    _read_as_owner(token)
    return _feed(fmt, None, None)


@bp.get("/feeds/private/<token>/<any(sectors, tags):segment>/<value>.<any(atom, rss):fmt>")
def private_by_facet(token: str, segment: str, value: str, fmt: str) -> Response:
    """A partner's own feed of one sector or tag: the notes of it they may read, no cookie needed."""
    _read_as_owner(token)
    return _feed(fmt, BROWSE[segment], value)


def _read_as_owner(token: str) -> None:
    """Read this request as the private feed's owner; an unknown or revoked token is 'not found'."""
    from kb.web.auth import accounts

    user = accounts().by_feed_token(token)
    if user is None:
        abort(404)
    g.feed_reader = user.reader


def _feed(fmt: str, kind: str | None, value: str | None) -> Response:
    reader, cat = common.current_reader(), catalog()
    site = cfg().site
    if kind is None or value is None:
        notes = cat.notes(reader)
        name, title, page = "all", f"{site.title}: all risk notes", url_for("pages.home", _external=True)
    else:
        notes = cat.with_value(reader, kind, value)
        if not notes:
            abort(404)
        label = facet_label(kind, value)
        name = f"{kind}/{value}"
        title = f"{site.title}: {BROWSE_TITLES[kind].lower()[:-1]} {label}"
        page = url_for("pages.browse", segment=SEGMENT[kind], value=value, _external=True)
    self_url = request.base_url

    def build() -> bytes:
        items = [
            feedout.FeedItem(
                n,
                cat.changes(reader, n),
                _note_url(n),
                feedout.sharing_text(n.tlp, n.share_with, site.green_community),
            )
            for n in notes
        ]
        return feedout.render(
            items,
            kind=fmt,
            title=title,
            feed_name=name,
            self_url=self_url,
            page_url=page,
            base_url=site.base_url,
            author=site.title,
            subtitle="New and changed crime-risk assessments of emerging technologies, and the measures "
            "that design the risks out.",
        )

    return conditional(
        ("feed", fmt, name, self_url, cat.token(reader)),
        cat.last_modified(reader, notes),
        build,
        mimetype=feedout.FORMATS[fmt],
    )


def _note_url(note: Note) -> str:
    return url_for("pages.entry", slug=note.slug, _external=True)


@bp.get("/sitemap.xml")
def sitemap() -> Response:
    reader, cat = common.current_reader(), catalog()

    def build() -> str:
        urls: list[tuple[str, str | None]] = [
            (url_for("pages.home", _external=True), None),
            (url_for("pages.entries", _external=True), None),
        ]
        for kind in BROWSE.values():
            urls.append((url_for("pages.browse_index", segment=SEGMENT[kind], _external=True), None))
            for facet in cat.facets(reader, kind):
                newest = cat.last_modified(reader, cat.with_value(reader, kind, facet.value))
                urls.append(
                    (
                        url_for("pages.browse", segment=SEGMENT[kind], value=facet.value, _external=True),
                        newest.date().isoformat(),
                    )
                )
        for note in cat.notes(reader):
            urls.append((_note_url(note), note.updated.date().isoformat()))
        lines = [
            '<?xml version="1.0" encoding="UTF-8"?>',
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">',
        ]
        for loc, lastmod in urls:
            lines.append(
                f"  <url><loc>{escape(loc)}</loc>" + (f"<lastmod>{lastmod}</lastmod>" if lastmod else "") + "</url>"
            )
        lines.append("</urlset>\n")
        return "\n".join(lines)

    return conditional(
        ("sitemap", cat.token(reader), request.host_url),
        cat.last_modified(reader),
        build,
        mimetype="application/xml; charset=utf-8",
    )


@bp.get("/robots.txt")
def robots() -> Response:
    text = (
        f"User-agent: *\nDisallow: /search\nDisallow: /api/\nSitemap: {url_for('feeds_out.sitemap', _external=True)}\n"
    )
    return Response(text, mimetype="text/plain")
