"""Issue 13, finding 4: a partner's private feeds per sector and per tag, for feed readers.

A feed reader has no cookie, so every feed request here is made by a fresh test client that
has never signed in. Two partners of different organisations: org-a may read the TLP:AMBER
note `amber-locks` (sectors prisons and amberlock-sector, tags drones and amberlock-tag), org-b
may not; both may read the TLP:GREEN `secret-keys` (sector automotive, tag vehicles).
"""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import urlsplit

import feedparser
import pytest
from auth_helpers import AuthActions
from site_fixtures import app, client, site_root  # noqa: F401


@pytest.fixture
def auth(app):  # noqa: F811
    return AuthActions(app)


def signed_in(app, auth, who):  # noqa: F811
    c = app.test_client()
    auth.sign_in(c, who)
    return c


def feed_reader(app):  # noqa: F811
    """A client that never signs in: what a feed reader is."""
    return app.test_client()


def parse(response):
    assert response.status_code == 200, response.request.path
    feed = feedparser.parse(response.data)
    assert not feed.bozo, feed.get("bozo_exception")
    return feed


def slugs(feed):
    return sorted(e.id.rsplit(":", 1)[1] for e in feed.entries)


def private(token: str, segment: str, value: str, fmt: str) -> str:
    return f"/feeds/private/{token}/{segment}/{value}.{fmt}"


def feed_links(html: str) -> list[str]:
    """Every link to a feed on a page (hrefs of <a> and <link rel=alternate>), as paths."""
    hrefs = [unescape(h) for h in re.findall(r'href="([^"]+)"', html)]
    return [urlsplit(h).path for h in hrefs if "/feeds/" in h and not h.endswith(("all.atom", "all.rss"))]


def test_finding_4_private_sector_and_tag_feeds_work_without_a_cookie(app, auth):  # noqa: F811
    reader = feed_reader(app)
    token_a, token_b = auth.user("partner_a").feed_token, auth.user("partner_b").feed_token
    for fmt in ("atom", "rss"):
        prisons_a = parse(reader.get(private(token_a, "sectors", "prisons", fmt)))
        prisons_b = parse(reader.get(private(token_b, "sectors", "prisons", fmt)))
        assert slugs(prisons_a) == ["amber-locks", "overdue-cameras", "prison-drones"]
        assert slugs(prisons_b) == ["overdue-cameras", "prison-drones"]  # not org-a's AMBER note
        assert slugs(parse(reader.get(private(token_a, "tags", "amberlock-tag", fmt)))) == ["amber-locks"]
        assert slugs(parse(reader.get(private(token_a, "sectors", "amberlock-sector", fmt)))) == ["amber-locks"]
        for token in (token_a, token_b):  # TLP:GREEN: any signed-in partner
            assert slugs(parse(reader.get(private(token, "tags", "vehicles", fmt)))) == ["secret-keys"]
            assert slugs(parse(reader.get(private(token, "sectors", "automotive", fmt)))) == ["secret-keys"]
        # What org-b may not read is 'not found', exactly like what does not exist.
        assert reader.get(private(token_b, "tags", "amberlock-tag", fmt)).status_code == 404
        assert reader.get(private(token_b, "sectors", "amberlock-sector", fmt)).status_code == 404
        assert reader.get(private(token_a, "tags", "no-such-tag", fmt)).status_code == 404
        assert reader.get(private("no-such-token", "sectors", "prisons", fmt)).status_code == 404
        # The public feeds stay public: nothing restricted, with or without anyone's token.
        assert reader.get(f"/feeds/sectors/amberlock-sector.{fmt}").status_code == 404
        assert "amber-locks" not in reader.get(f"/feeds/sectors/prisons.{fmt}").get_data(as_text=True)
    assert reader.get(f"/feeds/private/{token_a}/drivers/profit.atom").status_code == 404  # sectors and tags only
    # The feed reader was never signed in: no session cookie was ever set or needed.
    assert reader.get_cookie("session") is None


