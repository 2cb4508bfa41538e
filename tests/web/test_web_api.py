"""The JSON API and the sitemap."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from site_fixtures import PUBLIC, app, client, site_root  # noqa: F401


def test_api_lists_public_entries(client):  # noqa: F811
    data = client.get("/api/entries").get_json()
    assert data["count"] == 3
    assert sorted(e["slug"] for e in data["entries"]) == sorted(PUBLIC)
    first = data["entries"][0]
    assert {"title", "summary", "url", "api_url", "tlp", "score", "tags", "sectors", "updated"} <= set(first)
    assert first["url"].startswith("http://localhost/entries/")
    assert [e["slug"] for e in client.get("/api/entries?tag=firearms").get_json()["entries"]] == ["printed-guns"]
    assert client.get("/api/entries?sector=automotive").get_json() == {"count": 0, "entries": []}


def test_api_entry_has_the_whole_note(client):  # noqa: F811
    data = client.get("/api/entries/prison-drones").get_json()
    assert data["slug"] == "prison-drones" and data["tlp"] == "clear"
    assert data["risks"][0]["measures"][0]["actor"] == "manufacturers"
    assert data["score"] == 15
    assert "<script" not in data["body_html"]
    assert data["changes"] == ["New note"]
    assert client.get("/api/entries/secret-keys").status_code == 404
    assert client.get("/api/entries/secret-keys").get_json() == {"error": "Page not found", "status": 404}


def test_api_search(client):  # noqa: F811
    data = client.get("/api/search?q=quadcopter").get_json()
    assert data["total"] == 1 and data["results"][0]["slug"] == "prison-drones"
    assert "<mark>" in data["results"][0]["snippet_html"]
    assert set(data["facets"]) == {"sector", "tag", "driver", "horizon"}
    bad = client.get('/api/search?q="open')
    assert bad.status_code == 400 and "unbalanced quotes" in bad.get_json()["error"]
    assert client.get("/api/search").status_code == 400


def test_sitemap_lists_public_pages_only(client):  # noqa: F811
    response = client.get("/sitemap.xml")
    assert response.content_type == "application/xml; charset=utf-8"
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    locs = [u.find("s:loc", ns).text for u in ET.fromstring(response.data).findall("s:url", ns)]
    entries = sorted(loc.rsplit("/", 1)[1] for loc in locs if "/entries/" in loc and not loc.endswith("/"))
    assert entries == sorted(PUBLIC)
    assert "http://localhost/sectors/prisons" in locs
    assert "Sitemap: http://localhost/sitemap.xml" in client.get("/robots.txt").get_data(as_text=True)
