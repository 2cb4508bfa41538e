"""The site's pages through Flask's test client: every route, caching, headers, errors."""

from __future__ import annotations

import re
import sys

import pytest
from site_fixtures import app, client, edit, site_root, site_ws  # noqa: F401

from kb.sync import update_index
from kb.web import create_app


def text(response) -> str:
    return response.get_data(as_text=True)


def test_home_shows_new_highest_risks_and_radar(client):  # noqa: F811
    page = text(client.get("/"))
    assert '<h2 class="govuk-heading-l">New and updated</h2>' in page
    assert "Highest risks" in page and "Delivery of contraband into prisons" in page
    svg = re.search(r"<svg[^>]*app-radar.*?</svg>", page, re.S).group(0)
    assert 'role="img"' in svg and "<title" in svg and "<desc" in svg
    assert svg.count("<circle cx=") >= 3 + 4  # three notes plus the four rings
    table = page.split("The radar as a table")[1].split("</table>")[0]
    assert table.split("<tbody")[1].count("<tr ") == 3
    assert "3 risk notes published" in page
    assert "Review overdue" in page  # the overdue note is flagged in the list


def test_entry_page_has_everything_a_partner_needs(client):  # noqa: F811
    page = text(client.get("/entries/prison-drones"))
    assert "TLP:CLEAR" in page and "shared freely" in page
    assert "Drones fly drugs and phones over prison walls" in page
    assert "Now" in page and "Mainstream" in page
    matrix = re.search(r"<svg[^>]*app-matrix.*?</svg>", page, re.S).group(0)
    assert 'role="img"' in matrix and "likelihood 5, impact 3" in matrix
    assert "Smuggling, drugs supply" in page and "Rising" in page
    # measures grouped by who must act, in the vocabulary's order
    assert page.index(">Manufacturers</h3>") < page.index(">Operators</h3>")
    assert "Geofence prisons in firmware" in page and "In progress" in page
    assert "HM Chief Inspector of Prisons" in page
    assert 'href="/entries/printed-guns"' in page
    assert "1 October 2026" in page  # last reviewed
    assert "overdue for review" not in page
    assert "<script>alert" not in page  # the body's script was sanitised away
    assert '<link rel="alternate" type="application/atom+xml"' in page
    assert 'href="/feeds/sectors/prisons.atom"' in page


def test_overdue_review_is_a_visible_warning(client):  # noqa: F811
    page = text(client.get("/entries/overdue-cameras"))
    assert "govuk-warning-text" in page and "overdue for review" in page
    assert "15 January 2020" in page


@pytest.mark.parametrize(
    "url, expected",
    [
        ("/entries/", ["3D-printed firearms", "Doorbell cameras", "Prison drones"]),
        ("/sectors/", ["Prisons", "Home security", "Manufacturing", "Policing"]),
        ("/sectors/prisons", ["Prison drones", "Doorbell cameras", "/feeds/sectors/prisons.rss", "Subscribe"]),
        ("/tags/", ["Drones", "Firearms", "Iot"]),
        ("/tags/firearms", ["3D-printed firearms", "/feeds/tags/firearms.atom"]),
        ("/drivers/", ["Opportunity", "Drugs", "Character"]),
        ("/drivers/drugs", ["Prison drones"]),
        ("/horizons/", ["Now"]),
        ("/horizons/now", ["Prison drones", "3D-printed firearms", "Doorbell cameras"]),
    ],
)
def test_browse_pages(client, url, expected):  # noqa: F811
    response = client.get(url)
    assert response.status_code == 200
    for item in expected:
        assert item in text(response), item


def test_sector_page_lists_highest_risk_first_and_feeds_are_discoverable(client):  # noqa: F811
    page = text(client.get("/sectors/prisons"))
    assert page.index("Prison drones") < page.index("Doorbell cameras")
    assert (
        '<link rel="alternate" type="application/rss+xml" title="Horizon KB: Prisons (RSS)" href="/feeds/sectors/prisons.rss">'
        in page
    )


