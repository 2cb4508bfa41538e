"""The sharing rule at every door: nothing but published TLP:CLEAR notes reaches the public.

Every route the app has is requested with every slug and facet value the knowledge base
holds, restricted ones included; no response may carry a word that only a restricted note
contains. Search, facet counts, related links, feeds, the API and the sitemap included.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from urllib.parse import quote, urlencode

from site_fixtures import CANARIES, PUBLIC, RESTRICTED, app, client, site_root  # noqa: F401

from kb.workspace import Workspace

SKIP_ENDPOINTS = {"static", "assets.govuk", "assets.govuk_assets"}
QUERIES = [
    "zanzibar",
    "quokka",
    "narwhal",
    "okapi",
    "robots",
    "key cloning",
    "drone",
    "prisons",
    "*",
    "status:draft",
    "tlp:green",
    "tlp:red",
    "tag:vehicles",
    "sector:automotive",
    "secret*",
]


def all_values(site_root):  # noqa: F811
    """Every slug, tag, sector, driver and horizon in the knowledge base, restricted ones too."""
    ws = Workspace.open(site_root)
    try:
        values = {
            kind: sorted({row["value"] for row in ws.store.db["facets"].rows_where("kind = ?", [kind])})
            for kind in ("tag", "sector", "driver")
        }
        values["horizon"] = sorted({row["horizon"] for row in ws.store.db["entries"].rows})
        values["slug"] = sorted(ws.store.slugs()) + ["no-such-note"]
    finally:
        ws.close()
    return values


SEGMENTS = {"sectors": "sector", "tags": "tag", "drivers": "driver", "horizons": "horizon"}  # URL segment -> facet kind


def urls_for(app, site_root, token="no-such-token"):  # noqa: F811
    """Every GET route with every value; `token` fills a private feed's secret."""
    values = all_values(site_root)
    for rule in app.url_map.iter_rules():
        if rule.endpoint in SKIP_ENDPOINTS or "GET" not in rule.methods:
            continue
        yield from route_urls(rule, values, token)
    yield from search_urls()
    yield from entries_api_urls(values)


def arg_choices(name: str, rule_text: str, values: dict[str, list[str]], token: str) -> list[str]:
    """Every value to try for the route argument `<name>`."""
    if name == "slug":
        return values["slug"]
    if name == "segment":
        return sorted(SEGMENTS)
    if name == "fmt":
        return ["atom", "rss"]
    if name == "token":
        return [token]
    if name == "value":
        return sorted({v for kind in SEGMENTS.values() for v in values[kind]})
    raise AssertionError(f"add values for <{name}> in {rule_text}")


def route_urls(rule, values: dict[str, list[str]], token: str) -> Iterator[tuple[str, tuple[str, ...]]]:
    """(path, the values in it) for one route with every combination of its arguments' values."""
    args = sorted(rule.arguments)
    if not args:
        yield rule.rule, ()
        return
    choices = [arg_choices(name, rule.rule, values, token) for name in args]
    for combo in itertools.product(*choices):
        kw = dict(zip(args, combo, strict=False))
        if "segment" in kw and rule.rule.startswith("/feeds/") and kw["segment"] not in ("sectors", "tags"):
            continue
        path = rule.rule
        for name, value in kw.items():
            path = re.sub(rf"<(?:[^:>]+:)?{name}>", quote(value), path)
        yield path, tuple(kw.values())


def search_urls() -> Iterator[tuple[str, tuple[str, ...]]]:
    """Every query in QUERIES on the search page and the search API, alone and with a facet filter."""
    for q in QUERIES:
        for base in ("/search", "/api/search"):
            yield f"{base}?{urlencode({'q': q})}", (q,)
            for kind, value in (
                ("sector", "automotive"),
                ("tag", "vehicles"),
                ("sector", "prisons"),
                ("tag", "drones"),
            ):
                yield f"{base}?{urlencode({'q': q, kind: value})}", (q, value)


def entries_api_urls(values: dict[str, list[str]]) -> Iterator[tuple[str, tuple[str, ...]]]:
    """The entries API filtered by every sector, tag, driver and horizon."""
    for kind in ("sector", "tag", "driver", "horizon"):
        for value in values[kind]:
            yield f"/api/entries?{urlencode({kind: value})}", (value,)


