"""Feed items: parse a fetched feed into clean items, deduplicate them, store and index them.

Everything in a feed is untrusted. Before feedparser sees a byte, a document that declares XML
entities (billion laughs, external entities) is refused; feedparser gets the bytes as a stream
(a string or bytes may be opened as a file path) and does no fetching of its own. Every piece
of HTML is sanitised with nh3, links are kept only when they are absolute http(s), and plain
text is derived for matching and search.

Deduplication: the key is a hash of the feed's stable id with the item's guid, else its link,
else its title and content. A feed whose guids repeat within one document (more than 5 %) is
keyed by link instead. An item seen again with different content updates its row. Deleted
items leave a tombstone so they are not imported again.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import html
import io
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import feedparser

from kb.clock import now
from kb.model.sanitize import clean_html, safe_url, to_text
from kb.store import Store

MAX_ITEMS = 1000  # items taken from one document
MAX_TITLE = 500
MAX_HTML = 200_000
MAX_TEXT = 20_000
BAD_GUID_SHARE = 0.05
NEW, INDEXED, REINDEX = 0, 1, 2  # feed_items.indexed: not yet, in the index, changed since
_ENTITY = re.compile(rb"<!ENTITY", re.IGNORECASE)
_ENTITY_TEXT = re.compile(r"<!ENTITY", re.IGNORECASE)


class FeedError(Exception):
    """The body is not a feed we will read (hostile or unparseable)."""


@dataclass
class Item:
    key: str
    guid: str | None
    link: str | None
    title: str
    author: str
    summary_html: str
    content_html: str
    text: str
    published: str | None
    content_hash: str


@dataclass
class ParsedFeed:
    title: str
    version: str
    items: list[Item] = field(default_factory=list)
    bozo: str | None = None  # feedparser's complaint, when it recovered anyway
    keyed_by: str = "guid"


def refuse_hostile(body: bytes) -> None:
    """Raise FeedError for documents that declare entities (entity expansion, XXE)."""
    if _ENTITY.search(body):
        raise FeedError(
            "the feed declares XML entities (<!ENTITY>): refused, as an entity-expansion or external-entity attack"
        )
    head = body[:4]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or (len(head) == 4 and (head[1] == 0 or head[0] == 0)):
        for encoding in ("utf-16", "utf-16-le", "utf-16-be", "utf-32"):
            try:
                text = body.decode(encoding)
            except UnicodeDecodeError:
                continue
            if _ENTITY_TEXT.search(text):
                raise FeedError("the feed declares XML entities (<!ENTITY>): refused")


def _iso(parsed: Any) -> str | None:
    if not parsed:
        return None
    try:
        stamp = calendar.timegm(parsed)
        return dt.datetime.fromtimestamp(stamp, dt.UTC).isoformat(timespec="seconds")
    except (TypeError, ValueError, OverflowError):
        return None


def _html_of(detail: Any, value: str, base: str | None) -> str:
    value = value[:MAX_HTML]
    kind = (detail or {}).get("type", "text/html") if isinstance(detail, dict) else "text/html"
    if kind == "text/plain":
        value = html.escape(value).replace("\n", "<br>")
    return clean_html(value, base_url=base)


def _digest(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8", "replace"))
        h.update(b"\x00")
    return h.hexdigest()


def parse(body: bytes, feed_id: int, url: str, content_type: str | None = None) -> ParsedFeed:
    """Parse a fetched body into clean items (raises FeedError when it is not a usable feed)."""
    refuse_hostile(body)
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    d = feedparser.parse(io.BytesIO(body), response_headers=headers, sanitize_html=False, resolve_relative_uris=False)
    entries = d.get("entries", [])[:MAX_ITEMS]
    feed_meta = d.get("feed", {})
    if not entries and not feed_meta.get("title") and not d.get("version"):
        why = d.get("bozo_exception")
        raise FeedError(f"not an RSS or Atom feed{f': {why}' if why else ''}")
    guids = [e.get("id") or "" for e in entries]
    counts = Counter(g for g in guids if g)
    repeated = sum(n for n in counts.values() if n > 1)
    use_guid = not entries or repeated / len(entries) <= BAD_GUID_SHARE
    parsed = ParsedFeed(
        title=to_text(str(feed_meta.get("title", "")))[:MAX_TITLE],
        version=d.get("version") or "",
        bozo=str(d.get("bozo_exception")) if d.get("bozo") else None,
        keyed_by="guid" if use_guid else "link",
    )
    seen: set[str] = set()
    for e in entries:
        item = _item(e, feed_id, url, use_guid)
        if item and item.key not in seen:
            seen.add(item.key)
            parsed.items.append(item)
    return parsed


def _item(e: Any, feed_id: int, url: str, use_guid: bool) -> Item | None:
    link = safe_url(e.get("link"))
    base = link or url
    title = to_text(str(e.get("title", "")))[:MAX_TITLE]  # tags removed even from "plain" titles
    summary = _html_of(e.get("summary_detail"), str(e.get("summary", "")), base)
    contents = [c for c in e.get("content", []) if isinstance(c, dict) and c.get("value")]
    content = "".join(_html_of(c, str(c.get("value", "")), base) for c in contents[:3])
    if content == summary:
        content = ""
    text = to_text(" ".join(p for p in (summary, content) if p))[:MAX_TEXT]
    if not (title or text or link):
        return None
    guid = str(e.get("id") or "").strip()[:2000] or None
    content_hash = _digest(title, summary, content)
    if use_guid and guid:
        key = _digest(str(feed_id), "guid", guid)
    elif link:
        key = _digest(str(feed_id), "link", link)
    else:
        key = _digest(str(feed_id), "hash", title, text)
    return Item(
        key=key,
        guid=guid,
        link=link,
        title=title or (text[:80] + "…" if len(text) > 80 else text),
        author=to_text(str(e.get("author", "")))[:200],
        summary_html=summary,
        content_html=content,
        text=text,
        published=_iso(dict.get(e, "published_parsed") or dict.get(e, "updated_parsed")),
        content_hash=content_hash,
    )


# -- storing ---------------------------------------------------------------------------------


@dataclass
class Stored:
    new: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    unchanged: int = 0
    tombstoned: int = 0


def store_items(store: Store, feed_id: int, feed_url: str, items: list[Item]) -> Stored:
    """Insert new items, update changed ones, skip tombstoned ones. Call inside a transaction."""
    out = Stored()
    if not items:
        return out
    db = store.db
    keys = [i.key for i in items]
    existing: dict[str, tuple[int, str]] = {}
    dead: set[str] = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for row in db.execute(f"SELECT key, id, content_hash FROM feed_items WHERE key IN ({marks})", chunk):
            existing[row[0]] = (row[1], row[2])
        dead.update(r[0] for r in db.execute(f"SELECT key FROM item_tombstones WHERE key IN ({marks})", chunk))
    stamp = now()
    rows = []
    for item in items:
        if item.key in dead:
            out.tombstoned += 1
            continue
        row = {
            "feed_id": feed_id,
            "feed_url": feed_url,
            "key": item.key,
            "guid": item.guid,
            "link": item.link,
            "title": item.title,
            "author": item.author,
            "summary_html": item.summary_html,
            "content_html": item.content_html,
            "text": item.text,
            "published": item.published,
            "content_hash": item.content_hash,
        }
        if item.key in existing:
            item_id, old_hash = existing[item.key]
            if old_hash == item.content_hash:
                out.unchanged += 1
                db.execute("UPDATE feed_items SET last_seen = ? WHERE id = ?", [stamp, item_id])
                continue
            db["feed_items"].update(item_id, {**row, "last_seen": stamp, "updated_at": stamp, "indexed": REINDEX})
            out.updated.append(item_id)
        else:
            rows.append(
                {
                    **row,
                    "first_seen": stamp,
                    "last_seen": stamp,
                    "updated_at": stamp,
                    "indexed": 0,
                    "decision": "",
                    "decision_reason": "",
                }
            )
    if rows:
        cursor = db.execute("SELECT coalesce(max(id), 0) FROM feed_items")
        before = cursor.fetchone()[0]
        db["feed_items"].insert_all(rows, batch_size=200)
        out.new = [r[0] for r in db.execute("SELECT id FROM feed_items WHERE id > ? ORDER BY id", [before])]
    return out


def delete_items(store: Store, item_ids: Iterable[int], reason: str = "deleted") -> list[str]:
    """Delete items, leaving tombstones so the next poll does not bring them back. Returns the
    index ids to remove from the search index."""
    ids = list(item_ids)
    stamp = now()
    gone = []
    with store.db.atomic():
        for item_id in ids:
            row = store.db.execute("SELECT key, feed_id FROM feed_items WHERE id = ?", [item_id]).fetchone()
            if not row:
                continue
            store.db["item_tombstones"].upsert(
                {"key": row[0], "feed_id": row[1], "reason": reason, "at": stamp}, pk="key"
            )
            store.db.execute("DELETE FROM suggestion_items WHERE item_id = ?", [item_id])
            store.db.execute("DELETE FROM feed_items WHERE id = ?", [item_id])
            gone.append(f"item:{item_id}")
    return gone


def get(store: Store, item_id: int) -> dict[str, Any] | None:
    rows = list(store.db["feed_items"].rows_where("id = ?", [item_id]))
    return rows[0] if rows else None


# -- indexing --------------------------------------------------------------------------------


def document(row: dict[str, Any], tags: Iterable[str] = ()) -> dict[str, Any]:
    """The search-index document for one item (kind="item"); plain text only."""
    published = row.get("published") or row.get("first_seen")
    when = None
    if published:
        try:
            when = dt.datetime.fromisoformat(published).astimezone(dt.UTC).replace(tzinfo=None)
        except ValueError:
            when = None
    doc = {
        "id": f"item:{row['id']}",
        "kind": "item",
        "slug": "",
        "title": row["title"] or "",
        "summary": "",  # not indexed: the body holds the same words (half the indexing work)
        "_stored_summary": row["text"][:600],  # but shown in results
        "body": row["text"],
        "tag": ",".join(tags),
        "feed": str(row["feed_id"]),
        "link": row.get("link") or "",
    }
    if when is not None:
        doc["published"] = when
    return doc


def pending_documents(
    store: Store, tags_by_feed: dict[int, tuple[str, ...]] | None = None, ids: Iterable[int] | None = None
) -> Iterator[dict[str, Any]]:
    """Documents for items not in the index as they are now (new ones, changed ones, all of them
    after an index rebuild), or for the items `ids`."""
    tags_by_feed = tags_by_feed or {}
    columns = "id, feed_id, title, text, link, published, first_seen"
    if ids is None:
        rows: Iterable[dict[str, Any]] = store.db.query(
            f"SELECT {columns} FROM feed_items WHERE indexed IN (0, 2) ORDER BY id"
        )
    else:
        wanted = list(ids)
        rows = (
            row
            for start in range(0, len(wanted), 500)
            for row in store.db.query(
                f"SELECT {columns} FROM feed_items WHERE id IN ({','.join('?' * len(wanted[start : start + 500]))})",
                wanted[start : start + 500],
            )
        )
    for row in rows:
        yield document(row, tags_by_feed.get(row["feed_id"], ()))


def mark_indexed(store: Store, item_ids: Iterable[int]) -> None:
    ids = list(item_ids)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        store.db.execute(f"UPDATE feed_items SET indexed = 1 WHERE id IN ({','.join('?' * len(chunk))})", chunk)


def index_pending(
    store: Store,
    writer: Any,
    fresh: bool = False,
    tags_by_feed: dict[int, tuple[str, ...]] | None = None,
    ids: Iterable[int] | None = None,
) -> list[int]:
    """Write the items not in the index as they are now (or the items `ids`) through `writer`
    (kb.search's). Returns their ids, for `mark_indexed` once the writer has committed.

    Documents replace older copies by id (except in a fresh index), so writing one twice, after
    a crash between the index commit and `mark_indexed`, does no harm."""
    done = []
    for doc in pending_documents(store, tags_by_feed, ids):
        (writer.add if fresh else writer.put)(**doc)
        done.append(int(doc["id"].split(":", 1)[1]))
    return done


def feed_tags(store: Store, feeds: Iterable[Any]) -> dict[int, tuple[str, ...]]:
    """Feed id -> the feed's tags from the feed list (for the index's tag field)."""
    by_url = {f.url: tuple(f.tags) for f in feeds}
    return {row[0]: by_url.get(row[1], ()) for row in store.db.execute("SELECT id, url FROM feed_state")}
