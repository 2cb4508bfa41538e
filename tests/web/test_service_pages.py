"""The GOV.UK service pages: accessibility statement, privacy notice and cookies page.

Each is linked from every page's footer and answers 200 for everyone, signed in or not; the
cookies and privacy pages state the site's real cookie and personal-data facts.
"""

from __future__ import annotations

import pytest
from auth_helpers import AuthActions
from site_fixtures import app, client, site_root  # noqa: F401

PAGES = {
    "/accessibility": "Accessibility statement",
    "/privacy": "Privacy notice",
    "/cookies": "Cookies",
}


@pytest.mark.parametrize("who", [None, "partner_a", "staff", "admin"])
def test_issue_15_service_pages_answer_200_for_everyone_and_are_in_the_footer(app, client, who):  # noqa: F811
    if who:
        AuthActions(app).sign_in(client, who)
    home = client.get("/").get_data(as_text=True)
    footer = home[home.index('<footer class="govuk-footer">') :]
    for url, heading in PAGES.items():
        assert f'href="{url}"' in footer, url
        response = client.get(url)
        assert response.status_code == 200, url
        assert f'<h1 class="govuk-heading-l">{heading}</h1>' in response.get_data(as_text=True)


def test_issue_15_cookies_page_states_the_real_cookie_facts(app, client):  # noqa: F811
    page = client.get("/cookies").get_data(as_text=True)
    name = app.config["SESSION_COOKIE_NAME"]
    assert f'<code class="app-code">{name}</code>' in page
    for fact in ("HttpOnly", "SameSite=Lax", "Secure", "does not use analytics"):
        assert fact in page, fact
    assert "(as this one is)" not in page  # the test site is http, so the cookie is not marked Secure
    # the facts match what the site really sends
    AuthActions(app).sign_in(client, "partner_a")
    cookie = client.get_cookie(name)
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax" and not cookie.secure


def test_issue_15_privacy_notice_names_the_data_kept_and_where(client):  # noqa: F811
    page = client.get("/privacy").get_data(as_text=True)
    for fact in ("Accounts", "audit log", "Sign-in failures", "IP", "var/state.sqlite", "no analytics"):
        assert fact in page, fact
