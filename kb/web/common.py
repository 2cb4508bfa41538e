"""What every view shares: the reader, the catalogue, and HTTP caching.

`current_reader()` is the one place that decides who is reading. Until sign-in arrives it is
always `ANONYMOUS`, so the site shows exactly what `kb.access` allows the public.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Response, current_app, make_response, request

from kb.access import ANONYMOUS, Reader, audience
from kb.catalog import Catalog
from kb.config import Config
from kb.workspace import Workspace


@dataclass
class SiteState:
    """What the app holds open: the knowledge base and its catalogue."""

    cfg: Config
    workspace: Workspace
    catalog: Catalog
    build: str  # changes when templates or assets change, so cached pages are not reused

    def close(self) -> None:
        self.workspace.close()


def state() -> SiteState:
    return current_app.extensions["kb"]


def catalog() -> Catalog:
    return state().catalog


def cfg() -> Config:
    return state().cfg


def current_reader() -> Reader:
    """Who is reading this request: every view asks here (sign-in lives in `kb.web.auth`)."""
    from kb.web.auth import reader

    return reader()


def _etag(parts: Any) -> str:
    return hashlib.sha256(repr((state().build, audience(current_reader()), parts)).encode()).hexdigest()[:32]


def conditional(
    parts: Any,
    last_modified: dt.datetime | None,
    render: Callable[[], Any],
    *,
    mimetype: str | None = None,
    status: int = 200,
    cache: bool = True,
) -> Response:
    """A response with an ETag and Last-Modified; 304 without rendering when the reader's copy is current.

    `parts` must capture everything the body depends on (a catalogue token, the query, the date):
    the rendered body is kept under the ETag until the catalogue next changes (`cache=False`
    for bodies that are not worth keeping), so a page is rendered once per version, not per request.
    """
    etag = _etag(parts)
    stamp = last_modified.replace(microsecond=0) if last_modified else None
    fresh = False
    if request.if_none_match:
        fresh = request.if_none_match.contains_weak(etag)
    elif stamp is not None and request.if_modified_since is not None:
        fresh = stamp <= request.if_modified_since
    if fresh and status == 200:
        response = Response(status=304)
    else:
        body = catalog().memo(("page", etag), render) if cache else render()
        response = make_response(body, status)
        if mimetype:
            response.content_type = mimetype
    response.set_etag(etag)
    if stamp is not None:
        response.last_modified = stamp
    response.cache_control.no_cache = True  # store, but ask before reuse: revalidation is a cheap 304
    if current_reader() == ANONYMOUS:
        response.cache_control.public = True
    else:  # a signed-in reader's pages must not sit in a shared cache
        response.cache_control.private = True
        response.vary.add("Cookie")
    return response
