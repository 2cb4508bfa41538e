"""Every table of the database, created by numbered steps that run once each, in order.

This is the only place a table is defined. A step is never edited once released: change the
schema by appending a step. `PRAGMA user_version` records how many steps a database has had.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils

Migration = Callable[[sqlite_utils.Database], None]
MIGRATIONS: list[Migration] = []


def migration(fn: Migration) -> Migration:
    """Register a schema step; steps run once each, in order, tracked by PRAGMA user_version."""
    MIGRATIONS.append(fn)
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