def test_finding_4_sector_tag_and_entry_pages_link_the_private_feeds(app, auth):  # noqa: F811
    a, b = signed_in(app, auth, "partner_a"), signed_in(app, auth, "partner_b")
    token_a, token_b = auth.user("partner_a").feed_token, auth.user("partner_b").feed_token
    reader = feed_reader(app)
    pages = {
        "/sectors/prisons": "sectors/prisons",
        "/tags/amberlock-tag": "tags/amberlock-tag",
        "/sectors/amberlock-sector": "sectors/amberlock-sector",
    }
    for page, feed in pages.items():
        links = feed_links(a.get(page).get_data(as_text=True))
        # <link rel=alternate> and the Subscribe links, Atom and RSS: all private, none cookie-only.
        assert sorted(set(links)) == [f"/feeds/private/{token_a}/{feed}.atom", f"/feeds/private/{token_a}/{feed}.rss"]
        for link in set(links):
            assert "amber-locks" in slugs(parse(reader.get(link))), link
    entry_links = set(feed_links(a.get("/entries/amber-locks").get_data(as_text=True)))
    assert entry_links and all(link.startswith(f"/feeds/private/{token_a}/") for link in entry_links)
    assert f"/feeds/private/{token_a}/sectors/amberlock-sector.rss" in entry_links
    for link in entry_links:
        assert "amber-locks" in slugs(parse(reader.get(link))), link
    # Partner B's prisons page links B's own feed, which does not carry org-a's note.
    links_b = set(feed_links(b.get("/sectors/prisons").get_data(as_text=True)))
    assert links_b == {
        f"/feeds/private/{token_b}/sectors/prisons.atom",
        f"/feeds/private/{token_b}/sectors/prisons.rss",
    }
    assert all("amber-locks" not in slugs(parse(reader.get(link))) for link in links_b)
    # Signed out, the page links the public feed, as before.
    public = set(feed_links(reader.get("/sectors/prisons").get_data(as_text=True)))
    assert public == {"/feeds/sectors/prisons.atom", "/feeds/sectors/prisons.rss"}


def test_finding_4_the_account_page_lists_each_private_feed(app, auth):  # noqa: F811
    a, b = signed_in(app, auth, "partner_a"), signed_in(app, auth, "partner_b")
    token_a, token_b = auth.user("partner_a").feed_token, auth.user("partner_b").feed_token
    page_a = a.get("/account").get_data(as_text=True)
    page_b = b.get("/account").get_data(as_text=True)
    links_a, links_b = set(feed_links(page_a)), set(feed_links(page_b))
    for segment, value in (("sectors", "amberlock-sector"), ("sectors", "prisons"), ("tags", "amberlock-tag")):
        for fmt in ("atom", "rss"):
            assert private(token_a, segment, value, fmt) in links_a
    assert private(token_b, "sectors", "prisons", "atom") in links_b
    assert not any("amberlock" in link for link in links_b)  # B is not told of org-a's sectors or tags
    reader = feed_reader(app)
    for link in links_a | links_b:
        assert reader.get(link).status_code == 200, link


def test_finding_4_a_changed_token_stops_every_private_feed(app, auth):  # noqa: F811
    a = signed_in(app, auth, "partner_a")
    old = auth.user("partner_a").feed_token
    reader = feed_reader(app)
    old_feeds = [f"/feeds/private/{old}/all.atom", f"/feeds/private/{old}/all.rss"] + [
        private(old, segment, value, fmt)
        for segment, value in (("sectors", "prisons"), ("sectors", "amberlock-sector"), ("tags", "amberlock-tag"))
        for fmt in ("atom", "rss")
    ]
    assert all(reader.get(url).status_code == 200 for url in old_feeds)
    sector_page = a.get("/sectors/prisons")
    auth.post(a, "/account", {})  # "Change the addresses"
    new = auth.user("partner_a").feed_token
    assert new != old
    for url in old_feeds:
        assert reader.get(url).status_code == 404, url
        assert reader.get(url.replace(old, new)).status_code == 200, url
    # The sector page the browser kept is not revalidated with the old address in it.
    again = a.get("/sectors/prisons", headers={"If-None-Match": sector_page.headers["ETag"]})
    assert again.status_code == 200
    assert set(feed_links(again.get_data(as_text=True))) == {
        private(new, "sectors", "prisons", "atom"),
        private(new, "sectors", "prisons", "rss"),
    }
    # Disabling the user stops them too.
    auth.accounts.disable(auth.user("partner_a").email)
    assert reader.get(private(new, "sectors", "prisons", "atom")).status_code == 404
