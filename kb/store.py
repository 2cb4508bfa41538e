"""The SQLite database (via sqlite-utils): derived entry rows, and every other piece of state.

Entry rows are a cache of `entries/*.md` and can be rebuilt at any time; feed state,
suggestions, users and the audit log live only here.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import sqlite_utils

from kb.entry import Entry, entry_from_dict, entry_to_dict, version_of

Migration = Callable[[sqlite_utils.Database], None]
_MIGRATIONS: list[Migration] = []
ENTRY_TABLES = ("files", "entries", "risks", "measures", "facets")


def migration(fn: Migration) -> Migration:
    """Register a schema step; steps run once each, in order, tracked by PRAGMA user_version."""
    _MIGRATIONS.append(fn)
    return fn


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


@migration
def _entries_schema(db: sqlite_utils.Database) -> None:
    db["files"].create(
        {"path": str, "mtime_ns": int, "size": int, "sha256": str, "slug": str, "ok": int, "problems": str},
        pk="path",
    )
    db["entries"].create(
        {
            "slug": str, "path": str, "title": str, "summary": str, "status": str, "tlp": str,
            "category": str, "horizon": str, "maturity": str, "reviewed": str, "score": int,
            "data": str, "version": str, "content_hash": str, "first_seen": str, "updated": str,
        },
        pk="slug",
    )
    db["risks"].create(
        {
            "entry_slug": str, "risk_id": str, "title": str, "role": str, "likelihood": int,
            "impact": int, "score": int, "confidence": str, "trend": str,
        },
        pk=("entry_slug", "risk_id"),
    )
    db["measures"].create(
        {"entry_slug": str, "risk_id": str, "position": int, "actor": str, "measure": str,
         "mechanism": str, "status": str, "reference": str},
        pk=("entry_slug", "risk_id", "position"),
    )
    db["facets"].create({"entry_slug": str, "kind": str, "value": str}, pk=("entry_slug", "kind", "value"))
    db["facets"].create_index(["kind", "value"])
    db["entry_versions"].create(
        {"slug": str, "version": str, "seen_at": str, "changes": str, "data": str}, pk=("slug", "version")
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
        for number, step in enumerate(_MIGRATIONS[version:], start=version + 1):
            with self.db.conn:
                self.db.execute("BEGIN")
                step(self.db)
                self.db.execute(f"PRAGMA user_version = {number}")

    # -- files: what the last sync saw ---------------------------------------------------

    def file_states(self) -> dict[str, dict[str, Any]]:
        return {row["path"]: row for row in self.db["files"].rows}

    def record_file(self, path: str, mtime_ns: int, size: int, sha256: str, slug: str, ok: bool,
                    problems: list[str]) -> None:
        self.db["files"].upsert(
            {"path": path, "mtime_ns": mtime_ns, "size": size, "sha256": sha256, "slug": slug,
             "ok": int(ok), "problems": json.dumps(problems)},
            pk="path",
        )

    def forget_file(self, path: str) -> None:
        self.db["files"].delete_where("path = ?", [path])

    def clear_entries(self) -> None:
        for table in ENTRY_TABLES:
            self.db[table].delete_where()

    # -- entries ---------------------------------------------------------------------------

    def put_entry(self, entry: Entry, path: str) -> list[str]:
        """Store an entry's rows. Returns what changed for readers (empty when nothing did)."""
        from kb.changes import describe

        data = entry_to_dict(entry)
        version = version_of(entry)
        stamp = now()
        old = self.db["entries"].get(entry.slug) if self.db["entries"].count_where("slug = ?", [entry.slug]) else None
        changes: list[str] = []
        if old is None or old["version"] != version:
            changes = describe(json.loads(old["data"]) if old else None, data)
            self.db["entry_versions"].upsert(
                {"slug": entry.slug, "version": version, "seen_at": stamp,
                 "changes": json.dumps(changes), "data": json.dumps(data)},
                pk=("slug", "version"),
            )
        self.db["entries"].upsert(
            {
                "slug": entry.slug, "path": path, "title": entry.title, "summary": entry.summary,
                "status": entry.status, "tlp": entry.tlp, "category": entry.category,
                "horizon": entry.horizon, "maturity": entry.maturity,
                "reviewed": entry.reviewed.isoformat(), "score": entry.score,
                "data": json.dumps(data), "version": version, "content_hash": entry.content_hash,
                "first_seen": old["first_seen"] if old else stamp,
                "updated": stamp if changes or old is None else old["updated"],
            },
            pk="slug",
        )
        self._put_children(entry)
        return changes

    def _put_children(self, entry: Entry) -> None:
        for table in ("risks", "measures", "facets"):
            self.db[table].delete_where("entry_slug = ?", [entry.slug])
        self.db["risks"].insert_all(
            {"entry_slug": entry.slug, "risk_id": r.id, "title": r.title, "role": r.role,
             "likelihood": r.likelihood, "impact": r.impact, "score": r.score,
             "confidence": r.confidence, "trend": r.trend}
            for r in entry.risks
        )
        self.db["measures"].insert_all(
            {"entry_slug": entry.slug, "risk_id": r.id, "position": i, "actor": m.actor,
             "measure": m.measure, "mechanism": m.mechanism, "status": m.status, "reference": m.reference}
            for r in entry.risks
            for i, m in enumerate(r.measures)
        )
        facets = {("tag", v) for v in entry.tags} | {("sector", v) for v in entry.sectors}
        facets |= {("driver", v) for v in entry.all_drivers}
        facets |= {("crime_type", c) for r in entry.risks for c in r.crime_types}
        facets |= {("actor", m.actor) for _, m in entry.measures}
        self.db["facets"].insert_all(
            {"entry_slug": entry.slug, "kind": k, "value": v} for k, v in sorted(facets)
        )

    def delete_entry(self, slug: str) -> None:
        for table in ("risks", "measures", "facets"):
            self.db[table].delete_where("entry_slug = ?", [slug])
        self.db["entries"].delete_where("slug = ?", [slug])

    def slugs(self) -> set[str]:
        return {row[0] for row in self.db.execute("SELECT slug FROM entries")}

    def entry_row(self, slug: str) -> dict[str, Any] | None:
        rows = list(self.db["entries"].rows_where("slug = ?", [slug]))
        return rows[0] if rows else None

    def entry(self, slug: str, entries_dir: Path) -> Entry | None:
        row = self.entry_row(slug)
        return self._entry(row, entries_dir) if row else None

    def entries(self, entries_dir: Path, where: str | None = None, params: Iterable[Any] = ()) -> list[Entry]:
        return [self._entry(row, entries_dir) for row in self.db["entries"].rows_where(where, list(params), order_by="title")]

    @staticmethod
    def _entry(row: dict[str, Any], entries_dir: Path) -> Entry:
        return entry_from_dict(json.loads(row["data"]), entries_dir / row["path"], row["content_hash"])

    def versions(self, slug: str) -> list[dict[str, Any]]:
        return list(self.db["entry_versions"].rows_where("slug = ?", [slug], order_by="seen_at desc"))
