"""Sign-in, sign-out, the reader of each request, and the guards on staff and admin pages.

Sessions come from Flask-Login and live on the server: each sign-in gets a random token (a row
of `sessions`, see `kb.accounts`) and the session cookie carries only that token. Signing out
deletes the row, so a copied cookie stops working; disabling a user or resetting their password
deletes all their sessions (and bumps their `session_epoch`), so every session they had stops
working at its next request. Failed sign-ins are throttled per account and per client address.
Users change their own password on the account page (ending their other sessions), or reset
it with a signed, one-hour, single-use link from `/reset-password` when email is on; that page
answers the same whether or not the account exists. Partners' private feed URLs carry a
revocable secret token. On an https site every response
carries Strict-Transport-Security.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
import secrets
import threading
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, abort, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_login import LoginManager, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFProtect
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from kb import clock, mail
from kb.accounts import MIN_PASSWORD, Accounts, RateLimited, User
from kb.digest import FREQUENCIES, Subscriptions
from kb.errors import KbError
from kb.model.access import ANONYMOUS, Reader
from kb.web.state import catalog, state

log = logging.getLogger(__name__)
bp = Blueprint("auth", __name__)
RESETS_PER_HOUR = 3  # reset emails to one account: more would let anyone flood an inbox
login_manager = LoginManager()
csrf = CSRFProtect()
HSTS = "max-age=31536000; includeSubDomains"  # sent on every response when site.base_url is https


class SessionUser:
    """What Flask-Login keeps for a signed-in request."""

    def __init__(self, user: User, token: str):
        self.user = user
        self.token = token

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def get_id(self) -> str:
        return self.token  # the server-side session's token, never the user's id


def accounts() -> Accounts:
    return Accounts(state().workspace.store, state().cfg.accounts)


@login_manager.user_loader
def _load(token: str) -> SessionUser | None:
    user = accounts().session_user(token)
    if user is None:
        return None  # signed out, disabled, signed out everywhere, or never a session: not signed in
    return SessionUser(user, token)


def signed_in_user() -> User | None:
    return current_user.user if current_user and current_user.is_authenticated else None


def reader() -> Reader:
    """Who is reading: a private feed's owner, the signed-in user, or the anonymous public."""
    override = g.get("feed_reader")
    if override is not None:
        return override
    user = signed_in_user()
    return user.reader if user else ANONYMOUS


