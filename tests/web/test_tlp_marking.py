"""Issue 13, finding 3: a note's TLP 2.0 label goes wherever the note goes.

Every list item, feed item and API object carries the label in FIRST's words, and a printed
note carries it, in FIRST's colours, at the top and bottom of every page (Chromium's print to
PDF, read back with pypdf). The knowledge base is the site fixtures' plus
tests/data/site/print/long-amber.md, a TLP:AMBER note for org-a long enough to print on 3+ pages.
"""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import feedparser
import pytest
from auth_helpers import PASSWORD, PEOPLE, AuthActions
from site_fixtures import DATA, REPO, app, live_server, make_site  # noqa: F401
from test_web_browser import CHROMIUM, browser  # noqa: F401

from kb.model import taxonomy as tx
from kb.site import charts
from kb.sync import update_index
from kb.workspace import Workspace

LONG_AMBER = DATA / "site" / "print" / "long-amber.md"
PRINT_CSS = REPO / "kb" / "web" / "static" / "print.css"
FIRST_COLOURS = {
    "clear": "#ffffff",
    "green": "#33ff00",
    "amber": "#ffc000",
    "amber+strict": "#ffc000",
    "red": "#ff2b2b",
}
ENTRY_LINK = re.compile(r'href="/entries/([a-z0-9-]+)(?:#[^"]*)?"')


@pytest.fixture
def site_root(tmp_path: Path) -> Path:
    """The site fixtures' knowledge base, plus the long AMBER note."""
    root = make_site(tmp_path / "site")
    shutil.copy(LONG_AMBER, root / "entries" / LONG_AMBER.name)
    workspace = Workspace.open(root)
    update_index(workspace)
    workspace.close()
    return root


@pytest.fixture
def auth(app):  # noqa: F811
    return AuthActions(app)


@pytest.fixture
def partner_a(app, auth):  # noqa: F811
    c = app.test_client()
    auth.sign_in(c, "partner_a")
    return c


def tlp_of(client) -> dict[str, str]:
    return {e["slug"]: e["tlp"] for e in client.get("/api/entries").get_json()["entries"]}


def items(html: str) -> list[str]:
    """The page's main content cut into list items, result cards and table rows (each starts one)."""
    main = html.split('id="main-content"', 1)[-1]
    return re.split(r'(?=<li[ >])|(?=<div class="app-result">)|(?=<tr class="govuk-table__row">)', main)


def test_finding_3_every_list_item_shows_its_notes_label(partner_a):
    tlps = tlp_of(partner_a)
    assert tlps["amber-locks"] == "amber" and tlps["secret-keys"] == "green" and tlps["prison-drones"] == "clear"
    pages = [
        "/",
        "/entries/",
        "/sectors/prisons",
        "/tags/drones",
        "/drivers/opportunity",
        "/horizons/now",
        "/search?q=quokka",
        "/search?q=prisons",
        "/search?q=keys",
        "/entries/overdue-cameras",  # its related notes
    ]
    seen: set[str] = set()
    for url in pages:
        html = partner_a.get(url).get_data(as_text=True)
        listed = 0
        for item in items(html):
            found = ENTRY_LINK.search(item)
            if found is None:
                continue
            slug = found.group(1)
            label = tx.TLP[tlps[slug]]
            assert f'app-tlp app-tlp--{tlps[slug].replace("+", "-")} app-tlp--small">{label}<' in item, (url, slug)
            listed += 1
            seen.add(slug)
        assert listed, url
    assert {"amber-locks", "secret-keys", "prison-drones", "long-amber"} <= seen
    # The radar table: a row per note, each with its label.
    home = partner_a.get("/").get_data(as_text=True)
    table = home.split("The radar as a table")[1].split("</table>")[0]
    rows = [r for r in items(table) if ENTRY_LINK.search(r)]
    assert len(rows) == len(tlps) and all("app-tlp app-tlp--" in r for r in rows)


def test_finding_3_every_feed_item_carries_the_label(app, auth):  # noqa: F811
    reader = app.test_client()  # a feed reader: no cookie
    token = auth.user("partner_a").feed_token
    for url in (f"/feeds/private/{token}/all.atom", f"/feeds/private/{token}/all.rss", "/feeds/all.atom"):
        feed = feedparser.parse(reader.get(url).data)
        assert not feed.bozo and feed.entries, url
        tlps = {}
        for entry in feed.entries:
            label = entry.title.split("]", 1)[0].lstrip("[")
            assert entry.title.startswith(f"[{label}] ") and label in tx.TLP.values(), (url, entry.title)
            terms = [(t.term, t.get("scheme")) for t in entry.tags]
            assert (label, "https://www.first.org/tlp/") in terms, (url, terms)
            body = entry.content[0].value if "content" in entry else entry.description
            assert f"<strong>{label}</strong>" in body, url
            tlps[entry.id.rsplit(":", 1)[1]] = label
        if "private" in url:
            assert tlps["amber-locks"] == "TLP:AMBER" and tlps["secret-keys"] == "TLP:GREEN"
            amber = next(e for e in feed.entries if e.id.endswith(":amber-locks"))
            body = amber.content[0].value if "content" in amber else amber.description
            assert "TLP:AMBER</strong> Share only within: org-a." in body
        else:
            assert set(tlps.values()) == {"TLP:CLEAR"}


