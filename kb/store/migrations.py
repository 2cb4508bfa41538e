"""Every table of the two databases, created by numbered steps that run once each, in order.

This is the only place a table is defined, and it says which file each table lives in:

- `var/state.sqlite` (`STATE_MIGRATIONS`, tables `STATE_TABLES`): what nothing else can
  recreate: accounts, sessions, failed sign-ins, the audit log, feed state, feed items and
  their tombstones, suggestions with their items and snoozes, and `entry_versions` (the first
  time each version of an entry was seen, which dates every note in the feeds), and when each
  signed-in user's last visits began (`visits`, for "changed since your last visit"). Back it up
  (`kb backup`); a damaged one is restored (`kb restore`), never replaced by an empty one.
- `var/cache.sqlite` (`CACHE_MIGRATIONS`, tables `CACHE_TABLES`): rows derived from
  `entries/*.md` (`kb index --rebuild` makes them again from nothing).

A step is never edited once released: change a schema by appending a step to its list.
`PRAGMA user_version` records how many steps of its own list a file has had. Steps 1-5 of the
state list are those of the single `var/kb.sqlite` used before the split (which held every
table); step 6 moves the derived tables out (`kb.store.split` copies a pre-split file's rows
into the cache first).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import sqlite_utils

from kb.model.head import head_to_dict
from kb.model.serial import entry_from_dict

Migration = Callable[[sqlite_utils.Database], None]
STATE_MIGRATIONS: list[Migration] = []
CACHE_MIGRATIONS: list[Migration] = []

CACHE_TABLES = ("files", "entries", "risks", "measures", "facets")
STATE_TABLES = (
    "entry_versions",
    "feed_state",
    "feed_items",
    "item_tombstones",
    "suggestions",
    "suggestion_items",
    "suggestion_snoozes",
    "users",
    "sessions",
    "login_failures",
    "audit",
    "subscriptions",
    "digests_sent",
    "visits",
)
SPLIT_AT = 5  # state steps the single pre-split database had; step 6 moves the cache tables out


def migration(fn: Migration) -> Migration:
    """Register a step of the state database; steps run once each, in order, tracked by PRAGMA user_version."""
    STATE_MIGRATIONS.append(fn)
    return fn


def cache_migration(fn: Migration) -> Migration:
    """Register a step of the cache database."""
    CACHE_MIGRATIONS.append(fn)
    return fn


@migration
def _entries_schema(db: sqlite_utils.Database) -> None:
    db["files"].create(
        {"path": str, "mtime_ns": int, "size": int, "sha256": str, "slug": str, "ok": int, "problems": str},
        pk="path",
    )
    db["entries"].create(
        {
            "slug": str,
            "path": str,
            "title": str,
            "summary": str,
            "status": str,
            "tlp": str,
            "category": str,
            "horizon": str,
            "maturity": str,
            "reviewed": str,
            "score": int,
            "data": str,
            "version": str,
            "content_hash": str,
            "first_seen": str,
            "updated": str,
        },
        pk="slug",
    )
    db["risks"].create(
        {
            "entry_slug": str,
            "risk_id": str,
            "title": str,
            "role": str,
            "likelihood": int,
            "impact": int,
            "score": int,
            "confidence": str,
            "trend": str,
        },
        pk=("entry_slug", "risk_id"),
    )
    db["measures"].create(
        {
            "entry_slug": str,
            "risk_id": str,
            "position": int,
            "actor": str,
            "measure": str,
            "mechanism": str,
            "status": str,
            "reference": str,
        },
        pk=("entry_slug", "risk_id", "position"),
    )
    db["facets"].create({"entry_slug": str, "kind": str, "value": str}, pk=("entry_slug", "kind", "value"))
    db["facets"].create_index(["kind", "value"])
    db["entry_versions"].create(
        {"slug": str, "version": str, "seen_at": str, "changes": str, "data": str}, pk=("slug", "version")
    )


@migration
def _feeds_schema(db: sqlite_utils.Database) -> None:
    """Feed state (one row per feed, carried across URL moves), feed items, tombstones, suggestions."""
    db["feed_state"].create(
        {
            "id": int,
            "url": str,
            "title": str,
            "etag": str,
            "last_modified": str,
            "body_hash": str,
            "status": str,
            "http_status": int,
            "last_fetch": str,
            "last_success": str,
            "last_error": str,
            "last_error_at": str,
            "failures": int,
            "next_poll": str,
            "held_until": str,
            "moved_to": str,
            "items_total": int,
            "items_per_day": float,
            "last_new": int,
            "last_duration": float,
        },
        pk="id",
    )
    db["feed_state"].create_index(["url"], unique=True)
    db["feed_items"].create(
        {
            "id": int,
            "feed_id": int,
            "feed_url": str,
            "key": str,
            "guid": str,
            "link": str,
            "title": str,
            "author": str,
            "summary_html": str,
            "content_html": str,
            "text": str,
            "published": str,
            "first_seen": str,
            "last_seen": str,
            "updated_at": str,
            "content_hash": str,
            "indexed": int,
            "decision": str,
            "decision_reason": str,
        },
        pk="id",
    )
    db["feed_items"].create_index(["key"], unique=True)
    db["feed_items"].create_index(["feed_id", "first_seen"])
    db["feed_items"].create_index(["published"])
    db["feed_items"].create_index(["indexed"])
    db["item_tombstones"].create({"key": str, "feed_id": int, "reason": str, "at": str}, pk="key")
    db["suggestions"].create(
        {
            "id": int,
            "kind": str,
            "status": str,
            "entry_slug": str,
            "topic_key": str,
            "title": str,
            "keywords": str,
            "reasons": str,
            "score": float,
            "created": str,
            "updated": str,
            "decided_at": str,
            "decided_by": str,
            "note": str,
            "result": str,
        },
        pk="id",
    )
    db["suggestions"].create_index(["status", "kind"])
    db["suggestions"].create_index(["topic_key"])
    db["suggestion_items"].create({"suggestion_id": int, "item_id": int}, pk=("suggestion_id", "item_id"))
    db["suggestion_items"].create_index(["item_id"])


@migration
def _accounts_schema(db: sqlite_utils.Database) -> None:
    """Users, failed sign-ins and the audit log (used by kb.accounts)."""
    db["users"].create(
        {
            "id": int,
            "email": str,
            "name": str,
            "role": str,
            "org": str,
            "password_hash": str,
            "disabled": int,
            "session_epoch": int,
            "feed_token": str,
            "created": str,
            "last_login": str,
        },
        pk="id",
        not_null={"email", "role", "password_hash"},
        defaults={"disabled": 0, "session_epoch": 0},
    )
    db["users"].create_index(["email"], unique=True)
    db["users"].create_index(["feed_token"], unique=True)
    db["login_failures"].create({"email": str, "at": float})
    db["login_failures"].create_index(["email", "at"])
    db["audit"].create({"id": int, "at": str, "actor": str, "action": str, "target": str, "detail": str}, pk="id")
    db["audit"].create_index(["at"])


@migration
def _snooze_schema(db: sqlite_utils.Database) -> None:
    """Snoozed suggestions for the staff triage queue (used by kb.triage)."""
    db["suggestion_snoozes"].create(
        {"suggestion_id": int, "until": str, "by": str, "at": str},
        pk="suggestion_id",
    )
    db["suggestion_snoozes"].create_index(["until"])


@migration
def _sessions_schema(db: sqlite_utils.Database) -> None:
    """Server-side sessions, and the client address of each failed sign-in (used by kb.accounts).

    A session row is keyed by the SHA-256 of its random token (the cookie holds the token);
    signing out deletes the row, so a copied cookie stops working.
    """
    db["sessions"].create(
        {"token_hash": str, "user_id": int, "epoch": int, "created": str},
        pk="token_hash",
        not_null={"user_id", "epoch"},
    )
    db["sessions"].create_index(["user_id"])
    db["login_failures"].add_column("address", str)
    db["login_failures"].create_index(["address", "at"])


@migration
def _cache_tables_out(db: sqlite_utils.Database) -> None:
    """The rows derived from entries/ move to their own file, cache.sqlite (see CACHE_MIGRATIONS)."""
    for table in CACHE_TABLES:
        db[table].drop(ignore=True)


@migration
def _digest_schema(db: sqlite_utils.Database) -> None:
    """Digest subscriptions, one row per user, and the digests claimed and sent (used by kb.digest).

    A `digests_sent` row is claimed before its message goes out and marked (`sent_at`) after:
    a claimed row, marked or not, is never sent again.
    """
    db["subscriptions"].create(
        {
            "user_id": int,
            "frequency": str,
            "everything": int,
            "sectors": str,
            "tags": str,
            "since": str,
            "updated": str,
        },
        pk="user_id",
        not_null={"frequency"},
        defaults={"everything": 0, "sectors": "[]", "tags": "[]"},
    )
    db["digests_sent"].create(
        {"user_id": int, "period": str, "claimed_at": str, "sent_at": str, "notes": int},
        pk=("user_id", "period"),
    )
    db["digests_sent"].create_index(["user_id", "claimed_at"])


@migration
def _visits_schema(db: sqlite_utils.Database) -> None:
    """When each signed-in user's visits began, at most one an hour (used by the home and note pages).

    `Store.record_visit` keeps a user's two newest rows: the visit going on and the one before it.
    """
    db["visits"].create({"user_id": int, "seen_at": str}, pk=("user_id", "seen_at"), not_null={"seen_at"})


@cache_migration
def _cache_schema(db: sqlite_utils.Database) -> None:
    """The entry tables of the state's first step, less `entry_versions` (state: first-seen dates)."""
    _entries_schema(db)
    db["entry_versions"].drop()


