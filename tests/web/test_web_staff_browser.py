"""The staff workspace in a real headless Chromium: sign in as staff, accept a suggestion, edit a
draft, publish it, and find it on the public site and in the Atom feed. Screenshots go to
tests/artifacts/; axe-core runs on the dashboard and the editor (no serious or critical
violations). Skipped, with the reason, when Chromium or axe-core is not installed."""

from __future__ import annotations

from urllib.request import urlopen

import pytest
from auth_helpers import PASSWORD, PEOPLE, AuthActions
from site_fixtures import app, live_server, site_root  # noqa: F401
from staff_fixtures import FEED_URL, add_feed_item, add_update_suggestion
from test_web_browser import AXE, CHROMIUM, browser, check  # noqa: F401

pytestmark = [
    pytest.mark.skipif(
        CHROMIUM is None, reason="chromium is not installed (apt-get install chromium; scripts/test does)"
    ),
    pytest.mark.skipif(not AXE.exists(), reason="axe-core is not installed (npm install; scripts/test does)"),
]


@pytest.fixture
def suggestion(app, site_root):  # noqa: F811
    AuthActions(app)  # the standard people
    ws = app.extensions["kb"].workspace
    (site_root / "feeds" / "feeds.yaml").write_text(
        f"feeds:\n  - url: {FEED_URL}\n    title: Example news\n    tags: [test]\n    interval: 60\n    enabled: true\n"
    )
    for n in range(3):
        add_feed_item(ws, f"Older item {n}", f"https://news.example.test/old-{n}", days_ago=n + 2)
    item = add_feed_item(ws, "Quadcopter drops phones into HMP Example", "https://news.example.test/a")
    return add_update_suggestion(ws, "prison-drones", [item])


def test_staff_triage_edit_publish(browser, live_server, suggestion, site_root):  # noqa: F811
    context = browser.new_context(bypass_csp=True, viewport={"width": 1200, "height": 900})  # to inject axe
    errors: list[str] = []
    try:
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(live_server + "/staff/")
        page.wait_for_url("**/sign-in?next=/staff/")
        page.fill("#email", PEOPLE["staff"][0])
        page.fill("#password", PASSWORD)
        page.click("main button[type=submit]")
        page.wait_for_url("**/staff/")
        assert page.locator(".app-suggestion").count() == 1
        assert page.locator("svg.app-trend").count() == 1
        check(page, "staff-dashboard")

        page.click(f"#suggestion-{suggestion} button:has-text('Accept')")
        page.wait_for_url("**/staff/#triage")
        assert "Suggestion 1 accepted" in page.locator(".govuk-notification-banner").inner_text()
        assert "Quadcopter drops phones" in (site_root / "entries" / "prison-drones.md").read_text()

        page.goto(live_server + "/staff/entries/draft-robots/edit")
        check(page, "staff-editor")
        page.fill("#title", "Delivery robots on pavements")
        page.fill("#reviewed", "2026-13-40")
        page.click("button:has-text('Save changes')")
        assert page.locator(".govuk-error-summary").count() == 1
        assert (
            page.locator("#reviewed-error")
            .inner_text()
            .endswith("reviewed must be a date YYYY-MM-DD, got '2026-13-40'")
        )
        check(page, "staff-editor-errors")
        page.fill("#reviewed", "2026-11-01")
        # the publishing gate wants a design-out measure and a source
        page.click("button[value='add-measure:0']")
        page.select_option("#risks-0-measures-0-actor", "operators")
        page.select_option("#risks-0-measures-0-status", "proposed")
        page.fill("#risks-0-measures-0-measure", "Lock the lid until the recipient's code is entered.")
        page.fill("#sources-0-title", "A delivery robot trial report")
        page.click("button:has-text('Add another risk')")
        assert page.locator("#risks-2").count() == 1  # one risk, plus two blank ones
        page.click("button:has-text('Preview')")
        assert page.locator("#preview").count() == 1
        page.click("button:has-text('Save changes')")
        page.wait_for_url("**/staff/entries/draft-robots")
        assert "Saved entries/draft-robots.md" in page.locator(".govuk-notification-banner").inner_text()
        check(page, "staff-entry")

        page.click("button:has-text('Publish')")
        page.wait_for_url("**/staff/entries/draft-robots")
        assert "Published" in page.locator(".govuk-notification-banner").inner_text()

        public = browser.new_context()  # not signed in
        try:
            reader = public.new_page()
            reader.goto(live_server + "/entries/draft-robots")
            assert reader.locator("h1").inner_text() == "Delivery robots on pavements"
            reader.screenshot(
                path=str(AXE.parent.parent.parent / "tests" / "artifacts" / "staff-published.png"), full_page=True
            )
        finally:
            public.close()
        with urlopen(live_server + "/feeds/all.atom") as response:
            assert "Delivery robots on pavements" in response.read().decode()
        assert errors == []
    finally:
        context.close()


def test_the_editor_works_without_javascript(browser, live_server, app):  # noqa: F811
    AuthActions(app)
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(live_server + "/sign-in")
        page.fill("#email", PEOPLE["admin"][0])
        page.fill("#password", PASSWORD)
        page.click("main button[type=submit]")
        page.goto(live_server + "/staff/entries/printed-guns/edit")
        page.click("button:has-text('Add a measure to risk 1')")
        page.fill("#risks-0-measures-1-measure", "Block printable gun files on hosting platforms.")
        page.select_option("#risks-0-measures-1-actor", "platforms")
        page.select_option("#risks-0-measures-1-status", "proposed")
        page.click("button:has-text('Save changes')")
        page.wait_for_url("**/staff/entries/printed-guns")
        page.goto(live_server + "/entries/printed-guns")
        assert "Block printable gun files" in page.content()
        assert "Remove firearm design files" in page.content()  # the existing measure is kept
        page.goto(live_server + "/admin/audit")
        assert "entry.save" in page.content()
        page.screenshot(
            path=str(AXE.parent.parent.parent / "tests" / "artifacts" / "staff-audit-no-javascript.png"), full_page=True
        )
    finally:
        context.close()