def test_no_restricted_word_through_any_door(app, client, site_root):  # noqa: F811
    checked = 0
    for url, echoed in urls_for(app, site_root):
        response = client.get(url)
        assert response.status_code in (200, 302, 400, 404), url
        if response.status_code == 302:  # pages that need sign-in send the visitor there
            assert response.location.startswith("/sign-in"), url
        body = response.get_data(as_text=True)
        for text in echoed:  # what the reader typed may be shown back to them
            for form in {
                text,
                quote(text),
                quote(text, safe=""),
                urlencode({"x": text})[2:],
                text.replace('"', "&#34;"),
                text.replace("*", "%2A"),
            }:
                body = body.replace(form, "")
        leaked = [word for word in CANARIES if word in body]
        assert not leaked, f"{url} leaks {leaked}"
        checked += 1
    assert checked > 300


def test_a_restricted_note_is_not_found_exactly_like_a_missing_one(client):  # noqa: F811
    missing = client.get("/entries/no-such-note")
    assert missing.status_code == 404
    for slug in RESTRICTED:
        for prefix in ("/entries/", "/api/entries/"):
            response = client.get(prefix + slug)
            assert response.status_code == 404
            assert response.data == client.get(prefix + "no-such-note").data
    for url in (
        "/feeds/tags/vehicles.atom",
        "/feeds/sectors/automotive.rss",
        "/sectors/automotive",
        "/tags/vehicles",
        "/sectors/retail",
        "/tags/amberlock-tag",
        "/sectors/redledger-sector",
        "/tags/okapi-tag",
    ):
        assert client.get(url).status_code == 404, url
    for slug in PUBLIC:
        assert client.get(f"/entries/{slug}").status_code == 200


def test_facet_counts_and_lists_count_only_public_notes(client):  # noqa: F811
    # 'drones' is also a tag of the AMBER and the in-review note; 'prisons' a sector of the AMBER one.
    page = client.get("/tags/").get_data(as_text=True)
    assert re.search(r">Drones</a>\s*<span class=\"app-meta\">\(1 note\)", page)
    assert re.search(r">Robotics</a>\s*<span class=\"app-meta\">\(1 note\)", page)  # the draft is robotics too
    data = client.get("/api/search?q=prisons").get_json()
    assert data["total"] == 2
    assert data["facets"]["sector"]["prisons"] == 2
    assert data["facets"]["tag"].get("drones") == 1
    assert sorted(r["slug"] for r in data["results"]) == ["overdue-cameras", "prison-drones"]
    assert len(client.get("/api/entries?sector=prisons").get_json()["entries"]) == 2


def test_related_links_show_only_readable_notes(client):  # noqa: F811
    page = client.get("/entries/overdue-cameras").get_data(as_text=True)
    related = page.split('id="related"')[1].split("</ul>")[0]
    assert "Prison drones" in related
    assert related.count("<li>") == 1
    assert client.get("/api/entries/overdue-cameras").get_json()["related"] == ["prison-drones"]


def test_search_for_restricted_words_finds_nothing(client):  # noqa: F811
    for q in ("zanzibar", "quokka", "narwhal", "okapi", "status:draft", "tlp:green"):
        assert client.get("/api/search?" + urlencode({"q": q})).get_json()["total"] == 0, q
        assert "0 results" in client.get("/search?" + urlencode({"q": q})).get_data(as_text=True), q


def test_the_door_check_would_catch_a_leak(app, client, site_root, monkeypatch):  # noqa: F811
    """Guard against a vacuous pass: a staff reader sees restricted notes, and the check notices."""
    from kb.model.access import Reader
    from kb.web import common

    monkeypatch.setattr(common, "current_reader", lambda: Reader("staff"))
    assert "zanzibar" in client.get("/entries/secret-keys").get_data(as_text=True)
    assert client.get("/api/search?q=quokka").get_json()["total"] == 1
    assert "Delivery robots" in client.get("/feeds/all.atom").get_data(as_text=True)


def test_a_page_cached_for_one_reader_is_not_served_to_another(client, monkeypatch):  # noqa: F811
    from kb.model.access import Reader
    from kb.web import common

    assert client.get("/entries/secret-keys").status_code == 404
    monkeypatch.setattr(common, "current_reader", lambda: Reader("partner", "org-a"))
    assert client.get("/entries/secret-keys").status_code == 200
    staff_home = client.get("/").get_data(as_text=True)
    monkeypatch.undo()
    assert "Secret key" in staff_home and "Secret key" not in client.get("/").get_data(as_text=True)
