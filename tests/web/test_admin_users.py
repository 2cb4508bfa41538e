"""Issue 15: admins manage accounts in the browser at /admin/users, every action audit-logged."""

from __future__ import annotations

import pytest
from auth_helpers import PASSWORD, AuthActions
from site_fixtures import app, client, site_root  # noqa: F401
from test_account_self_service import inbox, link_in, mail_app  # noqa: F401

NEW = "a brand new passphrase"


@pytest.fixture
def auth(app):  # noqa: F811
    return AuthActions(app)


def act(auth, client, data):  # noqa: F811
    return auth.post(client, "/admin/users", data)


def last_audit(auth):  # noqa: F811
    row = auth.accounts.audit(limit=1)[0]
    return row["actor"], row["action"], row["target"]


@pytest.mark.parametrize("who", [None, "partner_a", "staff"])
def test_finding_15_only_admins_manage_users(client, auth, who):  # noqa: F811
    if who:
        auth.sign_in(client, who)
    page = client.get("/admin/users")
    if who is None:
        assert page.status_code == 302 and page.location.startswith("/sign-in")
        return
    assert page.status_code == 403
    post = auth.post(client, "/admin/users", {"action": "disable", "email": "ada@kb.example"}, form_page="/account")
    assert post.status_code == 403 and not auth.user("admin").disabled


def test_finding_15_the_list_shows_every_account(client, auth):  # noqa: F811
    auth.sign_in(client, "admin")
    page = client.get("/admin/users").get_data(as_text=True)
    for email in ("ann@org-a.example", "bob@org-b.example", "sam@kb.example", "ada@kb.example"):
        assert email in page
    assert "org-a" in page and "never" in page and "active" in page
    assert 'href="/admin/users"' in client.get("/staff/").get_data(as_text=True)  # the staff nav links it


def test_finding_15_forms_need_the_csrf_token(client, auth):  # noqa: F811
    auth.sign_in(client, "admin")
    response = client.post("/admin/users", data={"action": "disable", "email": "sam@kb.example"})
    assert response.status_code == 400
    assert not auth.user("staff").disabled


def test_finding_15_admin_adds_a_partner_with_a_password_when_mail_is_off(client, auth):  # noqa: F811
    auth.sign_in(client, "admin")
    data = {"action": "add", "email": "cy@org-a.example", "role": "partner", "org": "org-a", "name": "Cy"}
    refused = act(auth, client, data)
    assert refused.status_code == 400
    assert "Give an initial password: email is off" in refused.get_data(as_text=True)
    assert act(auth, client, {**data, "password": NEW}).status_code == 302
    user = auth.accounts.by_email("cy@org-a.example")
    assert (user.role, user.org, user.name) == ("partner", "org-a", "Cy")
    assert last_audit(auth) == ("ada@kb.example", "user.add", "cy@org-a.example")
    again = act(auth, client, {**data, "password": NEW})
    assert "A user cy@org-a.example already exists." in again.get_data(as_text=True)
    unknown = act(auth, client, {**data, "email": "di@org-a.example", "org": "org-z", "password": NEW})
    assert unknown.status_code == 400 and "org-z" in unknown.get_data(as_text=True)


def test_finding_15_admin_disables_enables_and_changes_a_role(app, auth):  # noqa: F811
    admin, sam = app.test_client(), app.test_client()
    auth.sign_in(admin, "admin")
    auth.sign_in(sam, "staff")
    assert act(auth, admin, {"action": "disable", "email": "sam@kb.example"}).status_code == 302
    assert auth.user("staff").disabled and sam.get("/staff/").status_code == 302
    assert last_audit(auth) == ("ada@kb.example", "user.disable", "sam@kb.example")
    act(auth, admin, {"action": "enable", "email": "sam@kb.example"})
    assert not auth.user("staff").disabled
    assert last_audit(auth) == ("ada@kb.example", "user.enable", "sam@kb.example")
    act(auth, admin, {"action": "role", "email": "sam@kb.example", "role": "partner", "org": "org-b"})
    assert (auth.user("staff").role, auth.user("staff").org) == ("partner", "org-b")
    assert last_audit(auth) == ("ada@kb.example", "user.set-role", "sam@kb.example")
    no_org = act(auth, admin, {"action": "role", "email": "ann@org-a.example", "role": "partner", "org": ""})
    assert no_org.status_code == 400 and "choose one" in no_org.get_data(as_text=True)
    itself = act(auth, admin, {"action": "disable", "email": "ada@kb.example"})
    assert itself.status_code == 400 and "your own account" in itself.get_data(as_text=True)
    assert not auth.user("admin").disabled


def test_finding_15_admin_sets_a_password(app, auth):  # noqa: F811
    admin, ann = app.test_client(), app.test_client()
    auth.sign_in(admin, "admin")
    auth.sign_in(ann, "partner_a")
    short = act(auth, admin, {"action": "password", "email": "ann@org-a.example", "password": "short"})
    assert short.status_code == 400 and "at least 12 characters" in short.get_data(as_text=True)
    assert act(auth, admin, {"action": "password", "email": "ann@org-a.example", "password": NEW}).status_code == 302
    assert ann.get("/account").status_code == 302
    assert auth.accounts.authenticate("ann@org-a.example", NEW) is not None
    assert last_audit(auth) == ("ada@kb.example", "user.reset-password", "ann@org-a.example")


def test_finding_15_a_new_user_gets_a_link_when_mail_is_on(mail_app, inbox):  # noqa: F811
    box, _ = inbox
    auth = AuthActions(mail_app)
    admin = mail_app.test_client()
    auth.sign_in(admin, "admin")
    data = {"action": "add", "email": "cy@org-a.example", "role": "partner", "org": "org-a"}
    assert act(auth, admin, data).status_code == 302
    assert "A link to set a password has been sent" in admin.get("/admin/users").get_data(as_text=True)
    link = link_in(box.wait_for("cy@org-a.example"))
    cy = mail_app.test_client()
    page = cy.get(link.split("kb.example.test", 1)[1])
    assert page.status_code == 200 and "cy@org-a.example" in page.get_data(as_text=True)
    assert ("ada@kb.example", "user.reset-link", "cy@org-a.example") in [
        (r["actor"], r["action"], r["target"]) for r in auth.accounts.audit()
    ]
    assert act(auth, admin, {"action": "reset", "email": "ann@org-a.example"}).status_code == 302
    assert box.wait_for("ann@org-a.example")
    assert auth.accounts.authenticate("ann@org-a.example", PASSWORD) is not None  # a link changes nothing yet
