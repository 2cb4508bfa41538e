"""Signing in from tests, the way a person does: through the form, CSRF token and all."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

from kb.accounts import Accounts

PASSWORD = "correct horse battery"
PEOPLE = {
    # name: (email, role, org)
    "partner_a": ("ann@org-a.example", "partner", "org-a"),
    "partner_b": ("bob@org-b.example", "partner", "org-b"),
    "staff": ("sam@kb.example", "staff", None),
    "admin": ("ada@kb.example", "admin", None),
}


def csrf_token(html: str) -> str:
    found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', html
    )
    assert found, "no CSRF token on the page"
    return found.group(1)


class AuthActions:
    """Make the standard people once per app, then sign any of them in on a client."""

    def __init__(self, app: Flask):
        self.app = app
        self.accounts = Accounts(app.extensions["kb"].workspace.store, app.extensions["kb"].cfg.accounts)
        for email, role, org in PEOPLE.values():
            if self.accounts.by_email(email) is None:
                self.accounts.add(email, PASSWORD, role, org=org)

    def user(self, who: str):  # type: ignore[no-untyped-def]
        return self.accounts.by_email(PEOPLE[who][0])

    def sign_in(self, client: FlaskClient, who: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
        page = client.get("/sign-in").get_data(as_text=True)
        return client.post(
            "/sign-in", data={"email": PEOPLE[who][0], "password": password, "csrf_token": csrf_token(page)}
        )

    def sign_out(self, client: FlaskClient):  # type: ignore[no-untyped-def]
        page = client.get("/account").get_data(as_text=True)
        return client.post("/sign-out", data={"csrf_token": csrf_token(page)})

    def post(self, client: FlaskClient, url: str, data: dict, form_page: str | None = None):  # type: ignore[no-untyped-def]
        """POST a form with the CSRF token taken from `form_page` (default: the same URL)."""
        page = client.get(form_page or url).get_data(as_text=True)
        return client.post(url, data={**data, "csrf_token": csrf_token(page)})
