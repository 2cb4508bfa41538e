"""Triage: staff decide on suggestions. The queue (open suggestions, newest first, less the
ones snoozed until later), accept, dismiss and snooze.

Accepting an update adds the item to the entry's `sources:`; accepting a new topic writes a
draft entry; both go through the write lock like every other write to `entries/`. A dismissal is
remembered with its items. A snoozed suggestion stays open and comes back to the queue by
itself on the day it was snoozed until.
"""

from __future__ import annotations

import datetime as dt
import getpass
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kb import suggest
from kb.clock import now
from kb.errors import KbError, NotFound
from kb.files.sources import add_source, create_draft
from kb.model.sanitize import safe_url
from kb.sync import update_index
from kb.workspace import Workspace

MAX_SNOOZE_DAYS = 366


@dataclass
class Queue:
    suggestions: list[dict[str, Any]] = field(default_factory=list)
    snoozed: int = 0  # open suggestions hidden until a later day
    total_open: int = 0


def snoozed_until(ws: Workspace, today: dt.date) -> dict[int, str]:
    rows = ws.store.db.execute(
        "SELECT suggestion_id, until FROM suggestion_snoozes WHERE until > ?", [today.isoformat()]
    )
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
        {"suggestion_id": sid, "until": until.isoformat(), "by": by, "at": now()}, pk="suggestion_id"
    )


def parse_day(text: str) -> dt.date:
    """A date typed into a form: YYYY-MM-DD."""
    try:
        return dt.date.fromisoformat((text or "").strip())
    except ValueError:
        raise KbError("enter the date as YYYY-MM-DD, for example 2026-07-01") from None


# -- decisions -----------------------------------------------------------------------------


def _who(by: str | None) -> str:
    if by:
        return by
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name on some systems
        return "unknown"


def _source_of(item: dict[str, Any]) -> dict[str, Any]:
    date = (item.get("published") or item.get("first_seen") or "")[:10]
    return {
        "title": item["title"] or item["link"] or "Feed item",
        "publisher": item.get("feed_title"),
        "url": item.get("link"),
        "date": date or None,
    }


@dataclass
class Accepted:
    message: str
    path: Path | None = None


def accept(ws: Workspace, sid: int, by: str | None = None) -> Accepted:
    """Accept: add the item to its entry's sources, or write a draft entry for a new topic."""
    s = suggest.get(ws, sid)
    if s["status"] != "open":
        raise KbError(f"suggestion {sid} is {s['status']} already")
    cfg = ws.cfg
    if s["kind"] == "update":
        row = ws.store.entry_row(s["entry_slug"])
        if row is None:
            raise NotFound(f"entry {s['entry_slug']!r} no longer exists; dismiss suggestion {sid} instead")
        path = cfg.entries_dir / row["path"]
        added = [add_source(path, _source_of(item), display=Path(cfg.display(path))) for item in s["items"]]
        message = (
            f"added {sum(added)} source{'s' * (sum(added) != 1)} to {cfg.display(path)}"
            if any(added)
            else f"{cfg.display(path)} lists that source already; nothing changed"
        )
    else:
        sources, seen = [], set()
        for item in s["items"]:
            if item.get("link") in seen:
                continue
            seen.add(item.get("link"))
            sources.append(_source_of(item))
        note = (
            f"Suggested from {len(s['items'])} feed items that mention "
            + ", ".join(f"'{k}'" for k in s["keywords"])
            + ". Check the sources below, then write the entry."
        )
        path = create_draft(cfg.entries_dir, s["title"], s["keywords"], sources[:15], note=note)
        message = f"created the draft {cfg.display(path)}; edit it, then run kb validate"
    ws.store.db["suggestions"].update(
        sid, {"status": "accepted", "decided_at": now(), "decided_by": _who(by), "result": cfg.display(path)}
    )
    update_index(ws)
    return Accepted(message, path)


def dismiss(ws: Workspace, sid: int, by: str | None = None, note: str | None = None) -> None:
    """Dismiss: remembered with its items, so the same suggestion never comes back."""
    s = suggest.get(ws, sid)
    if s["status"] != "open":
        raise KbError(f"suggestion {sid} is {s['status']} already")
    ws.store.db["suggestions"].update(
        sid, {"status": "dismissed", "decided_at": now(), "decided_by": _who(by), "note": note}
    )
