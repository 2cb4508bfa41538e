"""Fixtures for the staff workspace: a feed with items, and suggestions made from them, written
as rows matching the store's schema (as the poller and `kb.suggest` write them)."""

from __future__ import annotations

import datetime as dt
import json

from kb.clock import now
from kb.workspace import Workspace

FEED_URL = "https://news.example.test/feed.xml"


def add_feed_item(
    ws: Workspace, title: str, link: str, html: str = "<p>Item text.</p>", feed_url: str = FEED_URL, days_ago: int = 1
) -> int:
    db = ws.store.db
    row = db.execute("SELECT id FROM feed_state WHERE url = ?", [feed_url]).fetchone()
    if row:
        feed_id = row[0]
    else:
        table = db["feed_state"]
        table.insert(
            {
                "url": feed_url,
                "title": "Example news",
                "status": "ok",
                "failures": 0,
                "last_success": now(),
                "items_total": 0,
                "items_per_day": 0.5,
            }
        )
        feed_id = int(table.last_pk)
    stamp = (dt.datetime.now(dt.UTC) - dt.timedelta(days=days_ago)).isoformat(timespec="seconds")
    items = db["feed_items"]
    items.insert(
        {
            "feed_id": feed_id,
            "feed_url": feed_url,
            "key": f"link:{link}",
            "guid": link,
            "link": link,
            "title": title,
            "author": "",
            "summary_html": html,
            "content_html": "",
            "text": title,
            "published": stamp,
            "first_seen": stamp,
            "last_seen": stamp,
            "updated_at": stamp,
            "content_hash": link,
            "indexed": 1,
            "decision": "update",
            "decision_reason": "matches an entry",
        }
    )
    return int(items.last_pk)


def add_update_suggestion(ws: Workspace, slug: str, item_ids: list[int], title: str = "") -> int:
    db = ws.store.db
    stamp = now()
    table = db["suggestions"]
    table.insert(
        {
            "kind": "update",
            "status": "open",
            "entry_slug": slug,
            "topic_key": None,
            "title": title or slug,
            "keywords": json.dumps(["quadcopter"]),
            "reasons": json.dumps(
                ["mentions the watch term 'quadcopter'", "similarity 0.62 to the entry (threshold 0.35)"]
            ),
            "score": 0.62,
            "created": stamp,
            "updated": stamp,
        }
    )
    sid = int(table.last_pk)
    db["suggestion_items"].insert_all([{"suggestion_id": sid, "item_id": i} for i in item_ids])
    return sid
