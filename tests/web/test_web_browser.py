"""The site in a real headless Chromium (Playwright driving Debian's `chromium`).

Opens home, searches, opens an entry and follows a sector, saving a screenshot of each page
under tests/artifacts/, and runs axe-core on each: no serious or critical violations. Also
walks the same path with JavaScript off. Skipped, with the reason, when Chromium or axe-core
is not installed (scripts/test installs both).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from site_fixtures import REPO, app, live_server, site_root  # noqa: F401

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = REPO / "tests" / "artifacts"
ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [
    pytest.mark.skipif(
        CHROMIUM is None, reason="chromium is not installed (apt-get install chromium; scripts/test does)"
    ),
    pytest.mark.skipif(not AXE.exists(), reason="axe-core is not installed (npm install; scripts/test does)"),
]


@pytest.fixture
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def check(page, name: str) -> None:
    """Screenshot, then axe-core: fail on any serious or critical violation."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    bad = [
        (v["id"], v["impact"], v["help"], [n["target"] for n in v["nodes"]][:3])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not bad, f"{name}: {bad}"


def test_home_search_entry_sector(browser, live_server):  # noqa: F811
    context = browser.new_context(bypass_csp=True, viewport={"width": 1200, "height": 900})  # to inject axe
    errors: list[str] = []
    try:
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(live_server + "/")
        assert page.title().endswith("Horizon KB")
        assert page.locator("svg.app-radar").count() == 1
        check(page, "home")

        page.fill("#site-search", "quadcopter")
        page.click("form[role=search] button")
        page.wait_for_url("**/search?q=quadcopter")
        assert page.locator(".app-result mark").count() >= 1
        check(page, "search")

        page.click(".app-result a")
        page.wait_for_url("**/entries/prison-drones")
        assert page.locator("h1").inner_text() == "Prison drones"
        assert page.locator("svg.app-matrix").count() == 1
        check(page, "entry")

        page.click("dd >> text=Prisons")
        page.wait_for_url("**/sectors/prisons")
        assert "Prisons" in page.locator("h1").inner_text()
        assert page.locator("link[rel=alternate][type='application/atom+xml']").count() == 2
        check(page, "sector")

        page.goto(live_server + "/entries/overdue-cameras")
        assert page.locator(".govuk-warning-text").count() == 1
        check(page, "entry-overdue")

        page.goto(live_server + "/search?q=%22unclosed")
        assert page.locator(".govuk-error-summary").count() == 1
        check(page, "search-error")

        page.goto(live_server + "/no-such-page")
        check(page, "not-found")
        assert errors == []
    finally:
        context.close()


def test_pages_work_without_javascript(browser, live_server):  # noqa: F811
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(live_server + "/")
        page.fill("#site-search", "firearms")
        page.click("form[role=search] button")
        page.wait_for_url("**/search?q=firearms")
        page.click(".app-result a")
        assert page.locator("h1").inner_text() == "3D-printed firearms"
        page.click("text=Policing")
        page.wait_for_url("**/sectors/policing")
        # the menu is visible and usable without the script that collapses it
        assert page.locator(".govuk-service-navigation__list").is_visible()
        page.screenshot(path=str(ARTIFACTS / "no-javascript.png"), full_page=True)
    finally:
        context.close()
