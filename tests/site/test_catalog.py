"""The catalogue: what a reader may see, cached per entry version; dates that survive a rebuild."""

from __future__ import annotations

import datetime as dt

from site_fixtures import PUBLIC, edit, site_root, site_ws  # noqa: F401

from kb.model.access import ANONYMOUS, Reader
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
