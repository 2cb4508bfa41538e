"""Feed items: parse a fetched feed into clean items, deduplicate them, store and index them.

Everything in a feed is untrusted. The body is decoded here: a byte-order mark (UTF-8/16/32)
decides first, then UTF-16/32 zero bytes, the Content-Type charset, the XML declaration, UTF-8,
Windows-1252. A document whose prolog (before the root element) declares XML entities (billion
laughs, external entities) is refused; item text that quotes `<!ENTITY` is not. feedparser
gets exactly the checked text, as UTF-8 in a stream (a string or bytes may be opened as a file
path), and does no fetching of its own. All HTML is sanitised with nh3, links are kept only
when absolute http(s), and control characters (terminal escapes) are removed: all of them from
one-line fields (titles, authors), all but tab and newline from bodies. A date more than a day
ahead of the fetch is taken as the fetch time.

Deduplication: the key is a hash of the feed's stable id with the item's guid, else its link,
else the item itself (guid, link, title and text). A guid (or link) that items which differ
share within one document keys none of them: they fall back to the next, so distinct items stay
distinct and an unchanged item keeps its key from poll to poll. When more than 5 % of the items
are in such clashes, the feed is not keyed by guids at all (likewise links). An item seen again
with different content updates its row (when keyed by the item itself, an edited item is a new
one). Deleted items leave a tombstone so they are not imported again.
"""

from __future__ import annotations

import calendar
import codecs
import datetime as dt
import hashlib
import html
import io
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import feedparser

from kb.clock import now, utcnow
from kb.model.sanitize import clean_html, safe_url, to_text
from kb.store import Store
from kb.store.transactions import writing

