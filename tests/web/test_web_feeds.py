"""Feeds out: valid Atom and RSS (feedparser, no bozo), the right entries, stable ids and dates."""

from __future__ import annotations

import datetime as dt
import os

import feedparser
import pytest
from site_fixtures import PUBLIC, app, client, edit, site_root, site_ws  # noqa: F401

from kb.sync import update_index


@pytest.fixture
def later(monkeypatch):
    """Changes made in a test are recorded an hour later than the fixture's, as in real life."""
    from kb import clock

    monkeypatch.setattr(clock, "_source", lambda: dt.datetime.fromisoformat("2099-01-01T00:00:00+00:00"))


def parse(client, url):  # noqa: F811
    response = client.get(url)
    assert response.status_code == 200, url
    feed = feedparser.parse(response.data)
    assert not feed.bozo, (url, feed.get("bozo_exception"))
    return response, feed


def slugs(feed):
    return [e.id.rsplit(":", 1)[1] for e in feed.entries]


def test_atom_feed_of_all_public_notes(client):  # noqa: F811
    response, feed = parse(client, "/feeds/all.atom")
    assert response.content_type == "application/atom+xml; charset=utf-8"
    assert feed.version == "atom10"
    assert sorted(slugs(feed)) == sorted(PUBLIC)
    assert all(e.id == f"tag:kb.example.test,2026:{s}" for e, s in zip(feed.entries, slugs(feed), strict=False))
    self_links = [link.href for link in feed.feed.links if link.rel == "self"]
    assert self_links == ["http://localhost/feeds/all.atom"]  # the URL it was served from
    newest = max(e.updated_parsed for e in feed.entries)
    assert feed.feed.updated_parsed == newest
    entry = feed.entries[0]
    assert "What changed" in entry.content[0].value and "New note" in entry.content[0].value
    assert entry.link.startswith("http://localhost/entries/")


def test_rss_feed_of_all_public_notes(client):  # noqa: F811
    response, feed = parse(client, "/feeds/all.rss")
    assert response.content_type == "application/rss+xml; charset=utf-8"
    assert feed.version == "rss20"
    assert sorted(e.id.rsplit(":", 1)[1] for e in feed.entries) == sorted(PUBLIC)
    assert all(e.guidislink is False for e in feed.entries)
    assert feed.feed.updated_parsed == max(e.published_parsed for e in feed.entries)


def test_feeds_per_sector_and_tag(client):  # noqa: F811
    _, prisons = parse(client, "/feeds/sectors/prisons.atom")
    assert sorted(slugs(prisons)) == ["overdue-cameras", "prison-drones"]  # not the AMBER prisons note
    _, firearms = parse(client, "/feeds/tags/firearms.rss")
    assert [e.title for e in firearms.entries] == ["[TLP:CLEAR] 3D-printed firearms"]
    _, drones = parse(client, "/feeds/tags/drones.atom")
    assert slugs(drones) == ["prison-drones"]
    assert client.get("/feeds/tags/no-such-tag.atom").status_code == 404
    assert client.get("/feeds/drivers/profit.atom").status_code == 404  # only sectors and tags have feeds


def test_unchanged_feed_is_the_same_bytes_and_a_304(client, site_ws, site_root, later):  # noqa: F811
    first = client.get("/feeds/all.atom")
    assert client.get("/feeds/all.atom", headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    os.utime(site_root / "entries" / "printed-guns.md")  # touched, not changed
    update_index(site_ws)
    assert client.get("/feeds/all.atom").data == first.data
    edit(site_root, "printed-guns", "from tubing.", "from tubing.   \n\n")  # trailing space only
    update_index(site_ws)
    assert client.get("/feeds/all.atom").data == first.data
    update_index(site_ws, rebuild=True)  # a rebuilt database keeps the dates of versions it has seen
    again = client.get("/feeds/all.atom")
    assert again.data == first.data
    assert again.headers["ETag"] == first.headers["ETag"]


def test_a_real_change_updates_only_that_note_and_says_what_changed(client, site_ws, site_root, later):  # noqa: F811
    _, before = parse(client, "/feeds/all.atom")
    dates = {s: e.updated for s, e in zip(slugs(before), before.entries, strict=False)}
    edit(site_root, "printed-guns", "likelihood: 3", "likelihood: 4")
    update_index(site_ws)
    _, after = parse(client, "/feeds/all.atom")
    assert slugs(after)[0] == "printed-guns"  # newest change first
    changed = after.entries[0]
    assert "Likelihood of" in changed.content[0].value and "raised from 3 to 4" in changed.content[0].value
    assert changed.updated >= dates["printed-guns"]
    assert after.feed.updated == changed.updated
    for slug, entry in zip(slugs(after), after.entries, strict=False):
        if slug != "printed-guns":
            assert entry.updated == dates[slug]


def test_a_note_made_public_shows_as_new_without_its_restricted_past(client, site_ws, site_root):  # noqa: F811
    edit(site_root, "secret-keys", "tlp: green", "tlp: clear")
    edit(site_root, "secret-keys", "likelihood: 4", "likelihood: 3")
    update_index(site_ws)
    _, feed = parse(client, "/feeds/all.atom")
    entry = dict(zip(slugs(feed), feed.entries, strict=False))["secret-keys"]
    assert "New note" in entry.content[0].value
    assert "raised" not in entry.content[0].value and "lowered" not in entry.content[0].value
    assert client.get("/api/entries/secret-keys").get_json()["changes"] == ["New note"]


def test_a_note_withdrawn_to_draft_leaves_the_feeds(client, site_ws, site_root):  # noqa: F811
    edit(site_root, "printed-guns", "status: published", "status: draft")
    update_index(site_ws)
    for url in ("/feeds/all.atom", "/feeds/all.rss", "/feeds/sectors/policing.atom"):
        response = client.get(url)
        assert b"printed-guns" not in response.data, url
    assert client.get("/entries/printed-guns").status_code == 404
