"""Findings of the independent attacker's test of sign-in and the API, one regression test each."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from auth_helpers import PASSWORD, AuthActions, csrf_token
from site_fixtures import BASE_URL, app, client, make_site, site_root, site_ws  # noqa: F401

from kb import clock
from kb.sync import update_index
from kb.web import create_app
from kb.workspace import Workspace

HSTS = "max-age=31536000; includeSubDomains"


@pytest.fixture
def auth(app):  # noqa: F811
    return AuthActions(app)


@pytest.fixture
def ticking() -> Iterator[list[dt.datetime]]:
    """The clock reads `moment[0]`; a test moves time by assigning to it."""
    moment = [dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)]
    previous = clock.use(lambda: moment[0])
    try:
        yield moment
    finally:
        clock.use(previous)


def client_at(app, address: str):  # noqa: F811
    """A test client whose requests come from `address` (what request.remote_addr reports)."""
    c = app.test_client()
    c.environ_base["REMOTE_ADDR"] = address
    return c


def sign_in_as(client, email: str, password: str):  # noqa: F811
    page = client.get("/sign-in").get_data(as_text=True)
    return client.post("/sign-in", data={"email": email, "password": password, "csrf_token": csrf_token(page)})


# -- Finding 8: signing out ends the session on the server -------------------------------------


def test_finding_8_session_cookie_replayed_after_sign_out_is_not_signed_in(app, client, auth):  # noqa: F811
    auth.sign_in(client, "partner_a")
    assert client.get("/account").status_code == 200
    stolen = client.get_cookie("session").value
    auth.sign_out(client)
    replay = app.test_client()
    replay.set_cookie("session", stolen)
    response = replay.get("/account")
    assert response.status_code == 302 and response.location.startswith("/sign-in")
    assert "Signed in as" not in replay.get("/").get_data(as_text=True)


def test_finding_8_sign_out_ends_only_this_session(app, auth):  # noqa: F811
    laptop, phone = app.test_client(), app.test_client()
    auth.sign_in(laptop, "staff")
    auth.sign_in(phone, "staff")
    auth.sign_out(laptop)
    assert laptop.get("/staff/").status_code == 302
    assert phone.get("/staff/").status_code == 200


def test_finding_8_disable_and_reset_end_every_session_even_a_copied_cookie(app, auth):  # noqa: F811
    first, second = app.test_client(), app.test_client()
    auth.sign_in(first, "partner_a")
    auth.sign_in(second, "partner_a")
    copied = first.get_cookie("session").value
    auth.accounts.reset_password("ann@org-a.example", "a brand new passphrase")
    assert first.get("/account").status_code == 302 and second.get("/account").status_code == 302
    replay = app.test_client()
    replay.set_cookie("session", copied)
    assert replay.get("/account").status_code == 302
    assert auth.accounts.db["sessions"].count == 0

    auth.sign_in(first, "staff")
    auth.accounts.disable("sam@kb.example")
    auth.accounts.enable("sam@kb.example")
    assert first.get("/staff/").status_code == 302  # enabling again does not bring the session back


def test_finding_8_a_forged_or_old_style_session_id_is_refused(app, auth):  # noqa: F811
    staff = auth.user("staff")
    for forged in (f"{staff.id}:{staff.session_epoch}", "not-a-token", ""):
        c = app.test_client()
        with c.session_transaction() as sess:
            sess["_user_id"] = forged
            sess["_fresh"] = True
        assert c.get("/staff/").status_code == 302, forged


def test_a_session_ends_session_days_after_sign_in_even_if_the_user_stays_active(app, client, auth, ticking):  # noqa: F811
    auth.sign_in(client, "partner_a")
    ticking[0] += dt.timedelta(days=13, hours=23)
    assert client.get("/account").status_code == 200  # still in its 14 days
    ticking[0] += dt.timedelta(hours=2)
    response = client.get("/account")
    assert response.status_code == 302 and response.location.startswith("/sign-in")
    assert auth.sign_in(client, "partner_a").status_code == 302  # signing in again starts a new one
    assert client.get("/account").status_code == 200


# -- Sign-in throttled per client address, across accounts --------------------------------------


def test_sign_in_is_throttled_per_address_across_accounts(app, auth, ticking):  # noqa: F811
    attacker = app.test_client()
    for n in range(20):  # one wrong password each for 20 accounts: never the per-account limit
        assert sign_in_as(attacker, f"victim{n}@kb.example", "not the password").status_code == 401
    refused = auth.sign_in(attacker, "staff")  # the right password, from the same address
    assert refused.status_code == 429
    assert "Too many failed attempts" in refused.get_data(as_text=True)
    assert attacker.get("/staff/").status_code == 302

    elsewhere = client_at(app, "192.0.2.7")
    assert auth.sign_in(elsewhere, "staff").status_code == 302  # another address is not held back

    ticking[0] += dt.timedelta(minutes=10, seconds=1)
    assert auth.sign_in(attacker, "staff").status_code == 302


def test_behind_a_proxy_the_forwarded_address_is_throttled_and_a_forged_one_is_not_believed(tmp_path, ticking):  # noqa: F811
    for proxies, expected in ((1, 302), (0, 429)):
        root = make_site(tmp_path / f"proxies-{proxies}")
        config = root / "config.toml"
        config.write_text(config.read_text().replace("per_page = 20\n", f"per_page = 20\nproxies = {proxies}\n"))
        workspace = Workspace.open(root)
        update_index(workspace)
        workspace.close()
        application = create_app(root, {"TESTING": True})
        try:
            auth = AuthActions(application)
            attacker = client_at(application, "127.0.0.1")  # the proxy's own address
            attacker.environ_base["HTTP_X_FORWARDED_FOR"] = "198.51.100.9"
            for n in range(20):
                assert sign_in_as(attacker, f"victim{n}@kb.example", "not the password").status_code == 401
            colleague = client_at(application, "127.0.0.1")  # another person, through the same proxy
            colleague.environ_base["HTTP_X_FORWARDED_FOR"] = "203.0.113.4"
            assert auth.sign_in(colleague, "staff").status_code == expected
        finally:
            application.extensions["kb"].close()


def test_per_account_limit_still_applies_from_many_addresses(app, auth, ticking):  # noqa: F811
    for n in range(5):
        c = client_at(app, f"192.0.2.{n + 1}")
        assert auth.sign_in(c, "staff", "not the password").status_code == 401
    c = client_at(app, "192.0.2.99")
    assert auth.sign_in(c, "staff", PASSWORD).status_code == 429
    ticking[0] += dt.timedelta(seconds=61)
    assert auth.sign_in(c, "staff", PASSWORD).status_code == 302


# -- HSTS on an https site ----------------------------------------------------------------------


def _app_at(root: Path, base_url: str):  # type: ignore[no-untyped-def]
    make_site(root)
    config = root / "config.toml"
    config.write_text(config.read_text().replace(BASE_URL, base_url))
    workspace = Workspace.open(root)
    update_index(workspace)
    workspace.close()
    return create_app(root, {"TESTING": True})


def test_hsts_is_sent_on_every_response_of_an_https_site(tmp_path):
    site = _app_at(tmp_path / "secure", "https://kb.example.test")
    try:
        c = site.test_client()
        for url in ("/", "/sign-in", "/api/entries", "/api/search?q=quadcopter", "/no-such-page", "/sitemap.xml"):
            assert c.get(url).headers.get("Strict-Transport-Security") == HSTS, url
        sign_in_as(c, "nobody@kb.example", "not the password")
        assert c.post("/sign-out").headers.get("Strict-Transport-Security") == HSTS  # even a refused POST
    finally:
        site.extensions["kb"].close()


def test_no_hsts_on_a_plain_http_site(client):  # noqa: F811
    assert "Strict-Transport-Security" not in client.get("/").headers


# -- Finding 9: search scores must not reveal hidden notes --------------------------------------

RED_DRAFT = """---
title: Quadcopter payload kits
summary: A RED draft about quadcopter payload kits.
status: draft
tlp: red
category: devices
horizon: 1-3y
maturity: emerging
reviewed: 2026-06-01
tags: [drones]
sectors: [prisons]
drivers: [profit]
keywords: [quadcopter]
---
Quadcopter quadcopter quadcopter: restricted detail.
"""


def test_finding_9_search_scores_do_not_reveal_hidden_notes(app, client, auth, site_root, site_ws):  # noqa: F811
    before = client.get("/api/search?q=quadcopter")
    data = before.get_json()
    assert data["total"] == 1
    for hit in data["results"]:
        assert not [key for key in hit if "match" in key or key.startswith("score_")], hit
        assert set(hit) >= {"slug", "title", "snippet_html"}

    (site_root / "entries" / "quadcopter-kits.md").write_text(RED_DRAFT)
    update_index(site_ws)
    staff = app.test_client()
    auth.sign_in(staff, "staff")
    assert "quadcopter-kits" in [h["slug"] for h in staff.get("/api/search?q=quadcopter").get_json()["results"]]

    after = client.get("/api/search?q=quadcopter")
    assert after.status_code == 200
    assert after.get_data() == before.get_data()


# -- Finding 1: the page cache never serves one user's page to another ---------------------------

CACHED_ROUTES = [
    "/",
    "/entries/",
    "/entries/prison-drones",
    "/entries/amber-locks",
    "/sectors/",
    "/sectors/prisons",
    "/tags/drones",
    "/search?q=drone",
    "/changes",
]


def test_finding_1_two_users_of_one_organisation_never_share_a_cached_page(app, auth):  # noqa: F811
    auth.accounts.add("amy@org-a.example", PASSWORD, "partner", org="org-a")  # a second partner of org-a
    first, second = app.test_client(), app.test_client()
    assert sign_in_as(first, "ann@org-a.example", PASSWORD).status_code == 302
    assert sign_in_as(second, "amy@org-a.example", PASSWORD).status_code == 302
    for url in CACHED_ROUTES:
        ann = first.get(url)
        amy = second.get(url)  # the same audience (org-a), asked straight after
        assert ann.status_code == amy.status_code, url
        if ann.status_code != 200:
            continue
        ann_page, amy_page = ann.get_data(as_text=True), amy.get_data(as_text=True)
        assert "ann@org-a.example" in ann_page and "amy@org-a.example" not in ann_page, url
        assert "amy@org-a.example" in amy_page and "ann@org-a.example" not in amy_page, url
        assert ann.headers["ETag"] != amy.headers["ETag"], url
        assert csrf_token(amy_page) != csrf_token(ann_page), url
        # each one's own sign-out form works (with another's token it was a 400)
    assert second.post("/sign-out", data={"csrf_token": csrf_token(amy_page)}).status_code == 302
    assert first.post("/sign-out", data={"csrf_token": csrf_token(ann_page)}).status_code == 302
