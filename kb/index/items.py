"""The feed items' index: SQLite FTS5 in `var/items-index/items.sqlite`, apart from the entries'
Whoosh index, so a poll never throws away the entry search's searcher and caches.

Items are many, short, plain text and written by every poll: this index writes one in ~0.2 ms,
where Whoosh took ~1 ms. Each item is stored as its terms (`kb.index.terms`: the words the
entries' analyser makes, stemmed), so a query read by `kb.index.query` (phrases, fields, NOT,
prefixes, spellings, synonyms) finds the same words in items as in entries, and the similarity
of items to entries (`kb.index.similar`) counts the same terms on both sides.

The file is a cache of `state.sqlite`'s `feed_items`, made again by `kb index --rebuild` (built
beside the live folder, then swapped in; an open `ItemIndex` notices the swap). Writes are SQLite
transactions, so a kill -9 at any line leaves the index as it was before or after one; a writer
waits at most `WRITE_WAIT` seconds for another process's, then raises `Busy`.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from whoosh import query as wq

from kb.errors import Busy, KbError, QueryError
from kb.index.language import closest, surface
from kb.index.matching import CANDIDATES, PREFIX
from kb.index.query import Parsed, Reader, Word
from kb.index.search import ALIASES, FEW, SCHEMA, SEARCHABLE, TEXT_FIELDS, WRITE_WAIT, Audience, Hit, Results
from kb.index.snippets import snippet
from kb.index.terms import originals, terms

FILE = "items.sqlite"
LAYOUT = 1  # PRAGMA user_version of the file; another value means it is rebuilt
SUMMARY = 600  # characters of an item's text kept to show in results
_TOKENIZER = "unicode61 remove_diacritics 0 tokenchars '._*'"  # terms are split only where Whoosh splits them
_SETUP = f"""
CREATE VIRTUAL TABLE IF NOT EXISTS words USING fts5(title, body, tags, tokenize = "{_TOKENIZER}");
CREATE VIRTUAL TABLE IF NOT EXISTS vocab USING fts5vocab(words, 'col');
CREATE TABLE IF NOT EXISTS shown (
    id INTEGER PRIMARY KEY, title TEXT, summary TEXT, link TEXT, feed TEXT, published TEXT,
    title_len INTEGER, body_len INTEGER
);
INSERT INTO words(words, rank) VALUES ('rank', 'bm25(3.0, 1.0, 1.0)');
PRAGMA user_version = {LAYOUT};
"""
_COLUMNS = {"title": "title", "body": "body", "tag": "tags"}  # the other fields: items have none
_UNSUPPORTED = 'feed item search reads words, "phrases", title: and tag:, AND, OR, NOT and prefix*'


@dataclass(frozen=True)
class Totals:
    """Counts over every item, for the similarity of items to entries."""

    count: int
    title_length: int  # terms in every item's title
    body_length: int


class ItemIndex:
    """The feed items' FTS5 index in one folder, opened (or made) at its first use."""

    def __init__(self, path: Path, synonyms: Path | None = None):
        self.path = path
        self.synonyms = synonyms
        self._reader = Reader(SCHEMA, TEXT_FIELDS, SEARCHABLE, ALIASES, {"title": 3.0}, synonyms)
        self._lock = threading.RLock()
        self._db: sqlite3.Connection | None = None
        self._inode = 0

    # -- the file ----------------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        """The open connection; opened again when a rebuild has swapped another folder in."""
        if self._db is not None and self._swapped():
            self.close()
        if self._db is None:
            self._db = self._open()
        return self._db

    def _swapped(self) -> bool:
        try:
            return os.stat(self.path).st_ino != self._inode
        except OSError:
            return False

    def _open(self) -> sqlite3.Connection:
        file = self.path / FILE
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            self._inode = os.stat(self.path).st_ino
            db = sqlite3.connect(file, timeout=WRITE_WAIT, isolation_level=None, check_same_thread=False)
            try:
                db.execute("PRAGMA journal_mode = WAL")
                db.execute("PRAGMA synchronous = FULL")
                if db.execute("PRAGMA user_version").fetchone()[0] != LAYOUT:
                    db.executescript("BEGIN IMMEDIATE;" + _SETUP + "COMMIT;")
                db.execute("SELECT count(*) FROM shown").fetchone()
            except BaseException:
                db.close()
                raise
        except sqlite3.Error as exc:
            raise KbError(f"the feed items' index {file} cannot be opened ({exc}); run kb index --rebuild") from None
        return db

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                with suppress(sqlite3.Error):
                    self._db.close()
                self._db = None

    def empty(self) -> bool:
        with self._lock:
            return self._connection().execute("SELECT 1 FROM shown LIMIT 1").fetchone() is None

    def doc_count(self) -> int:
        with self._lock:
            return int(self._connection().execute("SELECT count(*) FROM shown").fetchone()[0])

    def count(self, kind: str) -> int:
        """How many documents of one kind this index holds (feed items only)."""
        return self.doc_count() if kind == "item" else 0

    # -- writing ---------------------------------------------------------------------------

    @contextmanager
    def writer(self) -> Iterator[ItemWriter]:
        """One transaction: everything written through it is committed together at the end, or
        nothing. Waits up to `WRITE_WAIT` s for another process's writer, then raises `Busy`."""
        with self._lock:
            db = self._begin()
            if self._swapped():  # a rebuild swapped a new index in while this one waited: write there
                db.execute("ROLLBACK")
                db = self._begin()
            try:
                yield ItemWriter(db)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            try:
                db.execute("COMMIT")
            except BaseException:
                with suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
                raise

    def _begin(self) -> sqlite3.Connection:
        db = self._connection()
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise Busy("the feed items' index is being updated by another process; try again") from None
            raise
        return db

    # -- searching -------------------------------------------------------------------------

    def read(self, text: str) -> Parsed:
        return self._reader.read(text)

    def search(
        self,
        text: str,
        *,
        audience: Audience | None = None,
        kinds: Iterable[str] = ("item",),
        page: int = 1,
        per_page: int = 10,
    ) -> Results:
        """Items matching `text`, best first (FTS5's BM25, a title match counting three times).
        Items with all the words come first; when fewer than `FEW` have them all, items with some
        of a plain query's words follow. Items are for staff: with an `audience`, nothing."""
        parsed = self.read(text)
        page = max(1, page)
        out = Results(query=text, total=0, page=page, per_page=per_page, hits=[])
        if audience is not None or "item" not in kinds:
            return out
        with self._lock:
            db = self._connection()
            found = _Found.of(db, parsed)
            if parsed.words and not found.complete:
                fixed = parsed.replaced(self._corrections(db, parsed))
                reread = self._read_or_none(fixed) if fixed != parsed.text else None
                again = _Found.of(db, reread) if reread else None
                if again and again.complete:
                    found, out.corrected = again, fixed
                elif again:
                    out.suggestion = fixed
            out.total, out.complete = found.total, found.complete
            ranked = found.ranked(db, (page - 1) * per_page, per_page)
            shown = _rows(db, [rowid for rowid, _ in ranked])
        words = frozenset(found.marked)
        for rowid, score in ranked:
            row = shown.get(rowid)
            if row is None:
                continue
            hit = Hit(
                id=f"item:{rowid}",
                kind="item",
                slug="",
                title=row["title"],
                score=score,
                summary=row["summary"],
                fields={"feed": row["feed"], "link": row["link"], "published": _date(row["published"])},
            )
            hit.snippet = snippet(hit.summary, words, None)
            out.hits.append(hit)
        return out

    def _corrections(self, db: sqlite3.Connection, parsed: Parsed) -> dict[Word, str]:
        """For each word that finds no item, the nearest word that does (`kb.index.language`):
        fewest edits, then the commonest."""
        out = {}
        for word in parsed.words:
            if _count(db, self._read_or_none(word.text)):
                continue
            typed = word.text.lower()
            vocabulary = db.execute(
                "SELECT term, max(doc) FROM vocab WHERE term >= ? AND term < ? AND col != 'tags' GROUP BY term",
                (typed[:PREFIX], typed[:PREFIX] + "\U0010ffff"),
            ).fetchall()
            for _, _, term in closest(typed, vocabulary)[:CANDIDATES]:
                shown = surface(word.text, term, _seen(db, term))
                if _count(db, self._read_or_none(shown)):
                    out[word] = shown
                    break
        return out

    def _read_or_none(self, text: str) -> Parsed | None:
        try:
            return self.read(text)
        except QueryError:
            return None

    # -- for the similarity of items to entries -----------------------------------------------

    def totals(self) -> Totals:
        with self._lock:
            count, title_length, body_length = (
                self._connection()
                .execute("SELECT count(*), coalesce(sum(title_len), 0), coalesce(sum(body_len), 0) FROM shown")
                .fetchone()
            )
        return Totals(count, title_length, body_length)

    def term_stats(self, wanted: Iterable[str]) -> dict[str, tuple[int, int, int]]:
        """Term -> (items with it in the title, in the body, times in bodies), for the terms `wanted` here."""
        wanted = list(dict.fromkeys(wanted))
        found: dict[str, list[int]] = {}
        with self._lock:
            db = self._connection()
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                for term, col, docs, times in db.execute(
                    f"SELECT term, col, doc, cnt FROM vocab WHERE term IN ({','.join('?' * len(chunk))})", chunk
                ):
                    counts = found.setdefault(term, [0, 0, 0])
                    if col == "title":
                        counts[0] = docs
                    elif col == "body":
                        counts[1], counts[2] = docs, times
        return {t: (c[0], c[1], c[2]) for t, c in found.items()}

    def terms_of(self, ids: Iterable[int]) -> dict[int, tuple[list[str], list[str]]]:
        """Item id -> (its title's terms, its body's terms), for the items `ids` that are here."""
        wanted = list(ids)
        out: dict[int, tuple[list[str], list[str]]] = {}
        with self._lock:
            db = self._connection()
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                for rowid, title, body in db.execute(
                    f"SELECT rowid, title, body FROM words WHERE rowid IN ({','.join('?' * len(chunk))})", chunk
                ):
                    out[int(rowid)] = (title.split(), body.split())
        return out


