"""What every view shares: the reader, the catalogue, and HTTP caching.

`current_reader()` is the one place that decides who is reading (sign-in lives in
`kb.web.auth`). Rendered pages are kept for anonymous readers only: a signed-in page holds its
reader's name and CSRF token, so it is never served to anyone else.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from typing import Any

from flask import Response, make_response, request
from flask_wtf.csrf import generate_csrf

from kb.model.access import ANONYMOUS, Reader, audience
from kb.web.auth import reader, signed_in_user
from kb.web.state import catalog, state


def current_reader() -> Reader:
    """Who is reading this request: every view asks here (sign-in lives in `kb.web.auth`)."""
    return reader()


def _etag(parts: Any, personal: str) -> str:
    return hashlib.sha256(repr((state().build, audience(current_reader()), personal, parts)).encode()).hexdigest()[:32]


def _personal() -> str:
    """What a signed-in page shows of its own reader: the account bar and the CSRF token.

    Part of the ETag, so one user's copy never validates for another's."""
    user = signed_in_user()
    if user is None:
        return ""
    return f"{user.id}:{user.session_epoch}:{generate_csrf()}"


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
    personal = _personal()
    etag = _etag(parts, personal)
    stamp = last_modified.replace(microsecond=0) if last_modified else None
    fresh = False
    if request.if_none_match:
        fresh = request.if_none_match.contains_weak(etag)
    elif stamp is not None and request.if_modified_since is not None:
        fresh = stamp <= request.if_modified_since
    if fresh and status == 200:
        response = Response(status=304)
    else:
        # Only anonymous pages are kept: they are the same for every anonymous reader. A signed-in
        # page carries its reader's name and CSRF token, so it is rendered for that request only.
        body = catalog().memo(("page", etag), render) if cache and not personal else render()
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