def test_unknown_facet_value_and_kind_are_404(client):  # noqa: F811
    assert client.get("/sectors/no-such-sector").status_code == 404
    assert client.get("/colours/").status_code == 404


def test_search_shows_snippets_facets_and_pages(app, client):  # noqa: F811
    page = text(client.get("/search?q=prison"))
    assert "<mark>" in page
    assert "Filter" in page and ">Prisons<" in page
    assert re.search(r"\d+ results?", page)
    every = text(client.get("/search?q=burglary OR firearms OR drones"))
    assert "3 results" in every


def test_search_pagination_and_facet_refinement(tmp_path):
    from site_fixtures import make_site

    from kb.workspace import Workspace

    root = make_site(tmp_path / "small", per_page=2)
    ws = Workspace.open(root)
    update_index(ws)
    ws.close()
    small = create_app(root, {"TESTING": True})
    try:
        c = small.test_client()
        first = text(c.get("/search?q=burglary OR firearms OR drones"))
        assert "page 1 of 2" in first and "govuk-pagination" in first
        assert 'href="/search?q=burglary+OR+firearms+OR+drones&amp;page=2"' in first
        second = text(c.get("/search?q=burglary OR firearms OR drones&page=2"))
        assert "page 2 of 2" in second and second.count('class="app-result"') == 1
        narrowed = text(c.get("/search?q=burglary OR firearms OR drones&sector=prisons"))
        assert "2 results" in narrowed and "Remove<span" in narrowed
        assert "3D-printed firearms" not in narrowed.split('id="results"')[1]
    finally:
        small.extensions["kb"].close()


def test_search_syntax_error_is_a_friendly_message(client):  # noqa: F811
    response = client.get('/search?q="unclosed')
    assert response.status_code == 400
    page = text(response)
    assert "There is a problem" in page and "unbalanced quotes" in page
    assert "<title>Error:" in page and "Traceback" not in page
    assert text(client.get("/search?q=colour:red")).count("unknown field") >= 1


def test_empty_search_shows_the_form(client):  # noqa: F811
    page = text(client.get("/search"))
    assert 'id="q"' in page and "result" not in page.split("</form>")[-1]


def test_query_box_on_every_page(client):  # noqa: F811
    for url in ("/", "/entries/prison-drones", "/sectors/prisons", "/search?q=drone", "/no-such-page"):
        assert 'role="search"' in text(client.get(url)), url


def test_404_and_500_pages_in_the_same_style(site_root):  # noqa: F811
    app_ = create_app(site_root, {"TESTING": False, "PROPAGATE_EXCEPTIONS": False})

    @app_.get("/boom")
    def boom():  # pragma: no cover - the handler is what is tested
        raise RuntimeError("secret internals")

    try:
        c = app_.test_client()
        missing = c.get("/entries/nothing-here")
        assert missing.status_code == 404
        assert "Page not found" in text(missing) and "govuk-template" in text(missing)
        assert "nothing-here" not in text(missing)  # the address is not repeated
        broken = c.get("/boom")
        assert broken.status_code == 500
        assert "problem with the service" in text(broken) and "govuk-footer" in text(broken)
        assert "secret internals" not in text(broken)
        assert c.get("/api/nothing").get_json() == {"error": "Page not found", "status": 404}
        assert c.post("/").status_code == 405
    finally:
        app_.extensions["kb"].close()


def test_security_headers_and_no_inline_script(client):  # noqa: F811
    response = client.get("/entries/prison-drones")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "default-src 'self'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    page = text(response)
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", page) == []  # every script is a file
    assert " style=" not in page  # no inline styles either: the CSP forbids them


