"""Sign-in, sessions, CSRF and rate limiting, through the real forms."""

import pytest
from auth_helpers import PASSWORD, AuthActions, csrf_token
from site_fixtures import app, client, site_root  # noqa: F401


@pytest.fixture
def auth(app):  # noqa: F811
    return AuthActions(app)


def test_sign_in_and_out(client, auth):  # noqa: F811
    assert "Sign in" in client.get("/").get_data(as_text=True)
    response = auth.sign_in(client, "partner_a")
    assert response.status_code == 302 and response.location == "/"
    home = client.get("/").get_data(as_text=True)
    assert "Signed in as ann@org-a.example (org-a)" in home
    assert "Staff dashboard" not in home
    auth.sign_out(client)
    assert "Signed in as" not in client.get("/").get_data(as_text=True)


def test_wrong_password_is_a_clear_error(client, auth):  # noqa: F811
    response = auth.sign_in(client, "staff", "not the password")
    assert response.status_code == 401
    assert "The email address or password is not right." in response.get_data(as_text=True)


def test_sixth_wrong_password_in_a_minute_is_refused_even_when_right(client, auth):  # noqa: F811
    for _ in range(5):
        assert auth.sign_in(client, "staff", "not the password").status_code == 401
    refused = auth.sign_in(client, "staff", PASSWORD)
    assert refused.status_code == 429
    assert "Too many failed attempts" in refused.get_data(as_text=True)
    assert client.get("/staff/").status_code == 302  # still not signed in


def test_form_without_csrf_token_is_refused(client, auth):  # noqa: F811
    response = client.post("/sign-in", data={"email": "sam@kb.example", "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/staff/").status_code == 302
    auth.sign_in(client, "staff")
    assert client.post("/sign-out").status_code == 400  # no token: still signed in
    assert client.get("/staff/").status_code == 200


def test_disabled_users_session_stops_working(client, auth):  # noqa: F811
    auth.sign_in(client, "staff")
    assert client.get("/staff/").status_code == 200
    auth.accounts.disable("sam@kb.example")
    response = client.get("/staff/")
    assert response.status_code == 302 and response.location.startswith("/sign-in")


def test_password_reset_signs_out_other_sessions(app, auth):  # noqa: F811
    first, second = app.test_client(), app.test_client()
    auth.sign_in(first, "partner_a")
    auth.sign_in(second, "partner_a")
    auth.accounts.reset_password("ann@org-a.example", "a brand new passphrase")
    assert first.get("/account").status_code == 302
    assert second.get("/account").status_code == 302


def test_roles_guard_staff_pages(client, auth):  # noqa: F811
    assert client.get("/staff/").location.startswith("/sign-in?next=/staff/")
    auth.sign_in(client, "partner_a")
    assert client.get("/staff/").status_code == 403


def test_next_is_never_an_open_redirect(client, auth):  # noqa: F811
    page = client.get("/sign-in?next=https://evil.example/").get_data(as_text=True)
    response = client.post(
        "/sign-in?next=https://evil.example/",
        data={"email": "sam@kb.example", "password": PASSWORD, "csrf_token": csrf_token(page)},
    )
    assert response.location == "/"


def test_session_cookie_flags(client, auth):  # noqa: F811
    response = auth.sign_in(client, "staff")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_private_feed_token_is_revocable(client, auth):  # noqa: F811
    token = auth.user("partner_a").feed_token
    feed = client.get(f"/feeds/private/{token}/all.atom")
    assert feed.status_code == 200 and "amber-locks" in feed.get_data(as_text=True)
    auth.sign_in(client, "partner_a")
    assert token in client.get("/account").get_data(as_text=True)
    auth.post(client, "/account", {})
    assert client.get(f"/feeds/private/{token}/all.atom").status_code == 404
    new = auth.user("partner_a").feed_token
    assert new != token and client.get(f"/feeds/private/{new}/all.atom").status_code == 200
