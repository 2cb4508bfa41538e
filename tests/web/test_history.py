"""Issue 15: change history. A note's versions in words (`/entries/SLUG/history`), two versions side
by side (`.../history/compare?from=V1&to=V2`) and the latest changes across the site (`/changes`),
each under the one sharing rule: a version a reader may not read never shows, not even its date.

The knowledge base is the site fixture, indexed on 1 March 2026; each test then changes entry
files and indexes again on later days (the clock is frozen, so every version has its own date).
Readers: the anonymous public, `partner_a` (org-a: may read the TLP:AMBER `amber-locks`) and
`partner_b` (org-b: may not).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from auth_helpers import AuthActions
from dated_site import app, auth, root, sync  # noqa: F401
from flask import Flask
from site_fixtures import edit

CONTRABAND = "likelihood: 5\n    impact: 3\n    confidence: high"
NEW_MEASURE = (
    "    measures:\n      - actor: manufacturers\n        measure: Geofence prisons in firmware, updated over the air."
)
ADDED_MEASURE = (
    NEW_MEASURE + "\n        mechanism: increase-effort\n        status: in-progress\n"
    "      - actor: manufacturers\n        measure: Refuse flight plans that cross a prison wall.\n"
    "        mechanism: increase-effort\n        status: proposed"
)
TURNCOAT = """---
title: Turncoat tags
summary: Shoplifters defeat security tags.
status: published
tlp: {tlp}
share_with: [org-a]
category: devices
horizon: now
maturity: growing
reviewed: 2026-06-01
tags: [retail-tags]
sectors: [home-security]
drivers: [opportunity]
risks:
  - id: tag-defeat
    title: Defeating security tags
    role: target
    crime_types: [shoplifting]
    likelihood: {likelihood}
    impact: 3
    trend: rising
    measures:
      - actor: manufacturers
        measure: {measure}
        status: proposed
sources:
  - title: A test source
---
Body.
"""


@pytest.fixture
def readers(app: Flask, auth: AuthActions) -> dict:
    """A client per reader: the public, and a partner of each organisation, signed in."""
    clients = {"public": app.test_client()}
    for who in ("partner_a", "partner_b"):
        clients[who] = app.test_client()
        auth.sign_in(clients[who], who)
    return clients


def text(response) -> str:
    assert response.status_code == 200, (response.request.path, response.status_code)
    return response.get_data(as_text=True)


def main(response) -> str:
    """The page's main content, without the header and footer."""
    return text(response).split('id="main-content"')[1].split("</main>")[0]


def three_versions(root: Path) -> None:
    """prison-drones: as shipped on 1 March, contraband likelihood lowered from 5 to 4 on 2 March, a new measure on 3 March."""
    edit(root, "prison-drones", CONTRABAND, CONTRABAND.replace("likelihood: 5", "likelihood: 4"))
    sync(root, "02")
    edit(
        root,
        "prison-drones",
        NEW_MEASURE + "\n        mechanism: increase-effort\n        status: in-progress",
        ADDED_MEASURE,
    )
    sync(root, "03")


TABLES = r'<table class="[^"]*\bapp-compare\b[^"]*">.*?</table>'  # the side-by-side tables


def version_ids(page: str) -> list[str]:
    return re.findall(r'<li class="govuk-!-margin-bottom-6" id="version-([0-9a-f]+)">', page)


def test_history_lists_each_version_newest_first_with_what_changed_in_words(root, readers):
    three_versions(root)
    page = main(readers["public"].get("/entries/prison-drones/history"))
    assert "Change history" in page
    v3, v2, v1 = (page.index(f'<h3 class="govuk-heading-m govuk-!-margin-bottom-2">Version {n}') for n in (3, 2, 1))
    assert v3 < v2 < v1  # newest first
    assert "Version 3 (the note now)" in page
    newest, middle, oldest = page[v3:v2], page[v2:v1], page[v1:]
    assert "3 March 2026" in newest and "New measure for manufacturers: Refuse flight plans" in newest
    assert (
        "2 March 2026" in middle
        and "Likelihood of &#34;Delivery of contraband into prisons&#34; lowered from 5 to 4" in middle
    )
    assert "1 March 2026" in oldest and "New note" in oldest
    ids = version_ids(page)
    assert len(ids) == 3
    assert f"from={ids[1]}&amp;to={ids[0]}" in newest  # compare each version with the one before it


