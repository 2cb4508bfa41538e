"""The public site: a Flask app factory and one blueprint per area.

    pages      home, entry pages, browse by tag / sector / driver / horizon, error pages
    search     the search page
    feeds_out  Atom and RSS feeds, sitemap.xml, robots.txt
    api        the JSON API under /api/, and CSV downloads
    history    change history, compare two versions, latest changes; a sector's CSV
    assets     GOV.UK Frontend's CSS, JavaScript and images from node_modules/

Views are thin: what a reader may see comes from `kb.catalog`, charts from `kb.charts`,
feeds from `kb.feedout`. The app never starts the scheduler (`kb serve` does), so the
debug reloader and every gunicorn worker do not each start their own.
"""

from __future__ import annotations

import gc
import hashlib
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from jinja2 import ChoiceLoader, FileSystemBytecodeCache, FileSystemLoader, PackageLoader, PrefixLoader
from werkzeug.middleware.proxy_fix import ProxyFix

from kb import config as _config
from kb.config import Config
from kb.errors import ConfigError
from kb.site.catalog import Catalog
from kb.web.state import SiteState
from kb.workspace import Workspace

log = logging.getLogger(__name__)
PACKAGE_ROOT = Path(__file__).resolve().parent.parent.parent  # the repository, for an editable install
GOVUK_DIST = Path("node_modules/govuk-frontend/dist/govuk")

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
}


# Python's cyclic garbage collector runs its youngest generation every 700 new objects, and the
# older ones every 10 runs of the one below. A search page makes thousands (postings, snippets,
# template output), so each page paid several collections, and one page in ten a collection of
# the middle generation, which holds the caches still young enough to be in it (~3.5 ms at
# 10,000 notes). A worker keeps little garbage in cycles: collect it less often.
GC_THRESHOLDS = (10_000, 20, 20)


def _fewer_collections() -> None:
    """Raise the collector's thresholds to at least `GC_THRESHOLDS` (never lower ones set already)."""
    gc.set_threshold(*(max(now, least) for now, least in zip(gc.get_threshold(), GC_THRESHOLDS, strict=True)))


def _first_dir(candidates: list[Path], marker: str) -> Path | None:
    return next((c for c in candidates if (c / marker).exists()), None)


def templates_dir(cfg: Config) -> Path:
    """The site's templates: the repository's `templates/` (editable install), else the knowledge base's."""
    found = _first_dir([PACKAGE_ROOT / "templates", cfg.root / "templates"], "layout.html")
    if found is None:
        raise ConfigError(
            f"cannot find the site's templates (looked for templates/layout.html in {PACKAGE_ROOT} and {cfg.root}); "
            "install Horizon KB from its repository with pip install -e ."
        )
    return found


def govuk_dir(cfg: Config) -> Path | None:
    """GOV.UK Frontend's compiled files, installed by `npm install` (scripts/serve does it)."""
    return _first_dir([cfg.root / GOVUK_DIST, PACKAGE_ROOT / GOVUK_DIST], "govuk-frontend.min.css")


def _build_id(*folders: Path | None) -> str:
    """Changes when any template or asset file changes, so an old cached page is not reused."""
    digest = hashlib.sha256()
    for folder in folders:
        if folder is None:
            continue
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                stat = path.stat()
                digest.update(f"{path}:{stat.st_mtime_ns}:{stat.st_size}".encode())
    return digest.hexdigest()[:12]


def create_app(cfg_or_root: Config | Path | str | None = None, test_config: Mapping[str, Any] | None = None) -> Flask:
    """The site for one knowledge base (a `Config`, its folder, or None for $KB_ROOT / the current folder).

    `test_config` overrides Flask settings (e.g. `{"TESTING": True}`). Call
    `app.extensions["kb"].close()` when done with the app, to close the database.
    """
    cfg = cfg_or_root if isinstance(cfg_or_root, Config) else _config.load(cfg_or_root)
    _fewer_collections()
    templates = templates_dir(cfg)
    govuk = govuk_dir(cfg)
    if govuk is None:
        log.warning("GOV.UK Frontend is not installed (run npm install in %s); pages will be unstyled", PACKAGE_ROOT)
    if cfg.accounts.test_hashing:
        log.warning("accounts.test_hashing is on: passwords are hashed at the lowest cost; never use it in production")
    app = Flask(__name__, template_folder=str(templates), static_folder="static", static_url_path="/static")
    app.config.from_mapping(
        GOVUK_DIR=str(govuk) if govuk else None,
        JSON_SORT_KEYS=False,
        SEND_FILE_MAX_AGE_DEFAULT=3600,
    )
    if test_config:
        app.config.update(test_config)
    if cfg.site.proxies:  # believe the forwarded client address and scheme from that many proxies only
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=cfg.site.proxies, x_proto=cfg.site.proxies)  # type: ignore[method-assign]
    app.jinja_loader = ChoiceLoader(
        [  # type: ignore[assignment]
            FileSystemLoader(str(templates)),
            PrefixLoader({"govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja")}),
        ]
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]

    workspace = Workspace.open(cfg=cfg)
    # Compiled templates are kept in var/templates/ (written atomically, checked against each
    # template's modification time): a fresh worker's first page skips compiling them.
    bytecode = cfg.var_dir / "templates"
    bytecode.mkdir(parents=True, exist_ok=True)
    app.jinja_options = {**app.jinja_options, "bytecode_cache": FileSystemBytecodeCache(str(bytecode))}
    site = SiteState(
        cfg=cfg,
        workspace=workspace,
        catalog=Catalog(workspace.store, workspace.index, cfg.entries_dir, cfg.review_days),
        build=_build_id(templates, Path(app.static_folder or ""), govuk),
    )
    app.extensions["kb"] = site

    from kb.web import api, assets, auth, feeds_out, history, mail, pages, search, staff, users

    auth.init_app(app)
    app.register_blueprint(staff.bp)
    app.register_blueprint(users.bp)

    for module in (pages, search, feeds_out, api, assets, history, mail):
        app.register_blueprint(module.bp)
    pages.register_errors(app)
    pages.register_template_helpers(app)

    @app.after_request
    def _security_headers(response):  # type: ignore[no-untyped-def]
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    return app