class ItemWriter:
    """Writes items' documents (`kb.feeds.items.document`) inside an `ItemIndex.writer()` transaction."""

    def __init__(self, db: sqlite3.Connection):
        self._db = db

    def put(self, **document: Any) -> None:
        """Write an item, replacing an older copy with its id."""
        self.delete(document["id"])
        self.add(**document)

    def add(self, **document: Any) -> None:
        """Write an item that is not in the index yet."""
        rowid = _rowid(document["id"])
        title, body = terms(document.get("title") or ""), terms(document.get("body") or "")
        tags = " , ".join(t.strip().lower() for t in (document.get("tag") or "").split(",") if t.strip())
        published = document.get("published")
        self._db.execute(
            "INSERT INTO words(rowid, title, body, tags) VALUES (?, ?, ?, ?)",
            (rowid, " ".join(title), " ".join(body), tags),
        )
        self._db.execute(
            "INSERT INTO shown VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                rowid,
                document.get("title") or "",
                (document.get("_stored_summary") or document.get("body") or "")[:SUMMARY],
                document.get("link") or "",
                str(document.get("feed") or ""),
                published.isoformat() if isinstance(published, dt.datetime) else None,
                len(title),
                len(body),
            ),
        )

    def delete(self, doc_id: str) -> None:
        rowid = _rowid(doc_id)
        self._db.execute("DELETE FROM words WHERE rowid = ?", (rowid,))
        self._db.execute("DELETE FROM shown WHERE id = ?", (rowid,))


