"""The staff workspace through the real forms: roles on every route, CSRF on every POST, the
triage queue, the editor (validation, conflicts, no-JavaScript groups, preview), status actions,
feed management and the audit log."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from auth_helpers import AuthActions
from site_fixtures import app, client, site_root  # noqa: F401
from staff_fixtures import FEED_URL, add_feed_item, add_update_suggestion

from kb.accounts import Accounts
from kb.errors import Busy
from kb.sync import update_index

GET_ROUTES = [
    "/staff/",
    "/staff/entries/prison-drones",
    "/staff/entries/prison-drones/edit",
    "/staff/entries/new",
    "/staff/feeds",
    f"/staff/feeds/feed?url={FEED_URL}",
    "/staff/entries/draft-robots/edit",
]
POST_ROUTES = [
    "/staff/suggestions/{sid}/accept",
    "/staff/suggestions/{sid}/dismiss",
    "/staff/suggestions/{sid}/snooze",
    "/staff/entries/draft-robots/status",
    "/staff/entries/draft-robots/edit",
    "/staff/entries/new",
    "/staff/feeds",
    "/staff/feeds/pause",
    "/staff/feeds/resume",
    "/staff/feeds/remove",
]


@pytest.fixture
def auth(app):  # noqa: F811
    return AuthActions(app)


@pytest.fixture
def ws(app):  # noqa: F811
    return app.extensions["kb"].workspace


@pytest.fixture
def sid(ws, site_root):  # noqa: F811
    (site_root / "feeds" / "feeds.yaml").write_text(
        f"# Test feeds.\nfeeds:\n  - url: {FEED_URL}\n    title: Example news\n    tags: [test]\n"
        "    interval: 60\n    enabled: true\n"
    )
    item = add_feed_item(
        ws,
        "Quadcopter drops phones into HMP Example",
        "https://news.example.test/a",
        html='<p>Seized <script>alert("x")</script><a href="javascript:alert(1)">link</a></p>',
    )
    return add_update_suggestion(ws, "prison-drones", [item])


def entry_path(site_root: Path, slug: str) -> Path:  # noqa: F811
    return site_root / "entries" / f"{slug}.md"


def form_fields(html: str) -> list[tuple[str, str]]:
    """The fields a browser would submit from the editor form (inputs, selected options, checked
    boxes, textareas), without any button."""
    form = html[html.index('id="entry-form"') :]
    fields: list[tuple[str, str]] = []
    for tag in re.finditer(r"<input ([^>]*)>", form):
        attrs = dict(re.findall(r'(\w[\w-]*)="([^"]*)"', tag.group(1)))
        if attrs.get("type") == "checkbox" and " checked" not in tag.group(1):
            continue
        if "name" in attrs:
            fields.append((attrs["name"], unescape(attrs.get("value", ""))))
    for select in re.finditer(r'<select [^>]*name="([^"]+)"[^>]*>(.*?)</select>', form, re.DOTALL):
        chosen = re.search(r'<option value="([^"]*)" selected>', select.group(2))
        fields.append((select.group(1), unescape(chosen.group(1)) if chosen else ""))
    for area in re.finditer(r'<textarea [^>]*name="([^"]+)"[^>]*>\n?(.*?)</textarea>', form, re.DOTALL):
        fields.append((area.group(1), unescape(area.group(2))))
    return fields


def unescape(text: str) -> str:
    import html

    return html.unescape(text)


def submit(client, url: str, changes: dict[str, str] | None = None, action: str = "save", page: str | None = None):  # noqa: F811
    html = page or client.get(url).get_data(as_text=True)
    data: dict[str, list[str]] = {}
    for name, value in form_fields(html):
        data.setdefault(name, []).append(value)
    for name, value in (changes or {}).items():
        data[name] = [value]
    data["action"] = [action]
    return client.post(url, data=data)


# -- who may do what --------------------------------------------------------------------------


@pytest.mark.parametrize("url", GET_ROUTES + ["/admin/audit"])
def test_anonymous_visitors_are_sent_to_sign_in(client, sid, url):  # noqa: F811
    response = client.get(url)
    assert response.status_code == 302 and response.location.startswith("/sign-in?next=")


@pytest.mark.parametrize("url", GET_ROUTES + ["/admin/audit"])
def test_partners_are_refused(client, auth, sid, url):  # noqa: F811
    auth.sign_in(client, "partner_a")
    assert client.get(url).status_code == 403


@pytest.mark.parametrize("who", ["staff", "admin"])
def test_staff_and_admins_see_every_staff_page(client, auth, sid, who):  # noqa: F811
    auth.sign_in(client, who)
    for url in GET_ROUTES:
        response = client.get(url)
        assert response.status_code == 200, url
        assert "Content-Security-Policy" in response.headers
        assert "<script>" not in response.get_data(as_text=True).replace('<script type="module"', "")
        assert " style=" not in response.get_data(as_text=True)


def test_the_audit_log_is_for_admins_only(client, auth, sid):  # noqa: F811
    auth.sign_in(client, "staff")
    assert client.get("/admin/audit").status_code == 403
    assert "Audit log" not in client.get("/staff/").get_data(as_text=True)
    auth.sign_out(client)
    auth.sign_in(client, "admin")
    page = client.get("/admin/audit")
    assert page.status_code == 200 and "user.sign-in" in page.get_data(as_text=True)
    assert "Audit log" in client.get("/staff/").get_data(as_text=True)


@pytest.mark.parametrize("url", POST_ROUTES)
def test_every_post_needs_a_csrf_token_and_a_staff_role(client, auth, sid, url):  # noqa: F811
    url = url.format(sid=sid)
    auth.sign_in(client, "staff")
    assert client.post(url, data={"url": FEED_URL, "action": "publish"}).status_code == 400  # no token
    auth.sign_out(client)
    auth.sign_in(client, "partner_a")
    assert auth.post(client, url, {"url": FEED_URL, "action": "publish"}, form_page="/account").status_code == 403
    auth.sign_out(client)
    response = auth.post(client, url, {"url": FEED_URL}, form_page="/sign-in")
    assert response.status_code == 302 and response.location.startswith("/sign-in")


# -- the dashboard and triage -----------------------------------------------------------------


def test_dashboard_shows_the_queue_feed_health_overdue_and_changes(client, auth, sid):  # noqa: F811
    auth.sign_in(client, "staff")
    page = client.get("/staff/").get_data(as_text=True)
    assert "Quadcopter drops phones into HMP Example" in page
    assert "mentions the watch term &#39;quadcopter&#39;" in page
    assert "Example news" in page and 'class="app-chart app-trend"' in page
    assert "Items per day, oldest first: " in page  # the chart's text alternative
    assert "Doorbell cameras" in page  # overdue for review
    assert "javascript:" not in page


def test_accepting_a_suggestion_adds_the_source_and_reindexes(client, auth, sid, site_root, ws):  # noqa: F811
    auth.sign_in(client, "staff")
    response = auth.post(client, f"/staff/suggestions/{sid}/accept", {}, form_page="/staff/")
    assert response.status_code == 302
    text = entry_path(site_root, "prison-drones").read_text()
    assert 'title: "Quadcopter drops phones into HMP Example"' in text
    assert "Quadcopter drops phones" in client.get("/entries/prison-drones").get_data(as_text=True)
    page = client.get("/staff/").get_data(as_text=True)
    assert "accepted" in page and "Nothing to triage" in page
    assert Accounts(ws.store).audit()[0]["action"] == "suggestion.accept"


def test_dismissing_keeps_the_reason_and_snoozing_hides_until_the_day(client, auth, sid, ws):  # noqa: F811
    other = add_update_suggestion(
        ws, "printed-guns", [add_feed_item(ws, "Printed gun seized", "https://news.example.test/b")]
    )
    auth.sign_in(client, "staff")
    auth.post(client, f"/staff/suggestions/{sid}/dismiss", {"reason": "old news"}, form_page="/staff/")
    row = ws.store.db["suggestions"].get(sid)
    assert row["status"] == "dismissed" and row["note"] == "old news" and row["decided_by"] == "sam@kb.example"
    bad = auth.post(client, f"/staff/suggestions/{other}/snooze", {"until": "2001-01-01"}, form_page="/staff/")
    assert "must be in the future" in client.get(bad.location).get_data(as_text=True)
    until = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    auth.post(client, f"/staff/suggestions/{other}/snooze", {"until": until}, form_page="/staff/")
    page = client.get("/staff/").get_data(as_text=True)
    assert "Printed gun seized" not in page and "1 snoozed suggestion" in page
    assert ws.store.db["suggestions"].get(other)["status"] == "open"


# -- the editor ---------------------------------------------------------------------------------


def test_saving_from_the_editor_updates_file_index_and_audit(client, auth, site_root, ws):  # noqa: F811
    auth.sign_in(client, "staff")
    before = entry_path(site_root, "prison-drones").read_text()
    response = submit(
        client, "/staff/entries/prison-drones/edit", {"title": "Prison drone deliveries", "risks-1-likelihood": "3"}
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    after = entry_path(site_root, "prison-drones").read_text()
    assert after == before.replace("title: Prison drones", "title: Prison drone deliveries").replace(
        "    likelihood: 2\n", "    likelihood: 3\n"
    )
    assert "Prison drone deliveries" in client.get("/entries/prison-drones").get_data(as_text=True)
    assert "Prison drone deliveries" in client.get("/search?q=deliveries").get_data(as_text=True)
    log = Accounts(ws.store).audit()[0]
    assert (log["actor"], log["action"], log["target"]) == ("sam@kb.example", "entry.save", "prison-drones")
    assert "title" in log["detail"] and "risks" in log["detail"]


def test_problems_are_shown_beside_the_field_in_kb_validate_words(client, auth, site_root):  # noqa: F811
    auth.sign_in(client, "staff")
    before = entry_path(site_root, "prison-drones").read_bytes()
    response = submit(client, "/staff/entries/prison-drones/edit", {"reviewed": "2026-13-01", "risks-0-id": "Bad Id"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'class="govuk-error-summary"' in page
    assert "<title>Error: " in page
    assert '<a href="#reviewed">reviewed must be a date YYYY-MM-DD, got &#39;2026-13-01&#39;</a>' in page
    assert 'id="reviewed-error"' in page and 'govuk-input--error" id="reviewed"' in page
    assert (
        'href="#risks-0-id">id must be a lower-case slug like &#39;prison-contraband&#39;; got &#39;Bad Id&#39;' in page
    )
    assert entry_path(site_root, "prison-drones").read_bytes() == before
    assert 'value="Bad Id"' in page  # what was typed is kept


def test_two_editors_the_second_save_is_refused_with_both_versions(app, auth, site_root):  # noqa: F811
    first, second = app.test_client(), app.test_client()
    auth.sign_in(first, "staff")
    auth.sign_in(second, "admin")
    page_one = first.get("/staff/entries/printed-guns/edit").get_data(as_text=True)
    page_two = second.get("/staff/entries/printed-guns/edit").get_data(as_text=True)
    assert (
        submit(
            first, "/staff/entries/printed-guns/edit", {"summary": "First editor's summary."}, page=page_one
        ).status_code
        == 302
    )
    saved = entry_path(site_root, "printed-guns").read_bytes()
    response = submit(second, "/staff/entries/printed-guns/edit", {"title": "Second editor's title"}, page=page_two)
    assert response.status_code == 409
    assert entry_path(site_root, "printed-guns").read_bytes() == saved
    page = response.get_data(as_text=True)
    assert "Someone else changed this entry since you opened it" in page
    assert "Yours (not saved)" in page and "On disk now" in page
    assert "First editor&#39;s summary." in page and "Second editor&#39;s title" in page
    assert '<span class="app-diff__add">+title: Second editor&#39;s title</span>' in page
    # saving again with the same form is still refused; 'save mine over it' is explicit
    assert submit(second, "/staff/entries/printed-guns/edit", page=page).status_code == 409
    assert submit(second, "/staff/entries/printed-guns/edit", page=page, action="overwrite").status_code == 302
    assert "Second editor's title" in entry_path(site_root, "printed-guns").read_text()


def test_groups_are_added_and_removed_without_javascript(client, auth, site_root):  # noqa: F811
    auth.sign_in(client, "staff")
    page = client.get("/staff/entries/prison-drones/edit").get_data(as_text=True)
    assert 'id="risks-2"' in page and 'id="risks-3"' not in page  # two risks and one blank
    added = submit(client, "/staff/entries/prison-drones/edit", action="add-risk", page=page).get_data(as_text=True)
    assert 'id="risks-3"' in added and "A blank risk was added" in added
    removed = submit(client, "/staff/entries/prison-drones/edit", action="remove-risk:1", page=page)
    html = removed.get_data(as_text=True)
    assert "Reconnaissance of premises" not in html and 'id="risks-2"' not in html
    assert submit(client, "/staff/entries/prison-drones/edit", page=html).status_code == 302
    assert "surveillance" not in entry_path(site_root, "prison-drones").read_text()
    measure = submit(client, "/staff/entries/prison-drones/edit", action="add-measure:0").get_data(as_text=True)
    assert 'id="risks-0-measures-2"' in measure


def test_a_new_risk_and_source_are_written_in_the_schema_shape(client, auth, site_root):  # noqa: F811
    auth.sign_in(client, "staff")
    response = submit(
        client,
        "/staff/entries/printed-guns/edit",
        {
            "risks-1-id": "blueprint-sharing",
            "risks-1-title": "Sharing of gun blueprints",
            "risks-1-role": "tool",
            "risks-1-crime_types": "firearms-offences",
            "risks-1-likelihood": "3",
            "risks-1-impact": "5",
            "risks-1-trend": "rising",
            "risks-1-measures-0-actor": "platforms",
            "risks-1-measures-0-measure": "Remove blueprint files.",
            "risks-1-measures-0-status": "in-progress",
            "sources-1-title": "A report",
            "sources-1-url": "https://example.test/report",
            "sources-1-date": "2025-02",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    text = entry_path(site_root, "printed-guns").read_text()
    assert (
        "  - id: blueprint-sharing\n    title: Sharing of gun blueprints\n    role: tool\n"
        "    crime_types: [firearms-offences]\n    likelihood: 3\n    impact: 5\n    trend: rising\n"
        "    measures:\n      - actor: platforms\n        measure: Remove blueprint files.\n"
        "        status: in-progress\n"
    ) in text
    assert "  - title: A report\n    url: https://example.test/report\n    date: 2025-02\n" in text


def test_preview_renders_the_body_sanitised_and_saves_nothing(client, auth, site_root):  # noqa: F811
    auth.sign_in(client, "staff")
    before = entry_path(site_root, "prison-drones").read_bytes()
    response = submit(
        client,
        "/staff/entries/prison-drones/edit",
        {"body": "## Heading\n\n**bold** <script>alert(1)</script>"},
        action="preview",
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "<strong>bold</strong>" in page and "<script>alert(1)" not in page
    assert 'id="preview"' in page
    assert entry_path(site_root, "prison-drones").read_bytes() == before


def test_a_new_entry_is_a_draft_staff_can_see(client, auth, site_root):  # noqa: F811
    auth.sign_in(client, "staff")
    blank = submit(client, "/staff/entries/new", {"title": ""})
    assert blank.status_code == 400 and "title is required" in blank.get_data(as_text=True)
    response = submit(
        client, "/staff/entries/new", {"title": "Smart glasses", "summary": "Glasses that film.", "sectors": "retail"}
    )
    assert response.status_code == 302 and response.location == "/staff/entries/smart-glasses"
    assert "status: draft" in entry_path(site_root, "smart-glasses").read_text()
    assert client.get("/entries/smart-glasses").status_code == 200
    again = submit(client, "/staff/entries/new", {"title": "Smart glasses", "summary": "Again."})
    assert again.status_code == 400 and "already exists" in again.get_data(as_text=True)
    auth.sign_out(client)
    assert client.get("/entries/smart-glasses").status_code == 404


def test_publish_unpublish_archive_are_explicit_and_validated(client, auth, site_root, ws):  # noqa: F811
    assert "Delivery robots" not in client.get("/feeds/all.atom").get_data(as_text=True)
    auth.sign_in(client, "staff")
    page = "/staff/entries/draft-robots"
    # issue 13, finding 1: a half-made draft (no measure, no source) is refused, and says why
    refused = auth.post(client, page + "/status", {"action": "publish"}, form_page=page)
    follow = client.get(refused.location).get_data(as_text=True)
    assert "Not published" in follow and "a published note needs at least one source" in follow
    assert "status: draft" in entry_path(site_root, "draft-robots").read_text()
    path = entry_path(site_root, "draft-robots")
    path.write_text(
        path.read_text().replace(
            "    trend: rising\n---",
            "    trend: rising\n    measures:\n      - actor: operators\n        measure: Lock the lid.\n"
            "        status: proposed\nsources:\n  - title: A robot trial report\n---",
        )
    )
    response = auth.post(client, page + "/status", {"action": "publish"}, form_page=page)
    assert response.status_code == 302
    assert "status: published" in entry_path(site_root, "draft-robots").read_text()
    auth.sign_out(client)
    assert client.get("/entries/draft-robots").status_code == 200
    assert "Delivery robots" in client.get("/feeds/all.atom").get_data(as_text=True)
    auth.sign_in(client, "staff")
    auth.post(client, page + "/status", {"action": "unpublish"}, form_page=page)
    assert "status: draft" in entry_path(site_root, "draft-robots").read_text()
    auth.post(client, page + "/status", {"action": "archive"}, form_page=page)
    assert "status: archived" in entry_path(site_root, "draft-robots").read_text()
    actions = [row["action"] for row in Accounts(ws.store).audit() if row["action"].startswith("entry.")]
    assert actions[:3] == ["entry.archive", "entry.unpublish", "entry.publish"]
    # a note that would not validate is not published
    path = entry_path(site_root, "review-wearables")
    path.write_text(path.read_text().replace("    trend: stable\n", "    trend: sideways\n"))
    response = auth.post(
        client,
        "/staff/entries/review-wearables/status",
        {"action": "publish"},
        form_page="/staff/entries/review-wearables",
    )
    follow = client.get(response.location).get_data(as_text=True)
    assert (
        "Not published" in follow and "trend must be one of: rising, stable, falling; got &#39;sideways&#39;" in follow
    )
    assert "status: review" in path.read_text()


def test_the_public_entry_page_has_an_edit_link_for_staff_only(client, auth):  # noqa: F811
    assert "/staff/entries/prison-drones/edit" not in client.get("/entries/prison-drones").get_data(as_text=True)
    auth.sign_in(client, "staff")
    assert "/staff/entries/prison-drones/edit" in client.get("/entries/prison-drones").get_data(as_text=True)
    assert client.get("/entries/red-ledgers").status_code == 200  # RED: staff only, but staff see it


# -- feeds ------------------------------------------------------------------------------------


def test_feeds_can_be_added_paused_resumed_and_removed(client, auth, site_root, sid, ws):  # noqa: F811
    auth.sign_in(client, "staff")
    feeds_file = site_root / "feeds" / "feeds.yaml"
    bad = auth.post(client, "/staff/feeds", {"url": "javascript:alert(1)", "title": "", "interval": "0"})
    assert bad.status_code == 400
    html = bad.get_data(as_text=True)
    assert "starting with http:// or https://" in html and "Enter a title" in html and "whole number" in html
    response = auth.post(
        client,
        "/staff/feeds",
        {"url": "https://other.example.test/rss", "title": "Other news", "tags": "drones, policing", "interval": "30"},
    )
    assert response.status_code == 302
    text = feeds_file.read_text()
    assert text.startswith("# Test feeds.\n") and "https://other.example.test/rss" in text and "interval: 30" in text
    auth.post(client, "/staff/feeds/pause", {"url": FEED_URL}, form_page="/staff/feeds")
    assert "enabled: false" in feeds_file.read_text()
    assert "Paused" in client.get("/staff/feeds").get_data(as_text=True)
    auth.post(client, "/staff/feeds/resume", {"url": FEED_URL}, form_page="/staff/feeds")
    assert "enabled: false" not in feeds_file.read_text()
    auth.post(client, "/staff/feeds/remove", {"url": "https://other.example.test/rss"}, form_page="/staff/feeds")
    assert "other.example.test" not in feeds_file.read_text()
    assert [row["action"] for row in Accounts(ws.store).audit()[:4]] == [
        "feed.remove",
        "feed.resume",
        "feed.pause",
        "feed.add",
    ]


def test_a_feeds_page_shows_its_items_sanitised(client, auth, sid):  # noqa: F811
    auth.sign_in(client, "staff")
    page = client.get(f"/staff/feeds/feed?url={FEED_URL}").get_data(as_text=True)
    assert "Quadcopter drops phones into HMP Example" in page
    assert "<script>alert" not in page and "javascript:" not in page
    assert client.get("/staff/feeds/feed?url=https://nope.example/").status_code == 404


def test_finding_6_a_save_stands_when_the_index_cannot_be_updated(client, auth, site_root, app, monkeypatch):  # noqa: F811
    auth.sign_in(client, "staff")
    page = client.get("/staff/entries/prison-drones/edit").get_data(as_text=True)
    index = app.extensions["kb"].workspace.index

    def busy(*_a, **_k):
        raise Busy("the search index is being updated by another process; try again in a moment")

    monkeypatch.setattr(index, "writer", busy)  # a poll holds the index writer
    response = submit(client, "/staff/entries/prison-drones/edit", {"title": "Prison drone drops"}, page=page)
    assert response.status_code == 302  # not a 500: the file is written and the user is told
    assert "title: Prison drone drops" in entry_path(site_root, "prison-drones").read_text()
    shown = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Saved" in shown and "The file is saved. The search index could not be updated just now" in shown
    monkeypatch.undo()


def test_finding_13_2_the_dashboard_lists_a_broken_file_and_the_note_stays_live(client, auth, site_root, ws):  # noqa: F811
    path = entry_path(site_root, "prison-drones")
    path.write_text(path.read_text().replace("tags: [", "tags: [unclosed, ", 1).replace("]\nsectors", "\nsectors", 1))
    update_index(ws)
    assert client.get("/entries/prison-drones").status_code == 200  # the last good version, still public
    auth.sign_in(client, "staff")
    page = client.get("/staff/").get_data(as_text=True)
    assert "Files with problems" in page and "entries/prison-drones.md" in page
    assert "last good version live" in page
