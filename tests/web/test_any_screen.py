"""Any screen: no page scrolls sideways at 320, 375 or 768 px wide, the header search stays
usable, and the horizon radar's labels never overlap, even with 40 notes.

Real headless Chromium (Playwright driving Debian's `chromium`), as tests/web/test_web_browser.py;
skipped, with the reason, when Chromium or Playwright is not installed.
"""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import quote

import pytest
from auth_helpers import PASSWORD, PEOPLE, AuthActions
from site_fixtures import DATA, app, live_server, site_root  # noqa: F401
from staff_fixtures import FEED_URL, add_feed_item, add_update_suggestion
from test_web_browser import AXE, CHROMIUM, browser, check  # noqa: F401

from kb.model import taxonomy as tx
from kb.model.entry import Entry, read_entry
from kb.site import charts

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install chromium; scripts/test does)"
)

WIDTHS = (320, 375, 768)
PUBLIC_PAGES = [
    "/",
    "/entries/",
    "/entries/prison-drones",
    "/entries/prison-drones/history",
    "/sectors/",
    "/sectors/prisons",
    "/tags/drones",
    "/search?q=drones",
    "/changes",
    "/accessibility",
    "/privacy",
    "/cookies",
]
STAFF_PAGES = [
    "/",
    "/entries/prison-drones",
    "/staff/",
    "/staff/feeds",
    "/staff/entries/prison-drones",
    "/staff/entries/prison-drones/edit",
    "/staff/feeds/feed?url=" + quote(FEED_URL, safe=""),
    "/admin/audit",
]
OVERFLOW = "() => document.documentElement.scrollWidth - window.innerWidth"


def _overflows(page, base: str, paths: list[str]) -> list[str]:  # type: ignore[no-untyped-def]
    bad = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 800})
        for path in paths:
            response = page.goto(base + path)
            assert response is not None and response.status == 200, path
            extra = page.evaluate(OVERFLOW)
            if extra > 0:
                bad.append(f"{path} at {width}px: {extra}px too wide")
    return bad


def test_issue_15_no_public_page_scrolls_sideways_on_a_small_screen(browser, live_server):  # noqa: F811
    context = browser.new_context()
    try:
        page = context.new_page()
        assert _overflows(page, live_server, PUBLIC_PAGES) == []
    finally:
        context.close()


def test_issue_15_no_staff_page_scrolls_sideways_on_a_small_screen(browser, live_server, app, site_root):  # noqa: F811
    AuthActions(app)
    ws = app.extensions["kb"].workspace
    (site_root / "feeds" / "feeds.yaml").write_text(
        f"feeds:\n  - url: {FEED_URL}\n    title: Example news\n    tags: [test]\n    interval: 60\n    enabled: true\n"
    )
    long_link = "https://news.example.test/" + "a-very-long-address-without-any-break" * 4
    item = add_feed_item(ws, "Quadcopter drops phones into HMP Example", long_link)
    add_update_suggestion(ws, "prison-drones", [item])
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(live_server + "/sign-in")
        page.fill("#email", PEOPLE["admin"][0])
        page.fill("#password", PASSWORD)
        page.click("main button[type=submit]")
        page.wait_for_url(live_server + "/")
        assert _overflows(page, live_server, STAFF_PAGES) == []
    finally:
        context.close()


@pytest.mark.skipif(not AXE.exists(), reason="axe-core is not installed (npm install; scripts/test does)")
def test_issue_15_small_screen_pages_pass_axe(browser, live_server):  # noqa: F811
    """The scrolling table boxes are focusable and named; the service pages pass too."""
    context = browser.new_context(bypass_csp=True, viewport={"width": 320, "height": 800})  # to inject axe
    try:
        page = context.new_page()
        for path, name in [
            ("/", "small-home"),
            ("/entries/prison-drones", "small-entry"),
            ("/accessibility", "accessibility"),
            ("/privacy", "privacy"),
            ("/cookies", "cookies"),
        ]:
            page.goto(live_server + path)
            check(page, name)
    finally:
        context.close()


def test_issue_15_header_search_is_full_width_and_usable_on_a_small_screen(browser, live_server):  # noqa: F811
    context = browser.new_context(viewport={"width": 320, "height": 700})
    try:
        page = context.new_page()
        page.goto(live_server + "/entries/prison-drones")
        box = page.locator("#site-search").bounding_box()
        assert box is not None and box["width"] >= 200, box  # not a sliver
        page.fill("#site-search", "firearms")
        page.click("form[role=search] button")
        page.wait_for_url("**/search?q=firearms")
        assert page.locator(".app-result").count() >= 1
    finally:
        context.close()


def _forty_notes() -> list[Entry]:
    """40 notes: eight crowd one category and horizon, the rest spread unevenly; scores vary."""
    bases = [read_entry(path)[0] for path in sorted((DATA / "entries").glob("*.md"))]
    categories, horizons = list(tx.CATEGORY), list(tx.HORIZON)
    notes = []
    for n in range(40):
        if n < 8:
            category, horizon = categories[0], horizons[0]
        else:
            category, horizon = categories[n % len(categories)], horizons[(n // 3) % len(horizons)]
        base = bases[n % len(bases)]
        notes.append(replace(base, slug=f"note-{n}", title=f"Note {n}", category=category, horizon=horizon))
    return notes


def test_issue_15_radar_labels_do_not_overlap_with_40_notes(browser):  # noqa: F811
    points = charts.radar_points(_forty_notes())
    assert len(points) == 40
    svg = charts.radar(points)
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    try:
        page = context.new_page()
        page.set_content(f"<!DOCTYPE html><html><body style='margin:0'>{svg}</body></html>")
        boxes = page.evaluate(
            """() => Array.from(document.querySelectorAll('svg text')).map(t => {
                const b = t.getBBox(); return [t.textContent, b.x, b.y, b.width, b.height];
            })"""
        )
    finally:
        context.close()
    numbers = [b for b in boxes if b[0].isdigit()]
    assert sorted(int(b[0]) for b in numbers) == list(range(1, 41))
    clashes = [
        (a[0], b[0])
        for i, a in enumerate(boxes)
        for b in boxes[i + 1 :]
        if a[1] < b[1] + b[3] and b[1] < a[1] + a[3] and a[2] < b[2] + b[4] and b[2] < a[2] + a[4]
    ]
    assert clashes == []
