"""The catalogue: what a reader may see, cached per entry version; dates that survive a rebuild."""

from __future__ import annotations

import datetime as dt

from site_fixtures import PUBLIC, edit, site_root, site_ws  # noqa: F401

from kb.model.access import ANONYMOUS, Reader, audience
from kb.site.catalog import Catalog
from kb.sync import update_index


def catalog(ws):
    return Catalog(ws.store, ws.index, ws.cfg.entries_dir, ws.cfg.review_days)


def test_each_reader_sees_what_the_rule_allows(site_ws):  # noqa: F811
    cat = catalog(site_ws)
    assert sorted(n.slug for n in cat.notes(ANONYMOUS)) == sorted(PUBLIC)
    partner = Reader("partner", "org-a")
    assert {n.slug for n in cat.notes(partner)} == set(PUBLIC) | {"secret-keys", "amber-locks"}
    assert len(cat.notes(Reader("staff"))) == 8
    assert cat.note(ANONYMOUS, "secret-keys") is None and cat.note(partner, "secret-keys") is not None
    assert [f.value for f in cat.facets(ANONYMOUS, "horizon")] == ["now"]
    assert {f.value: f.count for f in cat.facets(partner, "sector")}["prisons"] == 3


def test_notes_are_cached_per_version(site_ws, site_root):  # noqa: F811
    cat = catalog(site_ws)
    before = cat.note(ANONYMOUS, "printed-guns")
    html = before.body_html
    assert cat.note(ANONYMOUS, "printed-guns") is before and before.body_html is html
    edit(site_root, "printed-guns", "steel barrels", "steel tubes")
    update_index(site_ws)
    after = cat.note(ANONYMOUS, "printed-guns")
    assert after is not before and "steel tubes" in after.body_html
    assert cat.note(ANONYMOUS, "prison-drones") is cat.note(ANONYMOUS, "prison-drones")


def test_rebuild_keeps_the_dates_of_known_versions(site_ws):  # noqa: F811
    before = {row["slug"]: (row["first_seen"], row["updated"]) for row in site_ws.store.db["entries"].rows}
    report = update_index(site_ws, rebuild=True)
    assert report.changes == {}  # nothing is new to subscribers
    after = {row["slug"]: (row["first_seen"], row["updated"]) for row in site_ws.store.db["entries"].rows}
    assert after == before


def test_changes_compare_with_the_last_version_the_reader_could_read(site_ws, site_root, monkeypatch):  # noqa: F811
    from kb import clock

    cat = catalog(site_ws)
    monkeypatch.setattr(clock, "_source", lambda: dt.datetime.fromisoformat("2099-01-01T00:00:00+00:00"))
    edit(site_root, "prison-drones", "status: published", "status: draft")
    edit(site_root, "prison-drones", "likelihood: 5", "likelihood: 1")
    update_index(site_ws)
    monkeypatch.setattr(clock, "_source", lambda: dt.datetime.fromisoformat("2099-01-02T00:00:00+00:00"))
    edit(site_root, "prison-drones", "status: draft", "status: published")
    edit(site_root, "prison-drones", "likelihood: 1", "likelihood: 4")
    update_index(site_ws)
    changes = cat.changes(ANONYMOUS, cat.note(ANONYMOUS, "prison-drones"))
    # compared with the last published version (likelihood 5), not with the draft in between (1)
    assert changes == ['Likelihood of "Delivery of contraband into prisons" lowered from 5 to 4']
    staff = cat.changes(Reader("staff"), cat.note(Reader("staff"), "prison-drones"))
    assert "raised from 1 to 4" in " ".join(staff)


def test_whole_notes_load_on_demand_and_only_the_most_recent_stay_in_memory(site_ws, monkeypatch):  # noqa: F811
    monkeypatch.setattr("kb.site.catalog.DETAIL_LIMIT", 2)
    cat = catalog(site_ws)
    notes = cat.notes(ANONYMOUS)
    assert len(notes) >= 3 and not cat._details  # a listing reads heads only
    bodies = {n.slug: n.body_html for n in notes}
    assert len(cat._details) == 2  # the oldest were let go ...
    for n in notes:  # ... and come back whole, the same text, when asked for again
        assert n.body_html == bodies[n.slug] and n.entry.title == n.title


