"""Issue 15: a user changes their own password on the account page, or resets it with a link by email."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator

import pytest
from aiosmtpd.controller import Controller
from auth_helpers import PASSWORD, AuthActions, csrf_token
from site_fixtures import BASE_URL, app, client, site_root  # noqa: F401
from test_mail import Inbox, free_port, mail_section

from kb import clock
from kb.web import create_app

NEW = "a brand new passphrase"


class WaitingInbox(Inbox):
    """The test SMTP server's inbox, which a test can wait on (the reset page sends after answering)."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived = threading.Condition()

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]  # noqa: N802
        with self.arrived:
            reply = await super().handle_DATA(server, session, envelope)
            self.arrived.notify_all()
        return reply

    def wait_for(self, address: str):  # type: ignore[no-untyped-def]
        with self.arrived:
            assert self.arrived.wait_for(lambda: self.to(address), timeout=30), f"no message to {address}"
        return self.to(address)[-1]


@pytest.fixture
def auth(app):  # noqa: F811
    return AuthActions(app)


@pytest.fixture
def inbox() -> Iterator[tuple[WaitingInbox, int]]:
    box = WaitingInbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield box, controller.port
    finally:
        controller.stop()


@pytest.fixture
def mail_app(site_root, inbox):  # noqa: F811
    with open(site_root / "config.toml", "a") as fh:
        fh.write(mail_section(inbox[1]))
    application = create_app(site_root, {"TESTING": True})
    yield application
    application.extensions["kb"].close()


def change(auth, client, current, new, again=None):  # noqa: F811
    data = {"action": "password", "current_password": current, "new_password": new, "new_password_again": again or new}
    return auth.post(client, "/account", data)


def link_in(message) -> str:  # type: ignore[no-untyped-def]
    found = re.search(r"(http\S+/reset-password/\S+)", message.get_content())
    assert found, message.get_content()
    return found.group(1)


def test_finding_15_a_user_changes_their_password_and_other_sessions_end(app, auth):  # noqa: F811
    here, elsewhere = app.test_client(), app.test_client()
    auth.sign_in(here, "partner_a")
    auth.sign_in(elsewhere, "partner_a")
    response = change(auth, here, PASSWORD, NEW)
    assert response.status_code == 302
    assert "Your password has changed" in here.get("/account").get_data(as_text=True)
    assert here.get("/account").status_code == 200  # this session goes on
    assert elsewhere.get("/account").status_code == 302  # the other one ended
    assert auth.sign_in(app.test_client(), "partner_a", PASSWORD).status_code == 401
    assert auth.sign_in(app.test_client(), "partner_a", NEW).status_code == 302
    assert any(r["action"] == "user.change-password" for r in auth.accounts.audit())


@pytest.mark.parametrize(
    ("current", "new", "again", "says"),
    [
        ("not the password", NEW, NEW, "Your current password is not right."),
        (PASSWORD, "short", "short", "at least 12 characters"),
        (PASSWORD, NEW, NEW + "x", "The two new passwords are not the same."),
        ("", NEW, NEW, "Enter your current password."),
    ],
)
def test_finding_15_a_wrong_password_change_is_one_sentence(client, auth, current, new, again, says):  # noqa: F811
    auth.sign_in(client, "staff")
    response = change(auth, client, current, new, again)
    assert response.status_code == 400
    assert says in response.get_data(as_text=True)
    assert auth.accounts.authenticate("sam@kb.example", PASSWORD) is not None  # unchanged


def test_finding_15_a_password_change_needs_the_csrf_token(client, auth):  # noqa: F811
    auth.sign_in(client, "staff")
    data = {"action": "password", "current_password": PASSWORD, "new_password": NEW, "new_password_again": NEW}
    assert client.post("/account", data=data).status_code == 400
    assert auth.accounts.authenticate("sam@kb.example", PASSWORD) is not None


