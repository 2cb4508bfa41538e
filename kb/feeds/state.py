"""Each feed's poll state (one `feed_state` row): when it is due, why it is held back
(Retry-After, error backoff), the backoff rule, and its health for `kb feeds list` and the
staff pages. Every scheduled time has +-10 % jitter so that feeds drift apart.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from kb import clock
from kb.feeds import listfile as feedlist
from kb.feeds.listfile import Feed
from kb.store import Store
from kb.workspace import Workspace


def utcnow() -> dt.datetime:
    return clock.utcnow().replace(microsecond=0)


def iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None


def parse_iso(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        return None


def states(store: Store) -> dict[str, dict[str, Any]]:
    return {row["url"]: row for row in store.db["feed_state"].rows}


def ensure_state(store: Store, feed: Feed) -> dict[str, Any]:
    rows = list(store.db["feed_state"].rows_where("url = ?", [feed.url]))
    if rows:
        return rows[0]
    store.db["feed_state"].insert(
        {
            "url": feed.url,
            "title": feed.title,
            "status": "new",
            "failures": 0,
            "items_total": 0,
            "items_per_day": 0.0,
            "last_new": 0,
        }
    )
    return next(store.db["feed_state"].rows_where("url = ?", [feed.url]))


def held_reason(state: dict[str, Any] | None, moment: dt.datetime) -> str | None:
    """Why a feed must not be fetched yet (Retry-After or error backoff), or None."""
    if not state:
        return None
    until = parse_iso(state.get("held_until"))
    if until and until > moment:
        return "the server asked to retry later (Retry-After)"
    upcoming = parse_iso(state.get("next_poll"))
    if state.get("failures") and upcoming and upcoming > moment:
        return f"backing off after {state['failures']} failure{'s' * (state['failures'] != 1)}"
    return None


def is_due(state: dict[str, Any] | None, moment: dt.datetime) -> bool:
    upcoming = parse_iso((state or {}).get("next_poll"))
    return upcoming is None or upcoming <= moment


def _jitter(minutes: float) -> dt.timedelta:
    return dt.timedelta(minutes=minutes * random.uniform(0.9, 1.1))


def backoff_minutes(interval: int, failures: int, cap: int) -> float:
    """Exponential backoff: the feed's interval, doubled for each failure after the first, capped."""
    return float(min(cap, interval * 2 ** min(max(failures - 1, 0), 20)))


def health(ws: Workspace) -> list[dict[str, Any]]:
    """Each listed feed with its state, for `kb feeds list` and the web's feed-health page."""
    feeds, _ = feedlist.load(ws.cfg.feeds_file, ws.cfg.display(ws.cfg.feeds_file))
    known = states(ws.store)
    out = []
    for feed in feeds:
        state = known.get(feed.url, {})
        out.append(
            {
                **feed.to_dict(),
                "status": state.get("status") or "never polled",
                "last_success": state.get("last_success"),
                "last_error": state.get("last_error"),
                "last_error_at": state.get("last_error_at"),
                "failures": state.get("failures") or 0,
                "items_per_day": state.get("items_per_day") or 0.0,
                "items_total": state.get("items_total") or 0,
                "next_poll": state.get("next_poll"),
                "http_status": state.get("http_status"),
            }
        )
    return out
