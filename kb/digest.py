"""Email digests: what is new or changed, for each subscriber, daily or weekly. No Flask.

A user subscribes on the account page (`Subscriptions`) to everything, or to some sectors and
tags, daily or weekly. `run` builds each subscriber's digest of the notes new or changed since
their last digest (since they subscribed, for the first): only notes *that user may read*
(`Catalog.notes(user.reader)`: the TLP and status rules of kb.model.access), each with its TLP
label and what changed (`Catalog.changes`, which never shows a version the reader could not
read). It is sent as plain text and HTML with a signed one-click unsubscribe link and the
`List-Unsubscribe` and `List-Unsubscribe-Post` headers (RFC 8058). Nothing is sent when
nothing changed.

Never twice for one period (a day, or an ISO week): before a digest goes out its row
(user, period) is *claimed* in `digests_sent` (an INSERT in its own committed transaction, which
a second run, even a concurrent one, cannot repeat), and *marked* (`sent_at`) after the SMTP
server accepted it. A run killed after sending but before marking leaves a claimed, unmarked
row, and a claimed row is never sent again: after a crash a digest may be missed, never
doubled. A send that fails cleanly (the server refused, or could not be reached) gives its
claim back, so the next run tries again.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

from itsdangerous import BadSignature, URLSafeSerializer
from jinja2 import Environment, FileSystemLoader, select_autoescape

from kb import clock, mail
from kb.accounts import Accounts, User
from kb.config import Config
from kb.model import taxonomy as tx
from kb.site.catalog import Catalog, Note, parse_stamp
from kb.store import Store
from kb.store.transactions import writing
from kb.workspace import Workspace

FREQUENCIES = ("daily", "weekly")
UNSUBSCRIBE_SALT = "kb.digest.unsubscribe"
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"  # the repository's, for an editable install


@dataclass(frozen=True)
class Subscription:
    user_id: int
    frequency: str  # daily | weekly
    everything: bool
    sectors: tuple[str, ...]
    tags: tuple[str, ...]
    since: str  # when it began: the first digest covers changes after this

    def wants(self, note: Note) -> bool:
        if self.everything:
            return True
        return bool(set(self.sectors) & set(note.head.sectors) or set(self.tags) & set(note.head.tags))


class Subscriptions:
    """The `subscriptions` table: at most one row per user."""

    def __init__(self, store: Store):
        self.db = store.db

    def get(self, user_id: int) -> Subscription | None:
        rows = list(self.db["subscriptions"].rows_where("user_id = ?", [user_id]))
        return _subscription(rows[0]) if rows else None

    def all(self) -> list[Subscription]:
        return [_subscription(r) for r in self.db["subscriptions"].rows_where(order_by="user_id")]

    def save(
        self,
        user_id: int,
        frequency: str,
        *,
        everything: bool = False,
        sectors: Iterable[str] = (),
        tags: Iterable[str] = (),
        since: str | None = None,
    ) -> Subscription | None:
        """Subscribe (or change a subscription); choosing nothing unsubscribes. Returns what is kept."""
        if frequency not in FREQUENCIES:
            raise ValueError(f"frequency must be daily or weekly, got {frequency!r}")
        sectors, tags = sorted(set(sectors)), sorted(set(tags))
        if not (everything or sectors or tags):
            self.remove(user_id)
            return None
        old = self.get(user_id)
        with writing(self.db):
            self.db["subscriptions"].upsert(
                {
                    "user_id": user_id,
                    "frequency": frequency,
                    "everything": int(everything),
                    "sectors": json.dumps(sectors),
                    "tags": json.dumps(tags),
                    "since": since or (old.since if old else clock.now()),
                    "updated": clock.now(),
                },
                pk="user_id",
            )
        return self.get(user_id)

    def remove(self, user_id: int) -> bool:
        """Unsubscribe; True when there was a subscription."""
        with writing(self.db):
            found = self.get(user_id) is not None
            self.db["subscriptions"].delete_where("user_id = ?", [user_id])
        return found


def _subscription(row: Mapping[str, object]) -> Subscription:
    return Subscription(
        user_id=int(row["user_id"]),  # type: ignore[call-overload]
        frequency=str(row["frequency"]),
        everything=bool(row["everything"]),
        sectors=tuple(json.loads(str(row["sectors"] or "[]"))),
        tags=tuple(json.loads(str(row["tags"] or "[]"))),
        since=str(row["since"]),
    )


def period(frequency: str, moment: dt.datetime) -> str:
    """The period a digest covers: '2026-12-02' (daily) or '2026-W49' (weekly, ISO weeks)."""
    if frequency == "weekly":
        year, week, _ = moment.isocalendar()
        return f"{year}-W{week:02d}"
    return moment.date().isoformat()


# -- the unsubscribe link --------------------------------------------------------------------


def app_secret(var_dir: Path) -> str:
    """The site's secret, as the web app gets it: $KB_SECRET_KEY, else var/secret_key (made once)."""
    if os.environ.get("KB_SECRET_KEY"):
        return os.environ["KB_SECRET_KEY"]
    path = var_dir / "secret_key"
    if not path.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        try:
            with open(path, "x", encoding="ascii") as fh:
                fh.write(secrets.token_hex(32))
            path.chmod(0o600)
        except FileExistsError:
            pass  # made meanwhile by the site
    return path.read_text(encoding="ascii").strip()