def test_finding_15_reset_answers_the_same_whether_or_not_the_account_exists(mail_app, inbox):
    box, _ = inbox
    auth = AuthActions(mail_app)
    browser = mail_app.test_client()
    unknown = auth.post(browser, "/reset-password", {"email": "nobody@org-a.example"}).get_data(as_text=True)
    known = auth.post(browser, "/reset-password", {"email": "ann@org-a.example"}).get_data(as_text=True)
    token = re.compile(r'name="csrf_token" value="[^"]+"')
    assert token.sub("", unknown) == token.sub("", known)
    assert "If an account exists for that address, we have sent a link" in known
    box.wait_for("ann@org-a.example")
    assert box.to("nobody@org-a.example") == []


def test_finding_15_a_reset_link_sets_a_password_once_and_ends_every_session(mail_app, inbox):
    box, _ = inbox
    auth = AuthActions(mail_app)
    signed_in = mail_app.test_client()
    auth.sign_in(signed_in, "partner_a")
    browser = mail_app.test_client()
    auth.post(browser, "/reset-password", {"email": "ann@org-a.example"})
    link = link_in(box.wait_for("ann@org-a.example"))
    assert link.startswith(BASE_URL + "/reset-password/")  # the site's address, never the request's Host
    path = link[len(BASE_URL) :]
    page = browser.get(path)
    assert page.status_code == 200
    mismatch = {
        "new_password": NEW,
        "new_password_again": "other",
        "csrf_token": csrf_token(page.get_data(as_text=True)),
    }
    assert "not the same" in browser.post(path, data=mismatch).get_data(as_text=True)
    done = browser.post(path, data={**mismatch, "new_password_again": NEW})
    assert "Your password has changed" in done.get_data(as_text=True)
    assert signed_in.get("/account").status_code == 302
    assert auth.sign_in(mail_app.test_client(), "partner_a", NEW).status_code == 302
    assert browser.get(path).status_code == 404  # used once: it no longer works
    assert "This link does not work" in browser.get(path).get_data(as_text=True)
    actions = [(r["action"], r["target"]) for r in auth.accounts.audit()]
    assert ("user.reset-password", "ann@org-a.example") in actions
    assert ("user.reset-link", "ann@org-a.example") in actions


def test_finding_15_a_reset_link_expires_after_an_hour(app, auth):  # noqa: F811
    user = auth.user("partner_a")
    with clock.frozen("2026-03-01T09:00:00"):
        token = auth.accounts.reset_token(user, app.config["SECRET_KEY"])
    with clock.frozen("2026-03-01T09:59:59"):
        assert auth.accounts.reset_user(token, app.config["SECRET_KEY"]) == user
    with clock.frozen("2026-03-01T10:00:01"):
        assert auth.accounts.reset_user(token, app.config["SECRET_KEY"]) is None
        assert app.test_client().get(f"/reset-password/{token}").status_code == 404
    assert auth.accounts.reset_user(token + "x", app.config["SECRET_KEY"]) is None


def test_finding_15_with_mail_off_resets_are_done_by_an_admin(client, auth):  # noqa: F811
    page = client.get("/reset-password").get_data(as_text=True)
    assert "passwords are reset by an admin" in page
    assert "<form" not in page.split('class="govuk-heading-l"')[1]


def test_finding_15_reset_links_to_one_account_are_limited_so_no_inbox_is_flooded(mail_app, inbox):
    box, _ = inbox
    auth = AuthActions(mail_app)
    browser = mail_app.test_client()
    pages = [auth.post(browser, "/reset-password", {"email": "ann@org-a.example"}) for _ in range(5)]
    assert {p.status_code for p in pages} == {200}  # the same answer every time
    sent = [r for r in auth.accounts.audit() if r["action"] == "user.reset-link" and r["target"] == "ann@org-a.example"]
    assert len(sent) == 3
    box.wait_for("ann@org-a.example")
