"""The SQLite databases (via sqlite-utils): state, and the rows derived from entries.

Two files, one connection: `var/state.sqlite` (accounts, sessions, the audit log, feed state and
items, suggestions and triage, entry versions: what nothing else can recreate) is the main
database, and `var/cache.sqlite` (the rows derived from `entries/*.md`, rebuilt at any time by
`kb index --rebuild`) is attached to it as `cache`. Every table name lives in one file only
(`kb.store.migrations` says which), so callers name tables plainly and never need to know.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import sqlite_utils

from kb.clock import now
from kb.model.changes import describe
from kb.model.entry import Entry
from kb.model.head import head_to_dict
from kb.model.serial import entry_from_dict, entry_to_dict, version_of
from kb.store.connect import connect, migrate
from kb.store.health import CacheDamaged, StateDamaged, cache_message, check, header_problem, state_message
from kb.store.migrations import CACHE_MIGRATIONS, CACHE_TABLES, STATE_MIGRATIONS
from kb.store.split import split_legacy

ENTRY_TABLES = CACHE_TABLES
log = logging.getLogger(__name__)


def _upsert(conn: sqlite3.Connection, table: str, pk: tuple[str, ...], row: dict[str, Any]) -> None:
    """Insert `row`, or update the columns it names when a row with the same key exists.

    The same effect as sqlite-utils' `upsert`, in one statement (no delete, so nothing cascades).
    """
    names = [f'"{n}"' for n in row]
    updates = ", ".join(f"{n} = excluded.{n}" for n, key in zip(names, row, strict=False) if key not in pk)
    conn.execute(
        f'INSERT INTO "{table}" ({", ".join(names)}) VALUES ({", ".join("?" * len(names))}) '
        f"ON CONFLICT ({', '.join(pk)}) DO UPDATE SET {updates}",
        list(row.values()),
    )


class _Database(sqlite_utils.Database):
    """sqlite-utils on the state file, with the cache file attached: a table of either file is
    found by its plain name (sqlite-utils looks for tables in the main file only)."""

    def table_names(self, fts4: bool = False, fts5: bool = False) -> list[str]:
        names = super().table_names(fts4=fts4, fts5=fts5)
        if not (fts4 or fts5):
            names += [row[0] for row in self.execute("SELECT name FROM cache.sqlite_master WHERE type = 'table'")]
        return names


class Store:
    """The state database with the cache attached. Open with `Store.open(state, cache)`; both
    schemas are brought up to date on open."""

    def __init__(self, db: sqlite_utils.Database, state_path: Path, cache_path: Path):
        self.db = db
        self.state_path = state_path
        self.cache_path = cache_path

    @classmethod
    def open(
        cls,
        path: Path | str,
        cache: Path | str | None = None,
        *,
        legacy: Path | str | None = None,
        repair_cache: bool = False,
    ) -> Store:
        """Open the state database `path` with the cache database `cache` (default: `cache.sqlite`
        beside it) attached.

        A pre-split database at `legacy` is split first. An empty or damaged state database is
        refused (`StateDamaged`), never replaced by a new, empty one; a damaged cache database is
        refused too (`CacheDamaged`), unless `repair_cache`, which makes a new, empty one.
        """
        state = Path(path)
        cache_path = Path(cache) if cache is not None else state.with_name("cache.sqlite")
        state.parent.mkdir(parents=True, exist_ok=True)
        if legacy is not None and Path(legacy).exists() and not state.exists():
            split_legacy(Path(legacy), state, cache_path)
        if state.exists():
            problem = header_problem(state)
            if problem:
                raise StateDamaged(state_message(state, problem))
        else:
            if cache_path.exists():
                log.warning("%s was not found: starting a new, empty one (no accounts or feed state)", state)
            _create(state)
        try:
            conn = connect(state)
        except sqlite3.DatabaseError as exc:
            raise StateDamaged(state_message(state, f"is damaged ({exc})")) from None
        try:
            migrate(conn, STATE_MIGRATIONS)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StateDamaged(state_message(state, f"is damaged ({exc})")) from None
        try:
            _prepare_cache(cache_path, repair_cache)
            conn.execute("ATTACH DATABASE ? AS cache", [str(cache_path)])
            conn.execute("PRAGMA cache.synchronous=NORMAL")
        except BaseException:
            conn.close()
            raise
        return cls(_Database(conn), state, cache_path)

    def close(self) -> None:
        self.db.conn.close()

    # -- files: what the last sync saw ---------------------------------------------------

    def file_states(self) -> dict[str, dict[str, Any]]:
        cursor = self.db.conn.execute("SELECT * FROM files")
        names = [d[0] for d in cursor.description]
        return {row[0]: dict(zip(names, row, strict=False)) for row in cursor}

    def record_file(
        self, path: str, mtime_ns: int, size: int, sha256: str, slug: str, ok: bool, problems: list[str]
    ) -> None:
        _upsert(
            self.db.conn,
            "files",
            ("path",),
            {
                "path": path,
                "mtime_ns": mtime_ns,
                "size": size,
                "sha256": sha256,
                "slug": slug,
                "ok": int(ok),
                "problems": json.dumps(problems),
            },
        )

    def forget_file(self, path: str) -> None:
        self.db.conn.execute("DELETE FROM files WHERE path = ?", [path])

    def clear_entries(self) -> None:
        """Delete every derived row (the caller's transaction makes it one change with the new rows)."""
        for table in CACHE_TABLES:
            self.db.conn.execute(f"DELETE FROM cache.{table}")

    # -- entries ---------------------------------------------------------------------------

    def put_entry(self, entry: Entry, path: str, changed_at: str | None = None) -> list[str]:
        """Store an entry's rows. Returns what changed for readers (empty when nothing did).

        A version seen for the first time is dated `changed_at` (when its content last changed,
        e.g. its last git commit) or now."""
        data = entry_to_dict(entry)
        data_json = json.dumps(data)
        version = version_of(entry)
        stamp = changed_at or now()
        old = self._current(entry.slug)
        if old is None:
            # After `kb index --rebuild` (or a file moved back), a version seen before keeps
            # its dates: subscribers must not see an unchanged note as new or updated.
            old = self._remembered(entry.slug, version)
        changes: list[str] = []
        if old is None or old["version"] != version:
            changes = describe(json.loads(old["data"]) if old else None, data)
            _upsert(
                self.db.conn,
                "entry_versions",
                ("slug", "version"),
                {
                    "slug": entry.slug,
                    "version": version,
                    "seen_at": stamp,
                    "changes": json.dumps(changes),
                    "data": data_json,
                },
            )
        _upsert(
            self.db.conn,
            "entries",
            ("slug",),
            {
                "slug": entry.slug,
                "path": path,
                "title": entry.title,
                "summary": entry.summary,
                "status": entry.status,
                "tlp": entry.tlp,
                "category": entry.category,
                "horizon": entry.horizon,
                "maturity": entry.maturity,
                "reviewed": entry.reviewed.isoformat(),
                "score": entry.score,
                "data": data_json,
                "share_with": json.dumps(list(entry.share_with)),
                "head": json.dumps(head_to_dict(entry)),
                "version": version,
                "content_hash": entry.content_hash,
                "first_seen": old["first_seen"] if old else stamp,
                "updated": stamp if changes or old is None else old["updated"],
            },
        )
        self._put_children(entry)
        return changes

    def _current(self, slug: str) -> dict[str, Any] | None:
        """The stored version, dates and data of an entry (one query; sync calls this per file)."""
        row = self.db.conn.execute(
            "SELECT version, updated, first_seen, data FROM entries WHERE slug = ?", [slug]
        ).fetchone()
        return dict(zip(("version", "updated", "first_seen", "data"), row, strict=False)) if row else None

    def _remembered(self, slug: str, version: str) -> dict[str, Any] | None:
        """The dates of a version already recorded in `entry_versions`, shaped like an entries row."""
        rows = list(
            self.db.execute(
                "SELECT version, seen_at, data, (SELECT min(seen_at) FROM entry_versions WHERE slug = ?) "
                "FROM entry_versions WHERE slug = ? AND version = ?",
                [slug, slug, version],
            )
        )
        if not rows:
            return None
        version, seen_at, data, first_seen = rows[0]
        return {"version": version, "updated": seen_at, "first_seen": first_seen, "data": data}

    def _put_children(self, entry: Entry) -> None:
        # Plain SQL with executemany: sync writes these rows for every file, and sqlite-utils'
        # per-call table introspection was most of the cost of a full index.
        conn = self.db.conn
        for table in ("risks", "measures", "facets"):
            conn.execute(f"DELETE FROM {table} WHERE entry_slug = ?", [entry.slug])
        conn.executemany(
            "INSERT INTO risks (entry_slug, risk_id, title, role, likelihood, impact, score, confidence, trend) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (entry.slug, r.id, r.title, r.role, r.likelihood, r.impact, r.score, r.confidence, r.trend)
                for r in entry.risks
            ],
        )
        conn.executemany(
            "INSERT INTO measures (entry_slug, risk_id, position, actor, measure, mechanism, status, reference) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (entry.slug, r.id, i, m.actor, m.measure, m.mechanism, m.status, m.reference)
                for r in entry.risks
                for i, m in enumerate(r.measures)
            ],
        )
        facets = {("tag", v) for v in entry.tags} | {("sector", v) for v in entry.sectors}
        facets |= {("driver", v) for v in entry.all_drivers}
        facets |= {("crime_type", c) for r in entry.risks for c in r.crime_types}
        facets |= {("actor", m.actor) for _, m in entry.measures}
        conn.executemany(
            "INSERT INTO facets (entry_slug, kind, value) VALUES (?, ?, ?)",
            [(entry.slug, k, v) for k, v in sorted(facets)],
        )

    def delete_entry(self, slug: str) -> None:
        conn = self.db.conn
        for table in ("risks", "measures", "facets"):
            conn.execute(f"DELETE FROM {table} WHERE entry_slug = ?", [slug])
        conn.execute("DELETE FROM entries WHERE slug = ?", [slug])

    def slugs(self) -> set[str]:
        return {row[0] for row in self.db.execute("SELECT slug FROM entries")}

    def entry_row(self, slug: str) -> dict[str, Any] | None:
        rows = list(self.db["entries"].rows_where("slug = ?", [slug]))
        return rows[0] if rows else None

    def entry(self, slug: str, entries_dir: Path) -> Entry | None:
        row = self.entry_row(slug)
        return self._entry(row, entries_dir) if row else None

    def entries(self, entries_dir: Path, where: str | None = None, params: Iterable[Any] = ()) -> list[Entry]:
        return [
            self._entry(row, entries_dir)
            for row in self.db["entries"].rows_where(where, list(params), order_by="title")
        ]

    @staticmethod
    def _entry(row: dict[str, Any], entries_dir: Path) -> Entry:
        return entry_from_dict(json.loads(row["data"]), entries_dir / row["path"], row["content_hash"])

    def versions(self, slug: str) -> list[dict[str, Any]]:
        return list(self.db["entry_versions"].rows_where("slug = ?", [slug], order_by="seen_at desc"))

    # -- visits: when each signed-in user's visits began ---------------------------------

    def last_visit(self, user_id: int, before: dt.datetime | None = None) -> dt.datetime | None:
        """When the user's newest recorded visit began (the newest before `before`, if given); None for none."""
        sql, params = "SELECT max(seen_at) FROM visits WHERE user_id = ?", [user_id]
        if before is not None:
            sql += " AND seen_at < ?"
            params.append(before.astimezone(dt.UTC).isoformat(timespec="seconds"))
        value = self.db.conn.execute(sql, params).fetchone()[0]
        return dt.datetime.fromisoformat(value) if value else None

    def record_visit(self, user_id: int, at: dt.datetime) -> None:
        """Record a visit beginning `at` (the caller's `kb.clock` time). Only the user's two newest
        visits are kept: the one going on and the one before it."""
        conn = self.db.conn
        conn.execute(
            "INSERT OR IGNORE INTO visits (user_id, seen_at) VALUES (?, ?)",
            [user_id, at.astimezone(dt.UTC).isoformat(timespec="seconds")],
        )
        conn.execute(
            "DELETE FROM visits WHERE user_id = ? AND seen_at < "
            "(SELECT seen_at FROM visits WHERE user_id = ? ORDER BY seen_at DESC LIMIT 1 OFFSET 1)",
            [user_id, user_id],
        )