def test_finding_3_every_api_object_carries_the_label(partner_a):
    entries = partner_a.get("/api/entries").get_json()["entries"]
    assert entries and all(e["tlp_label"] == tx.TLP[e["tlp"]] for e in entries)
    assert partner_a.get("/api/entries/amber-locks").get_json()["tlp_label"] == "TLP:AMBER"
    assert partner_a.get("/api/entries/secret-keys").get_json()["tlp_label"] == "TLP:GREEN"
    hits = partner_a.get("/api/search?q=quokka").get_json()["results"]
    assert [(h["slug"], h["tlp_label"]) for h in hits] == [("amber-locks", "TLP:AMBER")]


def test_finding_3_the_print_stylesheet_marks_every_label_and_band():
    css = PRINT_CSS.read_text()
    for tlp, colour in FIRST_COLOURS.items():
        name = "tlp-" + tlp.replace("+", "-")
        rule = re.search(r"@page " + re.escape(name) + r" \{(.*?)\n\}", css, re.S)
        assert rule, name
        for box in ("@top-center", "@bottom-center"):
            assert f'{box} {{ content: "{tx.TLP[tlp]}"; color: {colour}; }}' in rule.group(1), (name, box)
        assert f".app-print-tlp--{tlp.replace('+', '-')} {{ page: {name}; }}" in css
    for name, _floor, _strong, pale in charts.BANDS:  # a pattern for every band of the matrix
        assert f'.app-matrix rect[fill="{pale}"]' in css and f"url(#app-print-{name})" in css, name
    assert "print-color-adjust: exact" in css


def sign_in(page, base: str, who: str) -> None:
    page.goto(base + "/sign-in")
    page.fill("#email", PEOPLE[who][0])
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(base + "/")


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium; scripts/test does)")
def test_finding_3_every_printed_page_of_an_amber_note_carries_its_label(browser, live_server, auth):  # noqa: F811
    pypdf = pytest.importorskip("pypdf", reason="pypdf is not installed (pip install -e '.[test]')")
    context = browser.new_context()
    try:
        page = context.new_page()
        sign_in(page, live_server, "partner_a")
        page.goto(live_server + "/entries/long-amber")
        pdf = pypdf.PdfReader(io.BytesIO(page.pdf(format="A4")))  # backgrounds off: the browser's default
        assert len(pdf.pages) >= 3
        everything = ""
        for number, sheet in enumerate(pdf.pages, start=1):
            text = sheet.extract_text()
            everything += text
            assert text.count("TLP:AMBER") >= 2, f"page {number}: {text[:200]!r}"  # at the top and at the bottom
            ink = sheet.get_contents().get_data().decode("latin-1")
            assert re.search(r"(?<![\d.])1 \.75\d* 0 rg", ink), f"page {number}: no amber (#FFC000) ink"
            assert re.search(r"(?<![\d.])0 0 0 rg", ink), f"page {number}: no black ink"
        for hidden in ("Skip to main content", "Sign out", "Your account", "All notes", "Sitemap", "Subscribe"):
            assert hidden not in everything, hidden  # navigation, search, forms and feed links are not printed

        # The risk matrix in black and white: every cell and key swatch is patterned, not only coloured.
        page.emulate_media(media="print")
        fills = page.eval_on_selector_all(
            "svg.app-matrix rect, svg.app-matrix-key rect", "els => els.map(e => getComputedStyle(e).fill)"
        )
        assert len(fills) == 25 + len(charts.BANDS)
        assert all(re.fullmatch(r'url\("#app-print-(high|medium|low)"\)', f) for f in fills), set(fills)
        assert {f.split("-")[-1].rstrip('")') for f in fills} == {"high", "medium", "low"}
        assert page.locator("pattern#app-print-high, pattern#app-print-medium, pattern#app-print-low").count() == 3
        for selector in (".govuk-service-navigation", ".app-search-bar", ".app-account-bar", "form"):
            assert page.locator(selector).first.is_hidden(), selector
    finally:
        context.close()
