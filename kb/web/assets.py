"""GOV.UK Frontend's compiled CSS, JavaScript and images, served from node_modules/.

They are installed from the npm registry by `npm install` (scripts/serve and scripts/test run
it); nothing is copied into the repository. `/assets/` is the path the compiled CSS expects.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, abort, current_app, send_from_directory

bp = Blueprint("assets", __name__)
FILES = {"govuk-frontend.min.css", "govuk-frontend.min.css.map", "govuk-frontend.min.js", "govuk-frontend.min.js.map"}
MAX_AGE = 24 * 3600


def _dist() -> Path:
    folder = current_app.config.get("GOVUK_DIR")
    if not folder:
        abort(404)
    return Path(folder)


@bp.get("/govuk/<name>")
def govuk(name: str) -> Response:
    if name not in FILES:
        abort(404)
    return send_from_directory(_dist(), name, max_age=MAX_AGE)


@bp.get("/assets/<path:name>")
def govuk_assets(name: str) -> Response:
    return send_from_directory(_dist() / "assets", name, max_age=MAX_AGE)