@dataclass
class _Found:
    """What a parsed query finds: FTS5 queries for items with all the words and with only some."""

    every: str | None
    some: str | None
    complete: int
    total: int
    marked: set[str]

    @classmethod
    def of(cls, db: sqlite3.Connection, parsed: Parsed) -> _Found:
        marked: set[str] = set()
        every = _fts(parsed.query, marked)
        complete = _matches(db, every)
        some = None
        if complete < FEW and parsed.clauses and every is not None:
            parts = [p for c in parsed.clauses if (p := _fts(c, marked)) is not None]
            some = f"({' OR '.join(parts)}) NOT ({every})" if parts else None
        return cls(every, some, complete, complete + _matches(db, some), marked)

    def ranked(self, db: sqlite3.Connection, start: int, size: int) -> list[tuple[int, float]]:
        """The page's (item id, score): items with every word first, then those with some."""
        sql = "SELECT rowid, -rank FROM words WHERE words MATCH ? ORDER BY rank LIMIT ? OFFSET ?"
        out = db.execute(sql, (self.every, size, start)).fetchall() if start < self.complete else []
        if self.some and len(out) < size:
            out += db.execute(sql, (self.some, size - len(out), max(0, start - self.complete))).fetchall()
        return [(int(r), float(s)) for r, s in out]


