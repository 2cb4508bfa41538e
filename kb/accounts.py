"""Accounts: staff, admins and partners (who belong to an organisation, one that config.toml's
`[[organisations]]` registers when the register is given), and the audit log.

Passwords are hashed with Argon2id. Sessions live on the server: each sign-in gets a random
token whose SHA-256 is a row of `sessions`; signing out deletes that row. Disabling a user or
resetting a password deletes all their sessions and bumps their `session_epoch`, which signs
them out everywhere; changing one's own password ends every other session. A password-reset
link carries a signed token that expires after an hour and works once (it is bound to the
password hash and `session_epoch`, which using it changes). Failed sign-ins are counted per account (the sixth wrong attempt inside a
minute is refused even when the password is right) and per client address across accounts
(the 21st failure from one address inside ten minutes is refused the same way). Times come
from `kb.clock`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeSerializer

from kb.clock import now, utcnow
from kb.config import AccountSettings, Organisation
from kb.errors import KbError, NotFound
from kb.model import organisations as register
from kb.model.access import Reader
from kb.store import Store

log = logging.getLogger(__name__)

ROLES = ("admin", "staff", "partner")
MAX_FAILURES = 5
FAILURE_WINDOW = 60.0  # seconds
ADDRESS_MAX_FAILURES = 20  # failed sign-ins from one client address, whatever the accounts
ADDRESS_FAILURE_WINDOW = 600.0  # seconds
MIN_PASSWORD = 12
RESET_LIFETIME = 3600  # seconds a password-reset link works
RESET_SALT = "kb.password-reset"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_hasher = PasswordHasher()  # argon2-cffi's defaults (RFC 9106's low-memory profile)
_test_hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)  # accounts.test_hashing only


@dataclass(frozen=True)
class User:
    id: int
    email: str
    name: str
    role: str
    org: str | None
    disabled: bool
    session_epoch: int
    feed_token: str
    last_login: str | None = None

    @property
    def reader(self) -> Reader:
        return Reader(role=self.role, org=self.org)

    @property
    def is_staff(self) -> bool:
        return self.role in ("staff", "admin")

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def _user(row: dict[str, Any]) -> User:
    return User(
        id=row["id"],
        email=row["email"],
        name=row["name"] or "",
        role=row["role"],
        org=row["org"] or None,
        disabled=bool(row["disabled"]),
        session_epoch=row["session_epoch"],
        feed_token=row["feed_token"],
        last_login=row["last_login"],
    )


class Accounts:
    def __init__(self, store: Store, settings: AccountSettings | None = None):
        self.db = store.db
        self.hasher = _test_hasher if settings and settings.test_hashing else _hasher
        self.session_days = (settings or AccountSettings()).session_days

    # -- reading ---------------------------------------------------------------------------

    def get(self, user_id: int) -> User | None:
        rows = list(self.db["users"].rows_where("id = ?", [user_id]))
        return _user(rows[0]) if rows else None

    def by_email(self, email: str) -> User | None:
        rows = list(self.db["users"].rows_where("email = ?", [email.strip().lower()]))
        return _user(rows[0]) if rows else None

    def by_feed_token(self, token: str) -> User | None:
        if not token:
            return None
        rows = list(self.db["users"].rows_where("feed_token = ? AND disabled = 0", [token]))
        return _user(rows[0]) if rows else None

    def all(self) -> list[User]:
        return [_user(r) for r in self.db["users"].rows_where(order_by="role, email")]

    def count(self) -> int:
        return self.db["users"].count

    # -- changing --------------------------------------------------------------------------

    def add(
        self,
        email: str,
        password: str,
        role: str,
        *,
        org: str | None = None,
        name: str = "",
        actor: str = "cli",
        organisations: Sequence[Organisation] | None = None,
        warn: Callable[[str], None] | None = None,
    ) -> User:
        """Add an account. With `organisations` (config.toml's register, `Config.organisations`),
        `org` must be a registered slug, and an address outside its `email_domain` is warned
        about through `warn` (default: the log), not refused."""
        email = email.strip().lower()
        if not _EMAIL.match(email):
            raise KbError(f"{email!r} is not an email address")
        if role not in ROLES:
            raise KbError(f"role must be one of: {', '.join(ROLES)}; got {role!r}")
        if role == "partner" and not org:
            raise KbError("a partner belongs to an organisation: give --org SLUG (e.g. --org acme-drones)")
        if org and not _SLUG.match(org):
            raise KbError(f"organisation must be a lower-case slug like 'acme-drones'; got {org!r}")
        warning = check_org(email, org, organisations) if org and organisations is not None else None
        check_password(password)
        if self.by_email(email):
            raise KbError(f"a user {email} already exists; use kb users reset-password to change the password")
        self.db["users"].insert(
            {
                "email": email,
                "name": name,
                "role": role,
                "org": org if role == "partner" else None,
                "password_hash": self.hasher.hash(password),
                "disabled": 0,
                "session_epoch": 0,
                "feed_token": secrets.token_urlsafe(24),
                "created": now(),
                "last_login": None,
            }
        )
        self.log(actor, "user.add", email, {"role": role, "org": org})
        if warning and role == "partner":
            (warn or log.warning)(warning)
        user = self.by_email(email)
        assert user is not None
        return user

    def _require(self, email: str) -> User:
        user = self.by_email(email)
        if user is None:
            raise NotFound(f"no user {email!r}; see kb users list")
        return user

    def disable(self, email: str, actor: str = "cli") -> User:
        user = self._require(email)
        self.db["users"].update(
            user.id, {"disabled": 1, "session_epoch": user.session_epoch + 1, "feed_token": secrets.token_urlsafe(24)}
        )
        self.end_sessions(user)
        self.log(actor, "user.disable", user.email)
        return self._require(email)

    def enable(self, email: str, actor: str = "cli") -> User:
        user = self._require(email)
        self.db["users"].update(user.id, {"disabled": 0})
        self.log(actor, "user.enable", user.email)
        return self._require(email)

    def reset_password(self, email: str, password: str, actor: str = "cli") -> User:
        user = self._require(email)
        check_password(password)
        self.db["users"].update(
            user.id, {"password_hash": self.hasher.hash(password), "session_epoch": user.session_epoch + 1}
        )
        self.end_sessions(user)
        self.db["login_failures"].delete_where("email = ?", [user.email])
        self.log(actor, "user.reset-password", user.email)
        return self._require(email)

    def change_password(self, user: User, current: str, new: str, keep_token: str, address: str | None = None) -> User:
        """The signed-in user's own change: `current` must be right (wrong guesses count as failed
        sign-ins, and are throttled the same way). Ends every other session; keeps `keep_token`'s."""
        at = utcnow().timestamp()
        self._check_throttle(user.email, address, at)
        row = self.db["users"].get(user.id)
        try:
            ok = self.hasher.verify(row["password_hash"], current)
        except (VerificationError, InvalidHashError):
            ok = False
        if not ok:
            self.db["login_failures"].insert({"email": user.email, "at": at, "address": address})
            raise KbError("your current password is not right")
        check_password(new)
        self.db["users"].update(user.id, {"password_hash": self.hasher.hash(new)})
        self.db["sessions"].delete_where("user_id = ? AND token_hash != ?", [user.id, _token_hash(keep_token)])
        self.log(user.email, "user.change-password", user.email)
        return self._require(user.email)

    def set_role(
        self,
        email: str,
        role: str,
        *,
        org: str | None = None,
        actor: str = "cli",
        organisations: Sequence[Organisation] | None = None,
    ) -> User:
        """Change a user's role (a partner's organisation with it, checked against the register)."""
        user = self._require(email)
        if role not in ROLES:
            raise KbError(f"role must be one of: {', '.join(ROLES)}; got {role!r}")
        if role == "partner" and not org:
            raise KbError("a partner belongs to an organisation: choose one")
        if role == "partner" and organisations is not None:
            check_org(user.email, org or "", organisations)
        org = org if role == "partner" else None
        self.db["users"].update(user.id, {"role": role, "org": org})
        self.log(actor, "user.set-role", user.email, {"from": user.role, "role": role, "org": org})
        return self._require(email)

    def reset_token(self, user: User, secret: str) -> str:
        """A signed link token for `user` that expires after RESET_LIFETIME seconds and works once:
        it carries a fingerprint of the password hash and session epoch, which a reset changes."""
        expires = int(utcnow().timestamp()) + RESET_LIFETIME
        data = {"u": user.id, "f": self._fingerprint(user.id), "e": expires}
        return URLSafeSerializer(secret, salt=RESET_SALT).dumps(data)

    def reset_user(self, token: str, secret: str) -> User | None:
        """The user a reset token names while it is valid (signed, unexpired, unused); else None."""
        try:
            data = URLSafeSerializer(secret, salt=RESET_SALT).loads(token)
        except BadSignature:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("u"), int) or not isinstance(data.get("e"), int):
            return None
        if data["e"] < utcnow().timestamp():
            return None
        user = self.get(data["u"])
        if user is None or user.disabled or not secrets.compare_digest(str(data.get("f")), self._fingerprint(user.id)):
            return None
        return user

    def _fingerprint(self, user_id: int) -> str:
        row = self.db["users"].get(user_id)
        return hashlib.sha256(f"{row['password_hash']}|{row['session_epoch']}".encode()).hexdigest()[:32]

    def waste_time(self, text: str) -> None:
        """Hash `text` and throw it away: the same cost as a real hash, so a page's timing does not
        tell whether an account exists."""
        self.hasher.hash(text)

    def new_feed_token(self, user: User) -> str:
        """Revoke the user's private feed URL and issue a new one."""
        token = secrets.token_urlsafe(24)
        self.db["users"].update(user.id, {"feed_token": token})
        self.log(user.email, "user.feed-token", user.email)
        return token

    # -- signing in ------------------------------------------------------------------------

    def authenticate(
        self, email: str, password: str, at: float | None = None, address: str | None = None
    ) -> User | None:
        """The user when the password is right and the account may sign in; else None.

        Raises `RateLimited` after MAX_FAILURES wrong passwords for the account within
        FAILURE_WINDOW seconds, or ADDRESS_MAX_FAILURES failures from `address` (the client's
        address, any accounts) within ADDRESS_FAILURE_WINDOW seconds. `at` defaults to kb.clock.
        """
        at = utcnow().timestamp() if at is None else at
        email = email.strip().lower()
        self._check_throttle(email, address, at)
        rows = list(self.db["users"].rows_where("email = ?", [email]))
        ok = False
        if rows:
            try:
                ok = self.hasher.verify(rows[0]["password_hash"], password)
            except (VerificationError, InvalidHashError):
                ok = False
        else:
            self.hasher.hash(password)  # same cost whether or not the account exists
        if not ok or rows[0]["disabled"]:
            self.db["login_failures"].insert({"email": email, "at": at, "address": address})
            self.db["login_failures"].delete_where("at < ?", [at - 24 * 3600])
            return None
        self.db["users"].update(rows[0]["id"], {"last_login": now()})
        self.db["login_failures"].delete_where("email = ?", [email])  # this account's only: not the address's
        return _user(rows[0])

    def _check_throttle(self, email: str, address: str | None, at: float) -> None:
        recent = self.db.execute(
            "SELECT count(*) FROM login_failures WHERE email = ? AND at > ?", [email, at - FAILURE_WINDOW]
        ).fetchone()[0]
        if recent >= MAX_FAILURES:
            raise RateLimited(f"too many failed sign-ins for {email}; wait a minute and try again", wait="a minute")
        if address is None:
            return
        recent = self.db.execute(
            "SELECT count(*) FROM login_failures WHERE address = ? AND at > ?", [address, at - ADDRESS_FAILURE_WINDOW]
        ).fetchone()[0]
        if recent >= ADDRESS_MAX_FAILURES:
            raise RateLimited(
                f"too many failed sign-ins from {address}; wait ten minutes and try again", wait="ten minutes"
            )

    # -- sessions --------------------------------------------------------------------------

    def start_session(self, user: User) -> str:
        """A new session for `user`: the random token its cookie carries (only its hash is stored)."""
        token = secrets.token_urlsafe(32)
        self.db.execute("DELETE FROM sessions WHERE created < ?", [self._oldest_live()])  # expired ones
        self.db["sessions"].insert(
            {"token_hash": _token_hash(token), "user_id": user.id, "epoch": user.session_epoch, "created": now()}
        )
        return token

    def _oldest_live(self) -> str:
        """When the oldest session still live began: a session ends `session_days` after sign-in."""
        return (utcnow() - dt.timedelta(days=self.session_days)).isoformat(timespec="seconds")

    def session_user(self, token: str) -> User | None:
        """The user of a live session; None for an unknown, ended or expired token, or a disabled user."""
        if not token:
            return None
        rows = list(self.db["sessions"].rows_where("token_hash = ?", [_token_hash(token)]))
        if not rows or rows[0]["created"] < self._oldest_live():
            return None  # unknown, signed out, or expired (`accounts.session_days` after sign-in)
        user = self.get(rows[0]["user_id"])
        if user is None or user.disabled or user.session_epoch != rows[0]["epoch"]:
            return None  # disabled, or signed out everywhere since the session began
        return user

    def end_session(self, token: str) -> None:
        """Sign out this one session (the user's other sessions go on)."""
        self.db["sessions"].delete_where("token_hash = ?", [_token_hash(token)])

    def end_sessions(self, user: User) -> None:
        """Sign the user out everywhere."""
        self.db["sessions"].delete_where("user_id = ?", [user.id])

    # -- audit -----------------------------------------------------------------------------

    def log(self, actor: str, action: str, target: str, detail: dict[str, Any] | None = None) -> None:
        self.db["audit"].insert(
            {"at": now(), "actor": actor, "action": action, "target": target, "detail": json.dumps(detail or {})}
        )

    def recent_actions(self, action: str, target: str, since: str) -> int:
        """How many times `action` was logged for `target` since the ISO time `since`."""
        row = self.db.execute(
            "SELECT count(*) FROM audit WHERE action = ? AND target = ? AND at >= ?", [action, target, since]
        ).fetchone()
        return int(row[0])

    def audit(self, limit: int = 200) -> list[dict[str, Any]]:
        return list(self.db["audit"].rows_where(order_by="id desc", limit=limit))


class RateLimited(KbError):
    """Too many failed sign-ins; `wait` says how long, in words ("a minute")."""

    def __init__(self, message: str, wait: str = "a minute"):
        super().__init__(message)
        self.wait = wait


def check_org(email: str, org: str, organisations: Sequence[Organisation]) -> str | None:
    """Refuse (KbError) an organisation the register does not hold, with the nearest registered slug;
    return a warning when `email` is outside the organisation's email domain."""
    problem = register.unknown_org(org, {o.slug for o in organisations})
    if problem:
        raise KbError(problem)
    found = next(o for o in organisations if o.slug == org)
    if register.outside_domain(email, found.email_domain):
        return (
            f"{email} is not an address at {found.email_domain}, the email domain of {org!r} ({found.name}); "
            "check the address and the organisation"
        )
    return None


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise KbError(f"a password needs at least {MIN_PASSWORD} characters")