def test_etag_and_last_modified_revalidate(client, site_ws, site_root):  # noqa: F811
    first = client.get("/entries/prison-drones")
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert "no-cache" in first.headers["Cache-Control"]
    assert client.get("/entries/prison-drones", headers={"If-None-Match": etag}).status_code == 304
    assert client.get("/entries/prison-drones", headers={"If-Modified-Since": modified}).status_code == 304
    for url in ("/", "/sectors/prisons", "/feeds/all.atom", "/api/entries", "/sitemap.xml", "/search?q=drone"):
        tag = client.get(url).headers["ETag"]
        assert client.get(url, headers={"If-None-Match": tag}).status_code == 304, url
    edit(site_root, "prison-drones", "likelihood: 5", "likelihood: 4")
    update_index(site_ws)
    changed = client.get("/entries/prison-drones", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert "likelihood 4, impact 3" in text(changed)


def test_markdown_is_rendered_once_per_version(app, client, site_ws, site_root, monkeypatch):  # noqa: F811
    import kb.model.entry

    calls = []
    real = kb.model.entry.render_markdown
    monkeypatch.setattr(kb.model.entry, "render_markdown", lambda t: calls.append(t) or real(t))
    for _ in range(5):
        client.get("/entries/printed-guns")
        client.get("/api/entries/printed-guns")
    assert len(calls) == 1
    edit(site_root, "printed-guns", "steel barrels", "steel tubes")
    update_index(site_ws)
    assert "steel tubes" in text(client.get("/entries/printed-guns"))
    client.get("/entries/printed-guns")
    assert len(calls) == 2


def test_govuk_assets_are_served_from_the_npm_package(client):  # noqa: F811
    def fetch(url):
        with client.get(url) as response:
            return response.status_code, response.get_data()

    status, css = fetch("/govuk/govuk-frontend.min.css")
    if status == 404:
        pytest.skip("govuk-frontend is not installed: run npm install (scripts/test does)")
    assert status == 200 and b".govuk-" in css
    assert fetch("/govuk/govuk-frontend.min.js")[0] == 200
    assert fetch("/govuk/package.json")[0] == 404
    status, site_css = fetch("/static/site.css")
    assert status == 200 and b"system-ui" in site_css


def test_web_layers_below_do_not_import_flask():
    import subprocess

    code = "import kb.site.catalog, kb.site.charts, kb.site.feedout, kb.cli.web, sys; print('flask' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_kb_serve_syncs_starts_the_scheduler_and_runs_the_app(kb_root, monkeypatch):
    from click.testing import CliRunner
    from flask import Flask

    import kb.cli.web
    from kb.cli.main import main

    ran, started, stopped = [], [], []

    class FakeScheduler:
        def shutdown(self):
            stopped.append(True)

    monkeypatch.setattr(Flask, "run", lambda self, **kw: ran.append(kw))
    monkeypatch.setattr(kb.cli.web, "start_scheduler", lambda cfg: started.append(cfg) or FakeScheduler())
    result = CliRunner().invoke(main, ["--root", str(kb_root), "serve", "--port", "5099"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "entries: 4 read" in result.output
    assert "Serving Horizon KB at http://127.0.0.1:5099/" in result.output
    assert ran == [{"host": "127.0.0.1", "port": 5099, "debug": False, "use_reloader": False}]
    assert len(started) == 1 and stopped == [True]


def test_wsgi_entry_builds_the_app_for_kb_root(site_root, monkeypatch):  # noqa: F811
    monkeypatch.setenv("KB_ROOT", str(site_root))
    monkeypatch.delitem(sys.modules, "kb.web.wsgi", raising=False)
    import kb.web.wsgi as wsgi

    try:
        assert wsgi.app.test_client().get("/entries/prison-drones").status_code == 200
    finally:
        wsgi.app.extensions["kb"].close()
        sys.modules.pop("kb.web.wsgi", None)


def test_home_radar_says_when_it_shows_only_the_highest_scores(client, monkeypatch):  # noqa: F811
    assert "notes with the highest scores" not in client.get("/").get_data(as_text=True)
    monkeypatch.setattr("kb.site.catalog.RADAR_LIMIT", 2)
    app_ = client.application
    app_.extensions["kb"].catalog._memo.clear()
    home = client.get("/", headers={"Cache-Control": "no-cache"}).get_data(as_text=True)
    assert re.search(r"It shows the 2 notes with the highest scores, of\s+\d+", home)
    assert home.count('<tr class="govuk-table__row">') - 1 == 2  # the radar's table: a header row and two