def _prepare_cache(path: Path, repair: bool) -> None:
    """Bring the cache file's schema up to date, or (with `repair`) make a new one if it is damaged.

    With `repair` the file is checked first (`PRAGMA quick_check`), and a damaged one is deleted
    without being used: its rows are all made again from entries/ anyway.
    """
    problem = None
    if path.exists() and path.stat().st_size:
        problem = check(path) if repair else header_problem(path)
    if problem is None:
        try:
            conn = connect(path)
            try:
                migrate(conn, CACHE_MIGRATIONS)
            finally:
                conn.close()
            return
        except sqlite3.DatabaseError as exc:
            problem = f"is damaged ({exc})"
    if not repair:
        raise CacheDamaged(cache_message(path, problem))
    log.warning("%s %s: making a new one (restart the site and kb scheduler so they use it)", path, problem)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    conn = connect(path)
    try:
        migrate(conn, CACHE_MIGRATIONS)
    finally:
        conn.close()


def _create(path: Path) -> None:
    """A new state database, made beside and linked into place complete: an empty file at `path`
    (which another process opening at the same moment would refuse) is never seen."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.new")
    try:
        conn = connect(tmp)
        try:
            migrate(conn, STATE_MIGRATIONS)
        finally:
            conn.close()
        try:
            os.link(tmp, path)
        except FileExistsError:  # another process made it first
            pass
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{tmp}{suffix}").unlink(missing_ok=True)