def require(*roles: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Guard a view: anonymous visitors are sent to sign in; other roles get 403."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            user = signed_in_user()
            if user is None:
                return redirect(url_for("auth.sign_in", next=request.full_path.rstrip("?")))
            if user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return guarded

    return decorate


staff_required = require("staff", "admin")
admin_required = require("admin")


class SignInForm(FlaskForm):
    email = EmailField("Email address", validators=[DataRequired("Enter your email address"), Length(max=320)])
    password = PasswordField("Password", validators=[DataRequired("Enter your password"), Length(max=1024)])


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never an open redirect."""
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("pages.home")


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in():  # type: ignore[no-untyped-def]
    form = SignInForm()
    error = None
    if form.validate_on_submit():
        try:
            user = accounts().authenticate(
                form.email.data or "", form.password.data or "", address=request.remote_addr or ""
            )
        except RateLimited as exc:
            user, error = None, f"Too many failed attempts. Wait {exc.wait}, then try again."
        else:
            if user is None:
                error = "The email address or password is not right."
        if user is not None:
            session.clear()
            login_user(SessionUser(user, accounts().start_session(user)))
            accounts().log(user.email, "user.sign-in", user.email)
            return redirect(_safe_next(request.args.get("next")))
    status = 429 if error and error.startswith("Too many") else 401 if error else 400 if form.errors else 200
    return render_template("sign_in.html", form=form, error=error), status


@bp.post("/sign-out")
def sign_out():  # type: ignore[no-untyped-def]
    if current_user and current_user.is_authenticated:
        accounts().end_session(current_user.token)  # this session only: a copied cookie stops working too
    logout_user()
    session.clear()
    return redirect(url_for("pages.home"))


@bp.route("/account", methods=["GET", "POST"])
@require("partner", "staff", "admin")
def account():  # type: ignore[no-untyped-def]
    user = signed_in_user()
    assert user is not None
    # The sectors and tags with notes this user may read: each has a private feed (kb.web.feeds_out).
    facets = {kind: catalog().facets(user.reader, kind) for kind in ("sector", "tag")}
    subscriptions = Subscriptions(state().workspace.store)
    if request.method == "POST" and request.form.get("action") == "digest":  # CSRF-checked
        _save_digest(subscriptions, user, facets)
        return redirect(url_for("auth.account"))
    if request.method == "POST" and request.form.get("action") == "password":  # CSRF-checked
        problem = _change_password(user)
        if problem is None:
            flash("Your password has changed. You are signed out everywhere else.")
            return redirect(url_for("auth.account"))
        return _account_page(user, facets, subscriptions, problem), 400
    if request.method == "POST":  # CSRF-checked: regenerate the private feed token
        accounts().new_feed_token(user)
        flash("Your private feed address has changed. The old address no longer works.")
        return redirect(url_for("auth.account"))
    return _account_page(user, facets, subscriptions)


def _account_page(user: User, facets: dict[str, Any], subscriptions: Subscriptions, problem: str | None = None) -> str:
    fresh = accounts().get(user.id) or user
    return render_template(
        "account.html",
        user=fresh,
        facets=facets,
        subscription=subscriptions.get(fresh.id),
        mail_on=state().cfg.mail.enabled,
        password_problem=problem,
    )


def _change_password(user: User) -> str | None:
    """The account page's password form: None when changed, else what is wrong (one sentence)."""
    form = request.form
    new = form.get("new_password", "")
    if not form.get("current_password"):
        return "Enter your current password."
    if len(new) < MIN_PASSWORD:
        return f"Your new password needs at least {MIN_PASSWORD} characters."
    if new != form.get("new_password_again", ""):
        return "The two new passwords are not the same."
    try:
        accounts().change_password(
            user, form.get("current_password", ""), new, current_user.token, address=request.remote_addr or ""
        )
    except RateLimited as exc:
        return f"Too many wrong passwords. Wait {exc.wait}, then try again."
    except KbError as exc:
        return sentence(str(exc))
    return None


def sentence(message: str) -> str:
    """A message from kb.accounts as a sentence for a page."""
    message = message.strip()
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


def _save_digest(subscriptions: Subscriptions, user: User, facets: dict[str, Any]) -> None:
    """The email digest form: only sectors and tags the user may see are kept; none unsubscribes."""
    form = request.form
    frequency = form.get("frequency") if form.get("frequency") in FREQUENCIES else "weekly"
    known = {kind: {f.value for f in facets[kind]} for kind in facets}
    kept = subscriptions.save(
        user.id,
        frequency,
        everything=form.get("everything") == "yes",
        sectors=[v for v in form.getlist("sector") if v in known["sector"]],
        tags=[v for v in form.getlist("tag") if v in known["tag"]],
    )
    flash(f"You will get a {frequency} email digest." if kept else "You will get no email digests.")


# -- password reset by email ---------------------------------------------------------------------


def reset_link(user: User) -> str:
    """The signed one-hour, single-use reset address, on site.base_url (never the request's Host)."""
    token = accounts().reset_token(user, current_app.config["SECRET_KEY"])
    return state().cfg.site.base_url.rstrip("/") + url_for("auth.reset_with_link", token=token)


def reset_message(user: User) -> EmailMessage:
    settings = state().cfg.mail
    text = (
        f"Someone asked to set a new password for {user.email} on {state().cfg.site.title}.\n\n"
        f"To choose a new password, open this address within an hour:\n\n{reset_link(user)}\n\n"
        "It works once. If you did not ask, ignore this message: your password stays as it is.\n"
    )
    return mail.compose(settings, user.email, "Set your password", text)


def _send_quietly(settings: Any, message: EmailMessage) -> None:
    try:
        mail.send(settings, message)
    except KbError as exc:
        log.warning("password reset mail to %s not sent: %s", message["To"], exc)


@bp.route("/reset-password", methods=["GET", "POST"])
def reset_password():  # type: ignore[no-untyped-def]
    """Ask for a reset link. The answer is the same whether or not the account exists, and so is
    the work done before answering (a password hash either way; the mail is sent afterwards)."""
    mail_on = state().cfg.mail.enabled
    if request.method == "GET" or not mail_on:
        return render_template("reset_request.html", mail_on=mail_on, sent=False)
    email = (request.form.get("email") or "").strip()[:320]
    if not email:
        return render_template(
            "reset_request.html", mail_on=mail_on, sent=False, problem="Enter your email address."
        ), 400
    people = accounts()
    user = people.by_email(email)
    people.waste_time(email)
    hour_ago = (clock.utcnow() - dt.timedelta(hours=1)).isoformat(timespec="seconds")
    flooded = user is not None and people.recent_actions("user.reset-link", user.email, hour_ago) >= RESETS_PER_HOUR
    if user is not None and not user.disabled and not flooded:  # the same answer either way
        message = reset_message(user)
        people.log("reset-password page", "user.reset-link", user.email, {"address": request.remote_addr or ""})
        threading.Thread(target=_send_quietly, args=(state().cfg.mail, message), daemon=True).start()
    return render_template("reset_request.html", mail_on=mail_on, sent=True)


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
def reset_with_link(token: str):  # type: ignore[no-untyped-def]
    user = accounts().reset_user(token, current_app.config["SECRET_KEY"])
    if user is None:
        return render_template("reset_password.html", bad=True), 404
    problem = None
    if request.method == "POST":  # CSRF-checked
        new = request.form.get("new_password", "")
        if len(new) < MIN_PASSWORD:
            problem = f"Your new password needs at least {MIN_PASSWORD} characters."
        elif new != request.form.get("new_password_again", ""):
            problem = "The two new passwords are not the same."
        else:
            accounts().reset_password(user.email, new, actor=f"{user.email} (reset link)")
            logout_user()
            session.clear()
            return render_template("reset_password.html", done=True)
    return render_template("reset_password.html", user=user, problem=problem), 400 if problem else 200


def secret_key(var_dir: Path) -> str:
    """A per-installation secret in var/secret_key (made once, readable only by its owner)."""
    path = var_dir / "secret_key"
    if not path.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        with open(path, "x", encoding="ascii") as fh:
            fh.write(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text(encoding="ascii").strip()


def init_app(app: Flask) -> None:
    cfg = state_cfg(app)
    secure = cfg.site.base_url.startswith("https://")
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = os.environ.get("KB_SECRET_KEY") or secret_key(cfg.var_dir)
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SECURE=secure,
        REMEMBER_COOKIE_SAMESITE="Lax",
        WTF_CSRF_TIME_LIMIT=None,  # a long edit must not lose its token; the session still bounds it
    )
    login_manager.init_app(app)
    login_manager.login_view = "auth.sign_in"
    login_manager.login_message = "Sign in to see that page."
    csrf.init_app(app)
    app.register_blueprint(bp)

    @app.context_processor
    def _user() -> dict[str, Any]:
        return {"signed_in": signed_in_user()}

    if secure:

        @app.after_request
        def _hsts(response):  # type: ignore[no-untyped-def]
            response.headers.setdefault("Strict-Transport-Security", HSTS)
            return response


def state_cfg(app: Flask):  # type: ignore[no-untyped-def]
    return app.extensions["kb"].cfg