def test_a_note_listed_before_an_edit_shows_its_own_version_after_it(site_ws, site_root):  # noqa: F811
    cat = catalog(site_ws)
    listed = cat.note(ANONYMOUS, "printed-guns")
    edit(site_root, "printed-guns", "steel barrels", "steel tubes")
    update_index(site_ws)
    assert (
        "steel barrels" in listed.entry.body and "steel tubes" not in listed.entry.body
    )  # its version, from the history
    assert "steel tubes" in cat.note(ANONYMOUS, "printed-guns").entry.body


def test_heads_hold_what_lists_show(site_ws):  # noqa: F811
    cat = catalog(site_ws)
    for note in cat.notes(Reader("staff")):
        e = note.entry
        h = note.head
        assert (h.title, h.summary, h.status, h.tlp, h.share_with, h.score) == (
            e.title,
            e.summary,
            e.status,
            e.tlp,
            e.share_with,
            e.score,
        )
        assert (h.tags, h.sectors, h.all_drivers, h.horizon, h.reviewed) == (
            e.tags,
            e.sectors,
            e.all_drivers,
            e.horizon,
            e.reviewed,
        )
        assert [(r.id, r.score) for r in h.risks] == [(r.id, r.score) for r in e.risks]


def test_the_radar_shows_the_highest_scores_when_there_are_many_notes(site_ws, monkeypatch):  # noqa: F811
    monkeypatch.setattr("kb.site.catalog.RADAR_LIMIT", 2)
    cat = catalog(site_ws)
    _, points = cat.radar(Reader("staff"))
    scores = sorted((n.head.score for n in cat.notes(Reader("staff"))), reverse=True)
    assert len(points) == 2 and sorted((p.score for p in points), reverse=True) == scores[:2]


def test_a_note_made_restricted_leaves_search_and_facet_counts_at_once(site_ws, site_root):  # noqa: F811
    cat = catalog(site_ws)
    page = cat.search(ANONYMOUS, "firearms")
    assert "printed-guns" in page.notes
    before = sum(page.results.facets.get("sector", {}).values())
    counts = site_ws.index.facet_counts(audience(ANONYMOUS))  # cached per segment from here on
    edit(site_root, "printed-guns", "tlp: clear", "tlp: red")
    update_index(site_ws)
    page = cat.search(ANONYMOUS, "firearms")
    assert "printed-guns" not in page.notes and page.results.total == 0
    assert sum(page.results.facets.get("sector", {}).values()) < before or before == 0
    after = site_ws.index.facet_counts(audience(ANONYMOUS))
    assert sum(after["sector"].values()) < sum(counts["sector"].values())


def test_the_fingerprint_is_the_same_in_every_worker_and_moves_only_with_what_the_reader_sees(site_ws, site_root):  # noqa: F811
    one, two = catalog(site_ws), catalog(site_ws)  # two workers' catalogues
    staff = Reader("staff")
    before = {r: one.token(r) for r in (ANONYMOUS, staff)}
    assert before == {r: two.token(r) for r in (ANONYMOUS, staff)} and before[ANONYMOUS] != before[staff]
    text = (site_root / "entries" / "red-ledgers.md").read_text()
    (site_root / "entries" / "red-ledgers.md").write_text(text + "\nA new paragraph.\n")
    update_index(site_ws)
    assert one.token(ANONYMOUS) == before[ANONYMOUS]  # a note the public cannot read changed: nothing shows
    assert one.token(staff) != before[staff] and one.token(staff) == two.token(staff)
    edit(site_root, "printed-guns", "steel barrels", "steel tubes")
    update_index(site_ws)
    assert one.token(ANONYMOUS) != before[ANONYMOUS]