def unsubscribe_token(secret: str, user_id: int) -> str:
    return URLSafeSerializer(secret, salt=UNSUBSCRIBE_SALT).dumps({"u": user_id})


def unsubscribe_user(secret: str, token: str) -> int | None:
    """The user a signed unsubscribe token names; None when the signature is wrong."""
    try:
        data = URLSafeSerializer(secret, salt=UNSUBSCRIBE_SALT).loads(token)
    except BadSignature:
        return None
    user_id = data.get("u") if isinstance(data, dict) else None
    return user_id if isinstance(user_id, int) else None


# -- building ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    slug: str
    title: str
    summary: str
    url: str
    tlp_label: str  # 'TLP:AMBER'
    new: bool
    changes: tuple[str, ...]


@dataclass
class Digest:
    user: User
    period: str
    items: list[Item]
    unsubscribe_url: str
    subject: str = ""
    text: str = ""
    html: str = ""

    def message(self, cfg: Config) -> EmailMessage:
        headers = {
            "List-Unsubscribe": f"<{self.unsubscribe_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }
        return mail.compose(cfg.mail, self.user.email, self.subject, self.text, self.html, headers)


def _templates(cfg: Config) -> Environment:
    folder = TEMPLATES if (TEMPLATES / "mail").is_dir() else cfg.root / "templates"
    return Environment(loader=FileSystemLoader(str(folder)), autoescape=select_autoescape(["html"]))


class Builder:
    """Builds digests for many users: one catalogue, one template environment, one secret."""

    def __init__(self, cfg: Config, catalog: Catalog, secret: str):
        self.cfg = cfg
        self.catalog = catalog
        self.secret = secret
        self.env = _templates(cfg)
        self.base = cfg.site.base_url.rstrip("/")

    def build(self, user: User, sub: Subscription, since: dt.datetime, until: dt.datetime) -> Digest:
        """The digest of the notes `user` may read, new or changed in (since, until]."""
        reader = user.reader
        chosen = [n for n in self.catalog.notes(reader) if since < n.updated <= until and sub.wants(n)]
        chosen.sort(key=lambda n: (n.updated, n.slug), reverse=True)
        items = [
            Item(
                slug=n.slug,
                title=n.title,
                summary=n.head.summary,
                url=f"{self.base}/entries/{n.slug}",
                tlp_label=tx.TLP.get(n.tlp, n.tlp.upper()),
                new=n.first_seen > since,
                changes=tuple(self.catalog.changes(reader, n)),
            )
            for n in chosen
        ]
        link = f"{self.base}/unsubscribe/{unsubscribe_token(self.secret, user.id)}"
        digest = Digest(user, period(sub.frequency, until), items, link)
        if items:
            word = "daily" if sub.frequency == "daily" else "weekly"
            count = f"{len(items)} note{'s' if len(items) != 1 else ''}"
            digest.subject = f"{self.cfg.site.title}: your {word} digest, {count} new or changed"
            values = {"digest": digest, "site": self.cfg.site, "frequency": word}
            digest.text = self.env.get_template("mail/digest.txt").render(values)
            digest.html = self.env.get_template("mail/digest.html").render(values)
        return digest


# -- sending ----------------------------------------------------------------------------------


@dataclass
class RunReport:
    sent: list[str] = field(default_factory=list)  # addresses
    empty: int = 0  # subscribers with nothing new
    already: int = 0  # digests of this period claimed before
    failed: list[str] = field(default_factory=list)  # one sentence each
    dry: list[Digest] = field(default_factory=list)  # what --dry-run would send

    def line(self) -> str:
        parts = [f"{len(self.dry)} would be sent" if self.dry else f"{len(self.sent)} sent"]
        parts += [f"{self.empty} with nothing new", f"{self.already} already sent this period"]
        if self.failed:
            parts.append(f"{len(self.failed)} failed")
        return "digests: " + ", ".join(parts)


def _claim(store: Store, user_id: int, key: str, at: str) -> bool:
    """Claim (user, period), committed at once; False when it was claimed before."""
    with writing(store.db):
        cursor = store.db.execute(
            "INSERT OR IGNORE INTO digests_sent (user_id, period, claimed_at) VALUES (?, ?, ?)", [user_id, key, at]
        )
        return cursor.rowcount == 1


def _since(store: Store, sub: Subscription) -> dt.datetime:
    """The end of the last digest claimed for the user, else when they subscribed."""
    row = store.db.execute("SELECT max(claimed_at) FROM digests_sent WHERE user_id = ?", [sub.user_id]).fetchone()
    return parse_stamp(row[0] if row and row[0] else sub.since)


def run(
    ws: Workspace,
    catalog: Catalog | None = None,
    *,
    dry_run: bool = False,
    deliver: Callable[[EmailMessage], None] | None = None,
) -> RunReport:
    """Send every subscriber's digest that is due (see the module docstring); `dry_run` sends
    and records nothing. Raises `mail.MailOff` / `mail.MailError` when mail cannot work."""
    cfg, store = ws.cfg, ws.store
    if not dry_run and deliver is None:
        mail.check(cfg.mail)
    deliver = deliver or (lambda message: mail.send(cfg.mail, message))
    catalog = catalog or Catalog(store, ws.index, cfg.entries_dir, cfg.review_days)
    builder = Builder(cfg, catalog, app_secret(cfg.var_dir))
    accounts = Accounts(store, cfg.accounts)
    moment = clock.utcnow().replace(microsecond=0)
    stamp = moment.isoformat(timespec="seconds")
    report = RunReport()
    for sub in Subscriptions(store).all():
        user = accounts.get(sub.user_id)
        if user is None or user.disabled:
            continue
        key = period(sub.frequency, moment)
        if store.db.execute("SELECT 1 FROM digests_sent WHERE user_id = ? AND period = ?", [user.id, key]).fetchone():
            report.already += 1
            continue
        digest = builder.build(user, sub, _since(store, sub), moment)
        if not digest.items:
            report.empty += 1
        elif dry_run:
            report.dry.append(digest)
        elif not _claim(store, user.id, key, stamp):
            report.already += 1
        else:
            _deliver(store, digest, deliver, cfg, report, stamp)
    return report


def _deliver(
    store: Store, digest: Digest, deliver: Callable[[EmailMessage], None], cfg: Config, report: RunReport, at: str
) -> None:
    key = (digest.user.id, digest.period)
    try:
        deliver(digest.message(cfg))
    except mail.MailError as exc:
        with writing(store.db):  # a clean failure: give the claim back for the next run
            store.db.execute("DELETE FROM digests_sent WHERE user_id = ? AND period = ?", list(key))
        report.failed.append(f"{digest.user.email}: {exc}")
        return
    with writing(store.db):
        store.db.execute(
            "UPDATE digests_sent SET sent_at = ?, notes = ? WHERE user_id = ? AND period = ?",
            [clock.now() or at, len(digest.items), *key],
        )
    report.sent.append(digest.user.email)