def test_compare_shows_risks_and_measures_of_both_versions_side_by_side_marked(root, readers):
    three_versions(root)
    client = readers["public"]
    v3, _v2, v1 = version_ids(main(client.get("/entries/prison-drones/history")))
    page = main(client.get(f"/entries/prison-drones/history/compare?from={v1}&to={v3}"))
    assert "Version 1 and version 3 side by side" in page
    what = page.split('id="what-changed"')[1].split("</ul>")[0]
    assert (
        "Likelihood of &#34;Delivery of contraband into prisons&#34; lowered from 5 to 4" in what
        and "New measure for manufacturers" in what
    )
    risks_old, risks_new = re.findall(TABLES, page, re.S)[:2]
    assert "Risks in version 1" in risks_old and "Risks in version 3" in risks_new
    assert "<del>5</del>" in risks_old and "<del>15</del>" in risks_old  # likelihood and score, struck out
    assert "<ins>4</ins>" in risks_new and "<ins>12</ins>" in risks_new
    assert risks_old.count("Changed</strong>") == risks_new.count("Changed</strong>") == 1
    measures_old, measures_new = re.findall(TABLES, page, re.S)[2:]
    row_old = measures_old.split("<tbody")[1].split("</tr>")
    row_new = measures_new.split("<tbody")[1].split("</tr>")
    assert len(row_old) == len(row_new)  # the rows line up
    added = next(i for i, row in enumerate(row_new) if "Refuse flight plans" in row)
    assert "New</strong>" in row_new[added] and "Not in this version" in row_old[added]
    assert "Refuse flight plans" not in measures_old


def test_compare_of_a_version_with_itself_says_so(root, readers):
    three_versions(root)
    client = readers["public"]
    v3 = version_ids(main(client.get("/entries/prison-drones/history")))[0]
    page = main(client.get(f"/entries/prison-drones/history/compare?from={v3}&to={v3}"))
    assert "These are the same version" in page and "Changed</strong>" not in page


def test_compare_without_two_versions_is_one_clear_sentence_not_a_traceback(root, readers):
    client = readers["public"]
    for query in ("", "?from=", "?to=abc", "?from=%20&to=%20"):
        response = client.get(f"/entries/prison-drones/history/compare{query}")
        assert response.status_code == 400, query
        body = response.get_data(as_text=True)
        assert "Choose two versions of the note to compare" in body and "Traceback" not in body
    v1 = version_ids(main(client.get("/entries/prison-drones/history")))[0]
    for bad in ("0000000000000000", "x" * 5000, "%00", "' OR 1=1 --"):
        response = client.get("/entries/prison-drones/history/compare", query_string={"from": bad, "to": v1})
        assert response.status_code == 404, bad
        assert response.data == client.get("/entries/no-such-note/history").data  # "not found", as for a missing note


def test_a_restricted_note_has_no_history_for_who_may_not_read_it(root, readers):
    edit(root, "amber-locks", "likelihood: 5", "likelihood: 4")
    sync(root, "02")
    page = main(readers["partner_a"].get("/entries/amber-locks/history"))
    assert (
        "TLP:AMBER" in page and "Likelihood of &#34;Quokka bypass of amberlock bolts&#34; lowered from 5 to 4" in page
    )
    ids = version_ids(page)
    assert len(ids) == 2
    compare = f"/entries/amber-locks/history/compare?from={ids[1]}&to={ids[0]}"
    assert "<ins>4</ins>" in main(readers["partner_a"].get(compare))
    missing = readers["public"].get("/entries/no-such-note/history").data
    for who in ("public", "partner_b"):
        for url in ("/entries/amber-locks/history", compare):
            response = readers[who].get(url)
            assert response.status_code == 404, (who, url)
            assert b"quokka" not in response.data.lower() and b"Amberlock" not in response.data
        assert (
            readers[who].get("/entries/no-such-note/history").data
            == readers[who].get("/entries/amber-locks/history").data
        )
    assert readers["public"].get("/entries/amber-locks/history").data == missing


