"""Staff conveniences (issue 15): *Poll now* on a feed's staff page, and accepting or dismissing
several suggestions of the triage queue at once. Both are plain forms (no JavaScript), need a
CSRF token and a staff role, and write each decision to the audit log.

Poll now fetches from a real HTTP server on 127.0.0.1 (tests/feedserver.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import quote, unquote

import pytest
from auth_helpers import AuthActions
from feedserver import feed_server  # noqa: F401
from site_fixtures import app, client, make_site, site_root  # noqa: F401
from staff_fixtures import FEED_URL, add_feed_item, add_update_suggestion

from kb.sync import update_index
from kb.web import create_app
from kb.workspace import Workspace


@pytest.fixture
def auth(app):  # noqa: F811
    return AuthActions(app)


@pytest.fixture
def ws(app):  # noqa: F811
    return app.extensions["kb"].workspace


@pytest.fixture
def sids(ws, site_root) -> list[int]:  # noqa: F811
    (site_root / "feeds" / "feeds.yaml").write_text(
        f"feeds:\n  - url: {FEED_URL}\n    title: Example news\n    tags: [test]\n    interval: 60\n    enabled: true\n"
    )
    out = []
    for n, slug in enumerate(["prison-drones", "printed-guns", "overdue-cameras"]):
        item = add_feed_item(ws, f"News item {n}", f"https://news.example.test/{n}")
        out.append(add_update_suggestion(ws, slug, [item]))
    return out


def audit_rows(ws, action: str) -> list[dict]:
    return [r for r in ws.store.db["audit"].rows_where("action = ?", [action], order_by="id")]


# -- bulk triage ----------------------------------------------------------------------------------


def test_issue_15_the_queue_has_a_checkbox_per_suggestion_in_one_bulk_form(client, auth, sids):  # noqa: F811
    auth.sign_in(client, "staff")
    page = client.get("/staff/").get_data(as_text=True)
    assert '<form method="post" action="/staff/suggestions/bulk" id="bulk-triage"' in page
    for sid in sids:
        assert f'name="sid" type="checkbox" value="{sid}" form="bulk-triage"' in page
    assert "Accept selected" in page and "Dismiss selected" in page


def test_issue_15_several_suggestions_are_accepted_together_each_audited(client, auth, sids, ws, site_root):  # noqa: F811
    auth.sign_in(client, "staff")
    chosen = sids[:2]
    response = auth.post(client, "/staff/suggestions/bulk", {"sid": chosen, "action": "accept"}, form_page="/staff/")
    assert response.status_code == 302 and response.location.endswith("/staff/#triage")
    page = client.get(response.location).get_data(as_text=True)
    assert f"2 suggestions accepted: {chosen[0]}, {chosen[1]}." in page
    assert [ws.store.db["suggestions"].get(s)["status"] for s in sids] == ["accepted", "accepted", "open"]
    assert "News item 0" in (site_root / "entries" / "prison-drones.md").read_text()
    assert "News item 1" in (site_root / "entries" / "printed-guns.md").read_text()
    rows = audit_rows(ws, "suggestion.accept")
    assert [r["target"] for r in rows] == [str(s) for s in chosen]
    assert {r["actor"] for r in rows} == {"sam@kb.example"}


def test_issue_15_several_suggestions_are_dismissed_with_one_reason(client, auth, sids, ws):  # noqa: F811
    auth.sign_in(client, "staff")
    data = {"sid": sids, "action": "dismiss", "reason": "  old   news "}
    response = auth.post(client, "/staff/suggestions/bulk", data, form_page="/staff/")
    assert "3 suggestions dismissed" in client.get(response.location).get_data(as_text=True)
    for sid in sids:
        row = ws.store.db["suggestions"].get(sid)
        assert row["status"] == "dismissed" and row["note"] == "old news"
    rows = audit_rows(ws, "suggestion.dismiss")
    assert [(r["target"], json.loads(r["detail"])["summary"]) for r in rows] == [(str(s), "old news") for s in sids]


def test_issue_15_bulk_triage_without_a_choice_changes_nothing(client, auth, sids, ws):  # noqa: F811
    auth.sign_in(client, "staff")
    nothing = auth.post(client, "/staff/suggestions/bulk", {"action": "accept"}, form_page="/staff/")
    assert "Select the suggestions to accept first." in client.get(nothing.location).get_data(as_text=True)
    # Enter in the reason box submits the form's first (default) button: it must not accept
    default = auth.post(client, "/staff/suggestions/bulk", {"sid": sids, "action": ""}, form_page="/staff/")
    assert "Choose Accept selected or Dismiss selected." in client.get(default.location).get_data(as_text=True)
    assert {ws.store.db["suggestions"].get(s)["status"] for s in sids} == {"open"}
    assert audit_rows(ws, "suggestion.accept") == [] and audit_rows(ws, "suggestion.dismiss") == []


def test_issue_15_one_failing_suggestion_leaves_the_others_done(client, auth, sids, ws):  # noqa: F811
    auth.sign_in(client, "staff")
    auth.post(client, f"/staff/suggestions/{sids[0]}/dismiss", {"reason": "first"}, form_page="/staff/")
    response = auth.post(client, "/staff/suggestions/bulk", {"sid": sids, "action": "dismiss"}, form_page="/staff/")
    page = client.get(response.location).get_data(as_text=True)
    assert f"2 suggestions dismissed: {sids[1]}, {sids[2]}." in page
    assert f"Suggestion {sids[0]} was not dismissed:" in page
    assert ws.store.db["suggestions"].get(sids[0])["note"] == "first"


@pytest.mark.parametrize("url", ["/staff/suggestions/bulk", "/staff/feeds/poll"])
def test_issue_15_new_posts_need_a_csrf_token_and_a_staff_role(client, auth, sids, url, ws):  # noqa: F811
    auth.sign_in(client, "staff")
    data = {"sid": sids[0], "action": "dismiss", "url": FEED_URL}
    assert client.post(url, data=data).status_code == 400  # no CSRF token
    auth.sign_out(client)
    auth.sign_in(client, "partner_a")
    assert auth.post(client, url, data, form_page="/account").status_code == 403
    auth.sign_out(client)
    response = auth.post(client, url, data, form_page="/sign-in")
    assert response.status_code == 302 and response.location.startswith("/sign-in")
    assert ws.store.db["suggestions"].get(sids[0])["status"] == "open"


# -- Poll now ----------------------------------------------------------------------------------------


@pytest.fixture
def poll_app(tmp_path, feed_server) -> Iterator[tuple]:  # noqa: F811
    """A site whose one feed is on the test feed server (so private addresses are allowed)."""
    root = make_site(tmp_path / "poll-site")
    with (root / "config.toml").open("a") as fh:
        fh.write("\n[feeds]\nallow_private = true\nconnect_timeout = 2.0\nread_timeout = 2.0\ntotal_timeout = 5.0\n")
    url = feed_server.url("/feeds/rss2.xml")
    (root / "feeds" / "feeds.yaml").write_text(
        f"feeds:\n  - url: {url}\n    title: Test RSS\n    tags: [test]\n    interval: 60\n    enabled: true\n"
    )
    workspace = Workspace.open(root)
    update_index(workspace)
    workspace.close()
    application = create_app(root, {"TESTING": True})
    yield application, url
    application.extensions["kb"].close()


def test_issue_15_poll_now_polls_one_feed_at_once_and_audits_it(poll_app, feed_server):  # noqa: F811
    application, url = poll_app
    auth, browser = AuthActions(application), application.test_client()
    auth.sign_in(browser, "staff")
    feed_page = "/staff/feeds/feed?url=" + quote(url, safe="")
    assert "Poll now" in browser.get(feed_page).get_data(as_text=True)
    response = auth.post(browser, "/staff/feeds/poll", {"url": url}, form_page=feed_page)
    assert response.status_code == 302 and unquote(response.location) == unquote(feed_page)
    page = browser.get(response.location).get_data(as_text=True)
    assert f"Polled: {url}: " in page and " new, 0 updated." in page
    assert len(feed_server.hits("/feeds/rss2.xml")) == 1
    db = application.extensions["kb"].workspace.store.db
    assert db.execute("SELECT count(*) FROM feed_items WHERE feed_url = ?", [url]).fetchone()[0] > 0
    # not due for an hour: Poll now fetches it anyway
    again = auth.post(browser, "/staff/feeds/poll", {"url": url}, form_page=feed_page)
    assert "not modified (304)" in browser.get(again.location).get_data(as_text=True)
    assert len(feed_server.hits("/feeds/rss2.xml")) == 2
    rows = [r for r in db["audit"].rows_where("action = 'feed.poll'", order_by="id")]
    assert [r["target"] for r in rows] == [url, url] and rows[0]["actor"] == "sam@kb.example"
    assert "new" in json.loads(rows[0]["detail"])["summary"]


def test_issue_15_poll_now_for_a_feed_not_in_the_list_says_so(poll_app, feed_server):  # noqa: F811
    application, _ = poll_app
    auth, browser = AuthActions(application), application.test_client()
    auth.sign_in(browser, "staff")
    response = auth.post(browser, "/staff/feeds/poll", {"url": "https://nowhere.example.test/x"}, form_page="/staff/")
    assert response.location == "/staff/feeds"
    page = browser.get(response.location).get_data(as_text=True)
    assert "There is no feed https://nowhere.example.test/x in feeds/feeds.yaml." in page
    assert feed_server.requests == []
    assert list(application.extensions["kb"].workspace.store.db["audit"].rows_where("action = 'feed.poll'")) == []