@cache_migration
def _entry_heads(db: sqlite_utils.Database) -> None:
    """Each entry's head (`kb.model.head`) and, beside the other columns that decide who may read
    it, its `share_with` (JSON): what the site needs of every note, so that it starts without
    reading every entry's whole text. Rows stored before this step get theirs here."""
    db["entries"].add_column("share_with", str)
    db["entries"].add_column("head", str)
    # What the catalogue asks after every change, read from this index alone: those columns come
    # after `data` in each row, so reading them from the table walks every entry's whole text.
    db["entries"].create_index(["slug", "version", "first_seen", "updated"], index_name="entries_stamps")
    fill_heads(db.conn)


def fill_heads(conn: sqlite3.Connection, schema: str = "main") -> None:
    """Give every entry row stored without a head (before `_entry_heads`, or copied by
    `kb.store.split` from an older file) its head and `share_with`, from its stored data."""
    rows = conn.execute(f"SELECT slug, data, path FROM {schema}.entries WHERE head IS NULL").fetchall()
    for slug, data, path in rows:
        entry = entry_from_dict(json.loads(data), Path(path))
        conn.execute(
            f"UPDATE {schema}.entries SET share_with = ?, head = ? WHERE slug = ?",
            [json.dumps(list(entry.share_with)), json.dumps(head_to_dict(entry)), slug],
        )
