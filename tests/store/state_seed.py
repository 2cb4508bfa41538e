"""State to lose: an account, audit rows, a feed with items, a triage decision and a snooze."""

from __future__ import annotations

from typing import Any

from kb.accounts import Accounts
from kb.workspace import Workspace

STATE_QUERIES = {
    "users": "SELECT email, role, password_hash FROM users ORDER BY id",
    "audit": "SELECT id, at, actor, action, target FROM audit ORDER BY id",
    "feed_state": "SELECT id, url, etag FROM feed_state ORDER BY id",
    "feed_items": "SELECT id, key, title, first_seen, decision FROM feed_items ORDER BY id",
    "suggestions": "SELECT id, status, decided_by, note FROM suggestions ORDER BY id",
    "suggestion_items": "SELECT suggestion_id, item_id FROM suggestion_items ORDER BY 1, 2",
    "suggestion_snoozes": "SELECT suggestion_id, until FROM suggestion_snoozes ORDER BY 1",
    "entry_versions": "SELECT slug, version, seen_at FROM entry_versions ORDER BY 1, 2",
}


def seed_state(ws: Workspace) -> None:
    """Rows nothing else can recreate, as the site, the poller and triage would write them."""
    accounts = Accounts(ws.store, ws.cfg.accounts)
    accounts.add("ada@example.org", "correct horse battery staple", "admin")
    accounts.log("ada@example.org", "entry.publish", "printed-guns", {"fields": ["status"]})
    db = ws.store.db
    db.execute("INSERT INTO feed_state (id, url, etag, failures) VALUES (1, 'https://news.example/feed', 'W/\"1\"', 0)")
    for n, (title, seen) in enumerate(
        [
            ("Quadcopter drops parcel over prison wall", "2026-01-02T09:00:00+00:00"),
            ("Zanzibar relay theft", "2026-01-03T10:00:00+00:00"),
        ],
        start=1,
    ):
        db.execute(
            "INSERT INTO feed_items (id, feed_id, feed_url, key, title, text, link, published, first_seen, last_seen, indexed, decision) "
            "VALUES (?, 1, 'https://news.example/feed', ?, ?, ?, ?, ?, ?, ?, 1, 'dismissed')",
            [n, f"guid:{n}", title, title, f"https://news.example/{n}", seen, seen, seen],
        )
    db.execute(
        "INSERT INTO suggestions (id, kind, status, entry_slug, title, decided_at, decided_by, note) "
        "VALUES (1, 'update', 'dismissed', 'prison-drones', 'Prison drones', '2026-01-04T00:00:00+00:00', 'ada', 'not our remit')"
    )
    db.execute("INSERT INTO suggestion_items (suggestion_id, item_id) VALUES (1, 1)")
    db.execute("INSERT INTO suggestions (id, kind, status, title) VALUES (2, 'new-topic', 'open', 'Relay theft')")
    db.execute("INSERT INTO suggestion_items (suggestion_id, item_id) VALUES (2, 2)")
    db.execute(
        "INSERT INTO suggestion_snoozes (suggestion_id, until, by, at) VALUES (2, '2099-01-01', 'ada', '2026-01-04')"
    )


def state_rows(ws: Workspace) -> dict[str, list[Any]]:
    return {table: [tuple(r) for r in ws.store.db.execute(sql)] for table, sql in STATE_QUERIES.items()}


def entry_dates(ws: Workspace) -> dict[str, tuple[str, str]]:
    return {r[0]: (r[1], r[2]) for r in ws.store.db.execute("SELECT slug, first_seen, updated FROM entries")}