def _matches(db: sqlite3.Connection, match: str | None) -> int:
    return db.execute("SELECT count(*) FROM words WHERE words MATCH ?", (match,)).fetchone()[0] if match else 0


def _count(db: sqlite3.Connection, parsed: Parsed | None) -> int:
    """How many items a parsed query finds (0 when it cannot be read or searched)."""
    if parsed is None:
        return 0
    try:
        return _matches(db, _fts(parsed.query, set()))
    except QueryError:
        return 0


def _seen(db: sqlite3.Connection, term: str, limit: int = 3) -> list[str]:
    """Words of a few items' titles and summaries that stem to `term` (real words to show)."""
    rows = db.execute(
        "SELECT s.title, s.summary FROM words JOIN shown s ON s.id = words.rowid WHERE words MATCH ? LIMIT ?",
        (_quote(term), limit),
    ).fetchall()
    return [word for title, summary in rows for word in originals(f"{title} {summary}", term)]


def _rowid(doc_id: str) -> int:
    kind, _, number = doc_id.partition(":")
    if kind != "item" or not number.isdigit():
        raise ValueError(f"not a feed item's id: {doc_id!r}")
    return int(number)


def _rows(db: sqlite3.Connection, ids: list[int]) -> dict[int, dict[str, Any]]:
    if not ids:
        return {}
    cursor = db.execute(
        f"SELECT id, title, summary, link, feed, published FROM shown WHERE id IN ({','.join('?' * len(ids))})", ids
    )
    names = [c[0] for c in cursor.description]
    return {row[0]: dict(zip(names, row, strict=True)) for row in cursor}


def _date(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


# -- a parsed query in FTS5's language -------------------------------------------------------


def _fts(q: wq.Query, marked: set[str]) -> str | None:
    """`q` (a Whoosh query from `kb.index.query`) as an FTS5 query over the items' columns; None
    when nothing in an item can match it. Adds the terms to mark in snippets to `marked`.
    QueryError for what items cannot be searched by (wildcards, ranges, other fields' values)."""
    kind = type(q)
    if kind is wq.Term:
        return _column(q.fieldname, _quote(q.text), q.text, marked)
    if kind is wq.Phrase:
        return _column(q.fieldname, _quote(" ".join(q.words)), None, marked, q.words)
    if kind is wq.Prefix:
        return _column(q.fieldname, _quote(q.text) + " *", None, marked)
    if kind is wq.Or:
        parts = [p for sub in q.subqueries if (p := _fts(sub, marked)) is not None]
        return "(" + " OR ".join(parts) + ")" if parts else None
    if kind is wq.And:
        return _all(q.subqueries, marked)
    if kind is wq.AndNot:
        return _all([q.a, wq.Not(q.b)], marked)
    if kind is wq.Require:
        return _all([q.a, q.b], marked)
    if kind is wq.AndMaybe:
        return _fts(q.a, marked)
    if kind is wq.Not:
        return _all([q], marked)
    if q is wq.NullQuery or kind is type(wq.NullQuery):
        return None
    raise QueryError(_UNSUPPORTED)


def _all(subqueries: Iterable[wq.Query], marked: set[str]) -> str | None:
    wanted, unwanted = [], []
    for sub in subqueries:
        if type(sub) is wq.Not:
            part = _fts(sub.query, set())
            if part is not None:
                unwanted.append(part)
            continue
        part = _fts(sub, marked)
        if part is None:
            return None
        wanted.append(part)
    if not wanted:
        raise QueryError("say what feed items should have as well as what they should not (NOT)")
    out = "(" + " AND ".join(wanted) + ")"
    return out + "".join(f" NOT {part}" for part in unwanted)


def _column(field: str, match: str, term: str | None, marked: set[str], words: Iterable[str] = ()) -> str | None:
    column = _COLUMNS.get(field)
    if column is None:
        return None
    if column != "tags":
        marked.update([term] if term else [])
        marked.update(words)
    return f"({column} : {match})"


def _quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'
