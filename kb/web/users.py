"""Admins manage accounts in the browser (`/admin/users`): list every account; add one, disable
or enable it, change its role, send a password-reset link or set a password. Every action is
recorded in the audit log (through `kb.accounts`); every form carries a CSRF token; only admins
may see the page (others get 403, anonymous visitors are sent to sign in).

A new user gets a reset link by email when mail is on, so the admin never knows their
password; with mail off the admin gives an initial password.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for

from kb import mail
from kb.accounts import MIN_PASSWORD, ROLES, Accounts, User
from kb.errors import KbError
from kb.web.auth import accounts, admin_required, reset_message, sentence, signed_in_user
from kb.web.state import cfg

bp = Blueprint("users", __name__)


def _me() -> User:
    user = signed_in_user()
    assert user is not None
    return user


def _page(status: int = 200, problem: str | None = None, form: dict[str, str] | None = None) -> Any:
    return render_template(
        "admin/users.html",
        people=accounts().all(),
        roles=ROLES,
        orgs=sorted(cfg().organisation_slugs),
        mail_on=cfg().mail.enabled,
        min_password=MIN_PASSWORD,
        problem=problem,
        form=form or {},
    ), status


@bp.get("/admin/users")
@admin_required
def users():  # type: ignore[no-untyped-def]
    return _page()


def _send_reset(people: Accounts, user: User) -> str:
    mail.send(cfg().mail, reset_message(user))
    people.log(_me().email, "user.reset-link", user.email)
    return f"A link to set a password has been sent to {user.email}."


def _add(people: Accounts) -> str:
    form = request.form
    email, role, password = form.get("email", "").strip(), form.get("role", ""), form.get("password", "")
    org = form.get("org", "") if role == "partner" else None
    if not email:
        raise KbError("enter the new user's email address")
    if role == "partner" and not org:
        raise KbError("choose the partner's organisation")
    if people.by_email(email):
        raise KbError(f"a user {email.lower()} already exists")
    if not password and not cfg().mail.enabled:
        raise KbError("give an initial password: email is off, so no link can be sent")
    user = people.add(
        email,
        password or secrets.token_urlsafe(32),  # with mail on, the user sets their own through the link
        role,
        org=org,
        name=form.get("name", "").strip()[:200],
        actor=_me().email,
        organisations=cfg().organisations,
    )
    if password:
        return f"Added {user.email}."
    try:
        return f"Added {user.email}. " + _send_reset(people, user)
    except KbError as exc:
        return f"Added {user.email}, but the email could not be sent ({exc}); send a link or set a password."


def _target(people: Accounts, *, not_me: bool = False) -> User:
    user = people.by_email(request.form.get("email", ""))
    if user is None:
        raise KbError("there is no such user")
    if not_me and user.id == _me().id:
        raise KbError("you cannot do that to your own account; ask another admin")
    return user


def _disable(people: Accounts) -> str:
    user = people.disable(_target(people, not_me=True).email, actor=_me().email)
    return f"Disabled {user.email}: their sessions and private feed address no longer work."


def _enable(people: Accounts) -> str:
    return f"Enabled {people.enable(_target(people).email, actor=_me().email).email}."


def _role(people: Accounts) -> str:
    user, role = _target(people, not_me=True), request.form.get("role", "")
    org = request.form.get("org", "") or None
    changed = people.set_role(user.email, role, org=org, actor=_me().email, organisations=cfg().organisations)
    return f"{changed.email} is now {changed.role}{' of ' + changed.org if changed.org else ''}."


def _reset(people: Accounts) -> str:
    user = _target(people)
    if user.disabled:
        raise KbError("enable the account first")
    return _send_reset(people, user)


def _password(people: Accounts) -> str:
    user = _target(people)
    people.reset_password(user.email, request.form.get("password", ""), actor=_me().email)
    return f"Set a new password for {user.email}; they are signed out everywhere."


ACTIONS: dict[str, Callable[[Accounts], str]] = {
    "add": _add,
    "disable": _disable,
    "enable": _enable,
    "role": _role,
    "reset": _reset,
    "password": _password,
}


@bp.post("/admin/users")
@admin_required
def change():  # type: ignore[no-untyped-def]
    action = ACTIONS.get(request.form.get("action", ""))
    if action is None:
        return _page(400, "Choose an action.")
    try:
        done = action(accounts())
    except KbError as exc:
        form = {k: v for k, v in request.form.items() if k not in ("password", "csrf_token")}
        return _page(400, sentence(str(exc)), form)
    flash(done)
    return redirect(url_for("users.users"))
