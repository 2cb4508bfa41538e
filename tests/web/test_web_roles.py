"""Every door, every reader: each sees exactly the notes TLP 2.0 allows them.

Readers: an anonymous visitor, a partner of organisation A, a partner of organisation B,
staff and an admin. Every GET route is walked with every slug and facet value (as in
test_web_sharing) while signed in as each, and each partner's private feed is read too.
"""

from __future__ import annotations

import pytest
from auth_helpers import AuthActions
from site_fixtures import app, client, site_root  # noqa: F401
from test_web_sharing import urls_for

# Words found only in one restricted note, by note.
NOTE_WORDS = {
    "secret-keys": ["zanzibar", "Cloning keys", "ultra-wideband"],  # TLP:GREEN
    "amber-locks": ["quokka", "Amberlock"],  # TLP:AMBER, shared with org-a
    "red-ledgers": ["narwhal", "Redledger"],  # TLP:RED
    "draft-robots": ["Delivery robots", "Pavement robots"],  # draft
    "review-wearables": ["Okapi", "okapi"],  # in review
}
MAY_READ = {
    None: set(),
    "partner_a": {"secret-keys", "amber-locks"},
    "partner_b": {"secret-keys"},
    "staff": set(NOTE_WORDS),
    "admin": set(NOTE_WORDS),
}


@pytest.fixture
def auth(app):  # noqa: F811
    return AuthActions(app)


def signed_in(app, auth, who):  # noqa: F811
    c = app.test_client()
    if who:
        auth.sign_in(c, who)
    return c


@pytest.mark.parametrize("who", ["partner_a", "partner_b", None])
def test_every_door_shows_only_what_the_reader_may_read(app, auth, site_root, who):  # noqa: F811
    c = signed_in(app, auth, who)
    token = auth.user(who).feed_token if who else "no-such-token"
    hidden = [w for slug, words in NOTE_WORDS.items() if slug not in MAY_READ[who] for w in words]
    checked = 0
    for url, echoed in urls_for(app, site_root, token=token):
        response = c.get(url)
        assert response.status_code in (200, 302, 400, 403, 404), url
        body = response.get_data(as_text=True)
        for text in echoed:
            body = body.replace(text, "")
        leaked = [w for w in hidden if w in body]
        assert not leaked, f"{who}: {url} leaks {leaked}"
        checked += 1
    assert checked > 300


@pytest.mark.parametrize("who", list(MAY_READ))
def test_each_reader_finds_the_notes_they_may_read(app, auth, who):  # noqa: F811
    c = signed_in(app, auth, who)
    listed = {e["slug"] for e in c.get("/api/entries").get_json()["entries"]}
    for slug, words in NOTE_WORDS.items():
        allowed = slug in MAY_READ[who]
        page = c.get(f"/entries/{slug}")
        assert page.status_code == (200 if allowed else 404), (who, slug)
        assert (slug in listed) == allowed, (who, slug)
        hits = {h["slug"] for h in c.get(f"/api/search?q={words[0]}").get_json().get("results", [])}
        assert (slug in hits) == allowed, (who, slug, hits)


def test_amber_facet_counts_differ_between_organisations(app, auth):  # noqa: F811
    a, b = signed_in(app, auth, "partner_a"), signed_in(app, auth, "partner_b")
    count_a = a.get("/api/search?q=prisons").get_json()["facets"]["sector"]["prisons"]
    count_b = b.get("/api/search?q=prisons").get_json()["facets"]["sector"]["prisons"]
    assert count_a == count_b + 1  # the AMBER note is in the prisons sector


def test_private_feeds_carry_each_partners_notes(app, auth):  # noqa: F811
    c = app.test_client()
    feed_a = c.get(f"/feeds/private/{auth.user('partner_a').feed_token}/all.atom").get_data(as_text=True)
    feed_b = c.get(f"/feeds/private/{auth.user('partner_b').feed_token}/all.atom").get_data(as_text=True)
    assert "Amberlock" in feed_a and "Amberlock" not in feed_b
    assert "Cloning keys" in feed_a or "secret-keys" in feed_a
    assert "secret-keys" in feed_b
    assert "narwhal" not in feed_a + feed_b and "Okapi" not in feed_a + feed_b
    public = c.get("/feeds/all.atom").get_data(as_text=True)
    assert "secret-keys" not in public and "amber-locks" not in public


def test_signed_in_pages_are_private_to_shared_caches(app, auth):  # noqa: F811
    c = signed_in(app, auth, "partner_a")
    response = c.get("/entries/amber-locks")
    assert response.status_code == 200
    assert "private" in response.headers["Cache-Control"] and "Cookie" in response.headers["Vary"]
    assert "TLP:AMBER" in response.get_data(as_text=True)