MAX_ITEMS = 1000  # items taken from one document
MAX_TITLE = 500
MAX_HTML = 200_000
MAX_TEXT = 20_000
BAD_GUID_SHARE = 0.05  # share of items whose guid (or link) is shared with a different item
FUTURE_SLACK = dt.timedelta(days=1)  # clock skew allowed to a feed's dates
NEW, INDEXED, REINDEX = 0, 1, 2  # feed_items.indexed: not yet, in the index, changed since
_ENTITY = re.compile(r"<!ENTITY", re.IGNORECASE)
_BIDI = "\u202a-\u202e\u2066-\u2069"  # embeddings, overrides, isolates: `fdp.exe` shown as `exe.pdf`
_CONTROLS = re.compile(f"[\\x00-\\x1f\\x7f-\\x9f{_BIDI}]")  # C0, DEL, C1 (ESC, CSI, BEL and the rest), bidi
_BODY_CONTROLS = re.compile(f"[\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f{_BIDI}]")  # the same but tab and newline
_BOMS = (  # UTF-32 LE before UTF-16 LE: its mark starts with UTF-16 LE's
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# with no mark, which of the first four bytes are zero tells '<' or '<?' in UTF-16/32
_WIDE = {(0, 1, 1, 1): "utf-32-le", (1, 1, 1, 0): "utf-32-be", (0, 1, 0, 1): "utf-16-le", (1, 0, 1, 0): "utf-16-be"}
_CHARSET = re.compile(r"""charset\s*=\s*["']?([\w.:-]{1,40})""", re.IGNORECASE)
_DECLARED = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([\w.:-]{1,40})["']""")
_DECLARATION = re.compile(r"^\s*<\?xml[^>]*?\?>")
_PROLOG_PART = re.compile(r"<\?|<!--|<!DOCTYPE|<[^\W\d]", re.IGNORECASE)  # last: a start tag
_IN_DOCTYPE, _IN_SUBSET = re.compile(r"""["'\[>]"""), re.compile(r"""["'\]]|<!--|<\?""")
_CLOSE = re.compile(r"\s*>")


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
    keyed_by: str = "guid"  # or "link", or "content" (title and text) when links repeat too


# -- decoding and the entity check -----------------------------------------------------------


def decode(body: bytes, content_type: str | None = None) -> tuple[str, str | None]:
    """The document as text, and a note when the encoding it declared did not decode it."""
    for bom, encoding in _BOMS:  # a byte-order mark outranks any declaration
        if body.startswith(bom):
            return body[len(bom) :].decode(encoding, "replace"), None
    if sniffed := _WIDE.get(tuple(b == 0 for b in body[:4])):
        return body.decode(sniffed, "replace"), None
    declared = [m.group(1) for m in [_CHARSET.search(content_type or "")] if m]  # the header outranks the document
    declared += [m.group(1).decode("ascii") for m in [_DECLARED.match(body)] if m]
    tried = [_ascii_compatible(name) for name in declared]
    for encoding in [e for e in tried if e] + ["utf-8", "windows-1252"]:
        try:
            text = body.decode(encoding)
        except (UnicodeError, LookupError):  # LookupError: a codec that is no text encoding (base64)
            continue
        wrong = declared and encoding != tried[0]
        return text, f"document declared as {declared[0]}, but parsed as {encoding}" if wrong else None
    return body.decode("latin-1"), f"document declared as {declared[0] if declared else 'utf-8'}, but parsed as latin-1"


def _ascii_compatible(name: str) -> str | None:
    """The codec for a declared encoding, unless unknown or one of UTF-16/32 (the bytes say not)."""
    try:
        codec = codecs.lookup("gb18030" if name.lower() == "gb2312" else name).name
    except LookupError:
        return None
    return None if codec.startswith(("utf-16", "utf-32")) else codec


def prolog(text: str) -> str:
    """The document before its root element: the XML declaration, comments, processing
    instructions and the DOCTYPE with its internal subset (the one place entities are declared).
    Stray text before the root counts as prolog too; unterminated constructs run to the end."""
    pos = 0
    while match := _PROLOG_PART.search(text, pos):
        token = match.group()
        if token == "<?":
            pos = _after(text, "?>", match.end())
        elif token == "<!--":
            pos = _after(text, "-->", match.end())
        elif token.upper() == "<!DOCTYPE":
            pos = _doctype_end(text, match.end())
        else:  # the root element's start tag
            return text[: match.start()]
        if pos < 0:
            return text
    return text


def _after(text: str, marker: str, start: int) -> int:
    end = text.find(marker, start)
    return end + len(marker) if end >= 0 else -1


def _doctype_end(text: str, pos: int) -> int:
    """Where a DOCTYPE ends: the '>' after its quoted ids and its [internal subset] (whose quoted
    literals, comments and PIs are skipped). -1 when it does not end cleanly: then all is prolog."""
    subset = False
    while match := (_IN_SUBSET if subset else _IN_DOCTYPE).search(text, pos):
        token = match.group()
        if token in ("'", '"', "<!--", "<?"):
            pos = _after(text, {"<!--": "-->", "<?": "?>"}.get(token, token), match.end())
        elif token == "[":
            subset, pos = True, match.end()
        elif token == "]":
            closed = _CLOSE.match(text, match.end())
            return closed.end() if closed else -1
        else:
            return match.end()
        if pos < 0:
            return -1
    return -1


def refuse_hostile(text: str) -> None:
    """Raise FeedError when the document's prolog declares entities (entity expansion, XXE).
    Item text that quotes `<!ENTITY` (escaped, or in CDATA) is after the root and is fine."""
    first = _ENTITY.search(text)
    if first and len(prolog(text[: first.start()])) == first.start():  # no root element before it
        raise FeedError(
            "the feed declares XML entities (<!ENTITY> in its DOCTYPE): refused, as an entity-expansion or "
            "external-entity attack"
        )


# -- parsing ---------------------------------------------------------------------------------


def _iso(parsed: Any) -> str | None:
    if not parsed:
        return None
    try:
        stamp = calendar.timegm(parsed)
        return dt.datetime.fromtimestamp(stamp, dt.UTC).isoformat(timespec="seconds")
    except (TypeError, ValueError, OverflowError):
        return None


def not_future(published: str | None, moment: dt.datetime) -> str | None:
    """`published`, or `moment` (the fetch) when it is more than a day after it: an item dated
    9999 would otherwise sort first for ever."""
    if not published:
        return None
    try:
        when = dt.datetime.fromisoformat(published)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return moment.isoformat(timespec="seconds") if when > moment + FUTURE_SLACK else published


def _line(value: Any, limit: int) -> str:
    """One-line text: tags removed, spaces folded, and no control characters at all."""
    return " ".join(_CONTROLS.sub("", to_text(str(value))).split())[:limit]


def _html_of(detail: Any, value: str, base: str | None) -> str:
    value = value[:MAX_HTML]
    kind = (detail or {}).get("type", "text/html") if isinstance(detail, dict) else "text/html"
    if kind == "text/plain":
        value = html.escape(value).replace("\n", "<br>")
    return _BODY_CONTROLS.sub("", clean_html(value, base_url=base))


def _digest(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8", "replace"))
        h.update(b"\x00")
    return h.hexdigest()


def parse(body: bytes, feed_id: int, url: str, content_type: str | None = None) -> ParsedFeed:
    """Parse a fetched body into clean items (raises FeedError when it is not a usable feed)."""
    text, note = decode(body, content_type)
    refuse_hostile(text)
    text = _DECLARATION.sub('<?xml version="1.0" encoding="utf-8"?>', text, count=1)
    media = (content_type or "").split(";")[0].strip() or "application/xml"
    headers = {"content-location": url, "content-type": f"{media}; charset=utf-8"}
    data = text.encode("utf-8", "replace")
    d = feedparser.parse(io.BytesIO(data), response_headers=headers, sanitize_html=False, resolve_relative_uris=False)
    entries = d.get("entries", [])[:MAX_ITEMS]
    feed_meta = d.get("feed", {})
    if not entries and not feed_meta.get("title") and not d.get("version"):
        why = d.get("bozo_exception")
        raise FeedError(f"not an RSS or Atom feed{f': {why}' if why else ''}")
    moment = utcnow()
    found = [item for item in (_item(e, feed_id, url, moment) for e in entries) if item]
    parsed = ParsedFeed(
        title=_line(feed_meta.get("title", ""), MAX_TITLE),
        version=d.get("version") or "",
        bozo=note or (str(d.get("bozo_exception")) if d.get("bozo") else None),
        keyed_by=_assign_keys(found, feed_id),
    )
    seen: set[str] = set()
    for item in found:
        if item.key not in seen:  # the same item twice in one document
            seen.add(item.key)
            parsed.items.append(item)
    return parsed


def _assign_keys(found: list[Item], feed_id: int) -> str:
    """Key each item by guid, else link, else a hash of all of it (the key it came with). A guid
    or link shared by items that differ keys none of them; when more than BAD_GUID_SHARE of the
    items are in such clashes, that kind of id is not used for the feed at all. Returns the kind
    of id the feed is keyed by."""
    usable: dict[str, set[str] | None] = {}  # kind -> the clashing values; None: not used at all
    for kind in ("guid", "link"):
        looks: dict[str, set[str]] = defaultdict(set)
        for item in found:
            if value := getattr(item, kind):
                looks[value].add(item.key)  # still the hash of the whole item: how it looks
        clashing = {value for value, seen in looks.items() if len(seen) > 1}
        share = sum(getattr(item, kind) in clashing for item in found) / max(1, len(found))
        usable[kind] = clashing if share <= BAD_GUID_SHARE else None
    for item in found:
        for kind, clashing in usable.items():
            value = getattr(item, kind)
            if clashing is not None and value and value not in clashing:
                item.key = _digest(str(feed_id), kind, value)
                break
    return next((kind for kind, clashing in usable.items() if clashing is not None), "content")


def _item(e: Any, feed_id: int, url: str, moment: dt.datetime) -> Item | None:
    link = safe_url(e.get("link"))
    if link and _CONTROLS.search(link):
        link = None
    base = link or url
    title = _line(e.get("title", ""), MAX_TITLE)  # tags removed even from "plain" titles
    summary = _html_of(e.get("summary_detail"), str(e.get("summary", "")), base)
    contents = [c for c in e.get("content", []) if isinstance(c, dict) and c.get("value")]
    content = "".join(_html_of(c, str(c.get("value", "")), base) for c in contents[:3])
    if content == summary:
        content = ""
    text = _BODY_CONTROLS.sub("", to_text(" ".join(p for p in (summary, content) if p)))[:MAX_TEXT]
    if not (title or text or link):
        return None
    guid = _CONTROLS.sub("", str(e.get("id") or "")).strip()[:2000] or None
    ids = (guid or "", link or "") if guid or link else ()  # no ids: the key older versions gave
    return Item(
        key=_digest(str(feed_id), "item" if ids else "hash", *ids, title, text),  # _assign_keys may use an id
        guid=guid,
        link=link,
        title=title or (text[:80] + "…" if len(text) > 80 else text),
        author=_line(e.get("author", ""), 200),
        summary_html=summary,
        content_html=content,
        text=text,
        published=not_future(_iso(dict.get(e, "published_parsed") or dict.get(e, "updated_parsed")), moment),
        content_hash=_digest(title, summary, content),
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
    moment = utcnow()
    stamp = moment.isoformat(timespec="seconds")
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
            "published": not_future(item.published, moment),  # parsed in another process, maybe another clock
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
    with writing(store.db):
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
