"""What the staff dashboard shows besides the triage queue: feed health (failing feeds first,
with a trend of items per day), entries overdue for review, and recent changes (the audit log
beside the versions the index recorded)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from kb.accounts import Accounts
from kb.feeds import state as feed_state
from kb.model.entry import Entry
from kb.model.head import Head
from kb.model.sanitize import safe_url
from kb.site import charts
from kb.workspace import Workspace

TREND_DAYS = 14


def _failing(row: dict[str, Any]) -> bool:
    return row["status"] in ("error", "gone") or bool(row.get("failures"))


def daily_counts(ws: Workspace, today: dt.date, days: int = TREND_DAYS) -> dict[str, list[int]]:
    """Items per day for each feed URL over the last `days` days (oldest first), by publication
    date (or first sight, when a feed gives no date or a date in the future)."""
    start = today - dt.timedelta(days=days - 1)
    out: dict[str, list[int]] = {}
    rows = ws.store.db.execute(
        "SELECT s.url, substr(min(coalesce(i.published, i.first_seen), i.first_seen), 1, 10) AS day, count(*) "
        "FROM feed_items i JOIN feed_state s ON s.id = i.feed_id "
        "WHERE min(coalesce(i.published, i.first_seen), i.first_seen) >= ? GROUP BY s.url, day",
        [start.isoformat()],
    )
    for url, day, count in rows:
        try:
            index = (dt.date.fromisoformat(day) - start).days
        except ValueError:
            continue
        if 0 <= index < days:
            out.setdefault(url, [0] * days)[index] += count
    return out


def feed_health(ws: Workspace, today: dt.date | None = None) -> list[dict[str, Any]]:
    """Every listed feed with its health and a trend chart; failing feeds first, then by title."""
    today = today or dt.date.today()
    rows = feed_state.health(ws)
    counts = daily_counts(ws, today)
    first = (today - dt.timedelta(days=TREND_DAYS - 1)).isoformat()
    for n, row in enumerate(rows):
        row["failing"] = _failing(row)
        row["trend"] = counts.get(row["url"], [0] * TREND_DAYS)
        row["trend_svg"] = charts.trend(
            row["trend"], first, today.isoformat(), id_prefix=f"trend-{n}", name=row["title"]
        )
        row["safe_url"] = safe_url(row["url"])
    rows.sort(key=lambda r: (not r["failing"], -(r["failures"] or 0), r["title"].lower()))
    return rows


def broken_files(ws: Workspace) -> list[dict[str, Any]]:
    """Entry files that do not validate now, with their problems, and whether the site keeps
    serving the note's last good version meanwhile."""
    live = ws.store.slugs()
    out = []
    for name, state in sorted(ws.store.file_states().items()):
        if state["ok"]:
            continue
        problems = [p for p in json.loads(state["problems"] or "[]") if ": warning: " not in p]
        out.append({"name": name, "slug": state["slug"], "problems": problems, "live": state["slug"] in live})
    return out


def overdue(
    entries: list[Entry] | list[Head], review_days: int, today: dt.date | None = None
) -> list[tuple[Entry | Head, dt.date]]:
    """Entries past their review date (archived ones left out), most overdue first."""
    today = today or dt.date.today()
    late = [
        (e, e.review_due(review_days)) for e in entries if e.status != "archived" and e.is_overdue(review_days, today)
    ]
    return sorted(late, key=lambda pair: pair[1])


def recent_changes(ws: Workspace, limit: int = 15) -> list[dict[str, Any]]:
    """The newest audit entries and recorded entry versions, newest first, one list."""
    out: list[dict[str, Any]] = []
    for row in audit_rows(Accounts(ws.store).audit(limit=limit * 2)):
        if row["action"] == "user.sign-in":
            continue
        out.append(
            {
                "at": row["at"],
                "who": row["actor"],
                "what": row["action"],
                "target": row["target"],
                "detail": row["detail_text"],
                "kind": "audit",
            }
        )
    titles = dict(ws.store.db.execute("SELECT slug, title FROM entries").fetchall())
    versions = ws.store.db.execute(
        "SELECT slug, seen_at, changes FROM entry_versions ORDER BY seen_at DESC LIMIT ?", [limit]
    )
    for slug, seen_at, changes in versions:
        try:
            said = json.loads(changes or "[]")
        except ValueError:
            said = []
        out.append(
            {
                "at": seen_at,
                "who": "",
                "what": "entry.version",
                "target": slug,
                "title": titles.get(slug),
                "detail": "; ".join(said[:3]),
                "kind": "version",
            }
        )
    out.sort(key=lambda r: r["at"] or "", reverse=True)
    return out[:limit]


def audit_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Audit rows with their detail in words ('summary' first, then any other fields)."""
    out = []
    for row in rows:
        try:
            detail = json.loads(row.get("detail") or "{}")
        except ValueError:
            detail = {"detail": row.get("detail")}
        words = [str(detail.pop("summary"))] if detail.get("summary") else []
        words += [f"{k}: {v}" for k, v in detail.items() if v not in (None, "", [])]
        out.append({**row, "detail_text": "; ".join(words)})
    return out
