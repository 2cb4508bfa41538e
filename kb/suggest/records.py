"""The suggestions table, read and written: a report of one run, listing, one suggestion with
its items, and the rows the matchers insert.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from kb.errors import NotFound
from kb.feeds import listfile as feedlist
from kb.workspace import Workspace


@dataclass
class SuggestReport:
    updates: list[int] = field(default_factory=list)  # new update suggestions
    topics: list[int] = field(default_factory=list)  # new new-topic suggestions
    extended: list[int] = field(default_factory=list)  # open topic suggestions given more items
    nothing: int = 0  # items that matched nothing


def _insert(
    ws: Workspace,
    *,
    kind: str,
    entry_slug: str | None,
    topic_key: str | None,
    title: str,
    keywords: list[str],
    reasons: list[str],
    score: float,
    item_ids: list[int],
    stamp: str,
) -> int:
    db = ws.store.db
    table = db["suggestions"]
    table.insert(
        {
            "kind": kind,
            "status": "open",
            "entry_slug": entry_slug,
            "topic_key": topic_key,
            "title": title,
            "keywords": json.dumps(keywords),
            "reasons": json.dumps(reasons),
            "score": round(score, 3),
            "created": stamp,
            "updated": stamp,
        }
    )
    sid = int(table.last_pk)
    db["suggestion_items"].insert_all(({"suggestion_id": sid, "item_id": i} for i in item_ids), ignore=True)
    return sid


def _feed_titles(ws: Workspace) -> dict[str, str]:
    feeds, _ = feedlist.load(ws.cfg.feeds_file, ws.cfg.display(ws.cfg.feeds_file))
    titles = {row[0]: row[1] for row in ws.store.db.execute("SELECT url, title FROM feed_state") if row[1]}
    titles.update({f.url: f.title for f in feeds})
    return titles


def listing(
    ws: Workspace, status: str | None = "open", kind: str | None = None, limit: int | None = None
) -> list[dict[str, Any]]:
    where, params = [], []
    if status:
        where.append("status = ?")
        params.append(status)
    if kind:
        where.append("kind = ?")
        params.append(kind)
    sql = (
        "SELECT s.*, (SELECT count(*) FROM suggestion_items si WHERE si.suggestion_id = s.id) AS item_count "
        f"FROM suggestions s {'WHERE ' + ' AND '.join(where) if where else ''} ORDER BY s.id DESC"
    )
    if limit:
        sql += f" LIMIT {int(limit)}"
    return [_decode(row) for row in ws.store.db.query(sql, params)]


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    row = dict(row)
    row["keywords"] = json.loads(row.get("keywords") or "[]")
    row["reasons"] = json.loads(row.get("reasons") or "[]")
    return row


def get(ws: Workspace, sid: int) -> dict[str, Any]:
    rows = list(ws.store.db["suggestions"].rows_where("id = ?", [sid]))
    if not rows:
        raise NotFound(f"no suggestion {sid}; see kb suggestions list")
    out = _decode(rows[0])
    titles = _feed_titles(ws)
    out["items"] = [
        {**row, "feed_title": titles.get(row["feed_url"], row["feed_url"])}
        for row in ws.store.db.query(
            "SELECT i.id, i.title, i.link, i.feed_url, i.published, i.first_seen, substr(i.text, 1, 300) AS excerpt "
            "FROM suggestion_items si JOIN feed_items i ON i.id = si.item_id WHERE si.suggestion_id = ? "
            "ORDER BY coalesce(i.published, i.first_seen) DESC",
            [sid],
        )
    ]
    return out


def undecided(ws: Workspace, limit: int = 20_000) -> list[int]:
    """Items stored and indexed that no run has decided on yet: those of a poll that was killed,
    or stored while suggestions were off. Each run takes them up, so every item gets a decision."""
    rows = ws.store.db.execute(
        "SELECT id FROM feed_items WHERE coalesce(decision, '') = '' AND indexed = 1 ORDER BY id LIMIT ?", [limit]
    )
    return [row[0] for row in rows]
