"""Issue 14: staff search feed items on the web (`/search?q=...&kind=item`); partners and the
public never see them (for them `kind=item` searches notes)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from auth_helpers import AuthActions
from feedserver import feed_server, feed_yaml  # noqa: F401
from flask import Flask
from site_fixtures import make_site

from kb.feeds.poller import Poller
from kb.sync import update_index
from kb.web import create_app
from kb.workspace import Workspace

QUERY = "/search?q=quadcopter&kind=item"
ITEM = "Police use prison flight restriction zones to seize a quadcopter"


@pytest.fixture
def app(tmp_path: Path, feed_server) -> Iterator[Flask]:  # noqa: F811
    root = make_site(tmp_path / "site")
    with (root / "config.toml").open("a") as f:
        f.write("\n[feeds]\nallow_private = true\n")  # the tests' feed server is on 127.0.0.1
    (root / "feeds" / "feeds.yaml").write_text(feed_yaml([(feed_server.url("/feeds/rss2.xml"), "Prison Watch")]))
    ws = Workspace.open(root)
    update_index(ws)
    poller = Poller(ws)
    assert poller.poll(suggest=False).indexed == 3
    poller.close()
    with ws.items.writer() as w:  # an item whose text and link are hostile
        w.put(
            id="item:999",
            kind="item",
            title="<script>alert(1)</script> quadcopter",
            body="quadcopter <img src=x onerror=alert(2)>",
            _stored_summary="quadcopter <img src=x onerror=alert(2)>",
            link="javascript:alert(3)",
            feed="1",
        )
    ws.close()
    application = create_app(root, {"TESTING": True})
    yield application
    application.extensions["kb"].close()


@pytest.fixture
def auth(app):  # type: ignore[no-untyped-def]
    return AuthActions(app)


def page_for(app, auth, who):  # type: ignore[no-untyped-def]
    c = app.test_client()
    if who:
        auth.sign_in(c, who)
    response = c.get(QUERY)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_finding_14_staff_search_feed_items_with_title_feed_date_snippet_and_link(app, auth):
    page = page_for(app, auth, "staff")
    assert "Search feed items" in page and ITEM in page
    assert 'href="https://prison-watch.example/2026/flight-restriction-zone-seizure"' in page
    assert "From Prison Watch" in page and "<mark>quadcopter</mark>" in page
    assert "catering award" not in page.lower()
    assert "<script>alert" not in page and "<img" not in page and "javascript:" not in page  # escaped, no link
    assert "&lt;script&gt;alert(1)&lt;/script&gt; quadcopter" in page
    admin = page_for(app, auth, "admin")
    assert ITEM in admin


@pytest.mark.parametrize("who", [None, "partner_a"])
def test_finding_14_the_public_and_partners_see_no_feed_items(app, auth, who):
    page = page_for(app, auth, who)
    assert ITEM not in page and "prison-watch.example" not in page and "Search feed items" not in page
    assert "Search risk notes" in page and 'id="search-kinds"' not in page  # no tab either


def test_finding_14_the_staff_tab_links_notes_and_items(app, auth):
    c = app.test_client()
    auth.sign_in(c, "staff")
    notes = c.get("/search?q=quadcopter").get_data(as_text=True)
    assert 'id="search-kinds"' in notes and "kind=item" in notes and ITEM not in notes
    bad = c.get("/search?q=%22unclosed&kind=item")
    assert bad.status_code == 400 and "Traceback" not in bad.get_data(as_text=True)