def test_latest_changes_show_only_what_each_reader_may_read(root, readers):
    edit(root, "amber-locks", "likelihood: 5", "likelihood: 4")
    sync(root, "02")
    edit(root, "secret-keys", "title: Secret key cloning", "title: Secret key cloning attacks")
    sync(root, "03")
    pages = {who: main(readers[who].get("/changes")) for who in readers}
    a, b, public = pages["partner_a"], pages["partner_b"], pages["public"]
    assert (
        "Amberlock smart locks" in a
        and "Likelihood of &#34;Quokka bypass of amberlock bolts&#34; lowered from 5 to 4" in a
        and "TLP:AMBER" in a
    )
    assert a.index("Secret key cloning attacks") < a.index("Amberlock smart locks")  # newest first
    for page in (b, public):
        assert "Amberlock" not in page and "quokka" not in page.lower() and "TLP:AMBER" not in page
        assert "2 March 2026" not in page  # not even the date of the restricted change
    assert "Secret key cloning attacks" in b and "TLP:GREEN" in b
    assert "Secret key" not in public and "TLP:GREEN" not in public
    assert "Prison drones" in public and "New note" in public


def test_a_version_the_reader_could_not_read_is_skipped_and_compared_past(root, readers):
    """CLEAR on 1 March, AMBER (for org-a) with a secret measure on 2 March, CLEAR again on 3 March.

    The public and org-b see two versions, and the third is compared with the first: the AMBER
    version's words, date and id never reach them. org-a sees all three."""
    entry = root / "entries" / "turncoat-tags.md"
    entry.write_text(TURNCOAT.format(tlp="clear", likelihood=2, measure="Use tags that ink the garment."))
    sync(root, "01")
    entry.write_text(TURNCOAT.format(tlp="amber", likelihood=4, measure="Wombat detachers are sold on eBay."))
    sync(root, "02")
    entry.write_text(TURNCOAT.format(tlp="clear", likelihood=3, measure="Use tags that ink the garment."))
    sync(root, "03")
    everything = main(readers["partner_a"].get("/entries/turncoat-tags/history"))
    assert len(version_ids(everything)) == 3 and "Wombat detachers" in everything
    amber_id = version_ids(everything)[1]
    for who in ("public", "partner_b"):
        client = readers[who]
        page = main(client.get("/entries/turncoat-tags/history"))
        ids = version_ids(page)
        assert len(ids) == 2 and amber_id not in page, who
        assert "Wombat" not in page and "2 March 2026" not in page and "TLP:AMBER" not in page, who
        newest = page.split('id="version-')[1]
        assert "Likelihood of &#34;Defeating security tags&#34; raised from 2 to 3" in newest, who  # 1 March -> 3 March
        assert "New measure" not in newest, who  # the measure is the one it had on 1 March
        changes = main(client.get("/changes"))
        assert (
            "Wombat" not in changes and "Likelihood of &#34;Defeating security tags&#34; raised from 2 to 3" in changes
        ), who
        compare = client.get(f"/entries/turncoat-tags/history/compare?from={amber_id}&to={ids[0]}")
        assert compare.status_code == 404 and b"Wombat" not in compare.data, who
        assert (
            b"Wombat"
            not in main(client.get(f"/entries/turncoat-tags/history/compare?from={ids[1]}&to={ids[0]}")).encode()
        )


def test_the_note_page_links_its_history_and_the_header_links_changes(root, readers):
    page = text(readers["public"].get("/entries/prison-drones"))
    assert 'href="/entries/prison-drones/history"' in page
    assert re.search(r'<a class="govuk-service-navigation__link" href="/changes"[^>]*>\s*Changes', page)
    assert 'aria-current="page"' in text(readers["public"].get("/changes")).split('href="/changes"')[1][:80]


def test_history_and_changes_are_revalidated_with_a_cheap_304(root, readers):
    client = readers["public"]
    for url in ("/entries/prison-drones/history", "/changes"):
        first = client.get(url)
        assert first.status_code == 200 and first.headers["ETag"]
        assert client.get(url, headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    first = client.get("/entries/prison-drones/history")
    edit(root, "prison-drones", CONTRABAND, CONTRABAND.replace("likelihood: 5", "likelihood: 4"))
    sync(root, "02")
    again = client.get("/entries/prison-drones/history", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 200 and "lowered from 5 to 4" in again.get_data(as_text=True)
