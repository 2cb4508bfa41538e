"""The staff triage queue: open suggestions, newest first, less the ones snoozed until later.

Accepting and dismissing belong to `kb.suggest`; snoozing lives here, in its own table
(`suggestion_snoozes`, a store migration), so a snoozed suggestion stays open and comes back
to the queue by itself on the day it was snoozed until.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from kb import suggest
from kb.errors import KbError
from kb.sanitize import safe_url
from kb.store import now
from kb.workspace import Workspace

MAX_SNOOZE_DAYS = 366


def schema(db: sqlite_utils.Database) -> None:
    """The snooze table (a store migration)."""
    db["suggestion_snoozes"].create(
        {"suggestion_id": int, "until": str, "by": str, "at": str}, pk="suggestion_id",
    )
    db["suggestion_snoozes"].create_index(["until"])


@dataclass
class Queue:
    suggestions: list[dict[str, Any]] = field(default_factory=list)
    snoozed: int = 0  # open suggestions hidden until a later day
    total_open: int = 0


def snoozed_until(ws: Workspace, today: dt.date) -> dict[int, str]:
    rows = ws.store.db.execute("SELECT suggestion_id, until FROM suggestion_snoozes WHERE until > ?",
                               [today.isoformat()])
    return {row[0]: row[1] for row in rows}


def queue(ws: Workspace, today: dt.date | None = None, limit: int = 30) -> Queue:
    """Open suggestions that are not snoozed past `today`, each with its reasons and items."""
    today = today or dt.date.today()
    hidden = snoozed_until(ws, today)
    open_rows = suggest.listing(ws, "open")
    shown = [row for row in open_rows if row["id"] not in hidden]
    out = Queue(snoozed=len(open_rows) - len(shown), total_open=len(open_rows))
    for row in shown[:limit]:
        full = suggest.get(ws, row["id"])
        for item in full["items"]:
            item["link"] = safe_url(item.get("link"))  # feed links are untrusted: http(s) only
        out.suggestions.append(full)
    return out


def snooze(ws: Workspace, sid: int, until: dt.date, by: str, today: dt.date | None = None) -> None:
    """Hide an open suggestion from the queue until `until` (a later day)."""
    today = today or dt.date.today()
    if until <= today:
        raise KbError("the snooze date must be in the future")
    if until > today + dt.timedelta(days=MAX_SNOOZE_DAYS):
        raise KbError("the snooze date must be within a year; dismiss the suggestion instead")
    s = suggest.get(ws, sid)
    if s["status"] != "open":
        raise KbError(f"suggestion {sid} is {s['status']} already")
    ws.store.db["suggestion_snoozes"].upsert(
        {"suggestion_id": sid, "until": until.isoformat(), "by": by, "at": now()}, pk="suggestion_id")


def parse_day(text: str) -> dt.date:
    """A date typed into a form: YYYY-MM-DD."""
    try:
        return dt.date.fromisoformat((text or "").strip())
    except ValueError:
        raise KbError("enter the date as YYYY-MM-DD, for example 2026-07-01") from None
