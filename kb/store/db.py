"""The SQLite database (via sqlite-utils): derived entry rows, and every other piece of state.

Entry rows are a cache of `entries/*.md` and can be rebuilt at any time; feed state,
suggestions, users and the audit log live only here.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import sqlite_utils

from kb.clock import now
from kb.model.changes import describe
from kb.model.entry import Entry
from kb.model.serial import entry_from_dict, entry_to_dict, version_of
from kb.store.migrations import MIGRATIONS

ENTRY_TABLES = ("files", "entries", "risks", "measures", "facets")


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


class Store:
    """One SQLite file. Open with `Store.open(path)`; the schema is brought up to date on open."""

    def __init__(self, db: sqlite_utils.Database):
        self.db = db

    @classmethod
    def open(cls, path: Path | str) -> Store:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), timeout=30, check_same_thread=False, isolation_level=None)
        db = sqlite_utils.Database(conn)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA foreign_keys=ON")
        store = cls(db)
        store._migrate()
        return store

    def close(self) -> None:
        self.db.conn.close()

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        for number, step in enumerate(MIGRATIONS[version:], start=version + 1):
            with self.db.conn:
                self.db.execute("BEGIN")
                step(self.db)
                self.db.execute(f"PRAGMA user_version = {number}")

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
        for table in ENTRY_TABLES:
            self.db[table].delete_where()

    # -- entries ---------------------------------------------------------------------------

    def put_entry(self, entry: Entry, path: str) -> list[str]:
        """Store an entry's rows. Returns what changed for readers (empty when nothing did)."""
        data = entry_to_dict(entry)
        data_json = json.dumps(data)
        version = version_of(entry)
        stamp = now()
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
