"""Feed items from a hostile feed, rendered in a real headless Chromium: nothing runs.

The stored (sanitised) HTML of every item is put in a page with no Content-Security-Policy
to help; images fail to load (every request is aborted, so any onerror would fire), links
that stay on the page are clicked, and the DOM is checked for scripts, handlers and
non-http(s) links. No dialog may open. Skipped when Chromium or Playwright is missing (scripts/test installs both).
"""

from __future__ import annotations

import html
import shutil
from pathlib import Path

import pytest
from feedserver import feed_server, feed_yaml, feeds_kb  # noqa: F401

from kb.feeds.poller import Poller
from kb.workspace import Workspace

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking", "--no-first-run"]

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install chromium; scripts/test does)"
)


def test_hostile_items_do_not_run_in_a_browser(feeds_kb, feed_server):  # noqa: F811
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    (feeds_kb / "feeds" / "feeds.yaml").write_text(feed_yaml([(feed_server.url("/feeds/xss.xml"), "Hostile")]))
    ws = Workspace.open(feeds_kb)
    try:
        with Poller(ws) as p:
            p.poll(suggest=False)
        rows = list(ws.store.db.query("SELECT title, link, summary_html, content_html FROM feed_items"))
    finally:
        ws.close()
    assert len(rows) == 2
    body = "".join(
        f'<article><h2><a class="item" href="{html.escape(r["link"] or "#")}">{html.escape(r["title"])}</a></h2>'
        f"{r['summary_html']}{r['content_html']}</article>"
        for r in rows
    )
    page_html = f"<!doctype html><html><head><title>items</title></head><body>{body}</body></html>"
    events: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page()
            page.on("dialog", lambda d: (events.append(f"dialog: {d.message}"), d.dismiss()))
            page.on("console", lambda m: events.append(f"console: {m.text}"))
            page.route("**/*", lambda route: route.abort())  # no network at all
            page.set_content(page_html)
            page.wait_for_timeout(300)
            assert page.locator("script, iframe, svg, form, style").count() == 0
            hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
            assert all(h == "#" or h.startswith(("http://", "https://")) for h in hrefs)
            handlers = page.evaluate(
                "() => [...document.querySelectorAll('*')].flatMap(e => [...e.attributes]"
                ".filter(a => a.name.startsWith('on')).map(a => a.name))"
            )
            assert handlers == []
            page.evaluate("() => document.querySelectorAll('a:not([href]), a[href^=\"#\"]').forEach(a => a.click())")
            page.wait_for_timeout(300)
        finally:
            browser.close()
    assert [e for e in events if "dialog" in e or "alert" in e] == []
