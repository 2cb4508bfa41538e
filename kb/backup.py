"""`kb backup DIR` and `kb restore DIR`: what nothing else can recreate, copied out and put back.

A backup folder holds:

- `state.sqlite`: the state database (accounts, sessions, audit log, feed state and items,
  suggestions and triage decisions, entry versions), copied with SQLite's online backup API: one
  consistent snapshot, taken while the site goes on serving and writing. Checked with
  `PRAGMA integrity_check` before it is kept.
- `feeds/` (the feed list) and `config.toml`, as they were.
- `secret_key`, the session secret from `var/`, when there is one (signed-in users stay signed in).
- `backup.json`: when it was made, the schema version, and the rows of each table.

Not in it: `entries/` (the source of truth: keep it in git) and the cache (`cache.sqlite`,
`index/`), which `kb index` makes again. `kb restore` puts the files back, keeping what it
replaces in `var/before-restore-STAMP/`, and refuses while the state database is open in another
process (the site, `kb scheduler`).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from kb.clock import now, utcnow
from kb.config import CONFIG_NAME, Config
from kb.errors import KbError
from kb.store import Store
from kb.store.health import StateDamaged, check, header_problem, state_message
from kb.store.migrations import STATE_MIGRATIONS, STATE_TABLES

STATE = "state.sqlite"
MANIFEST = "backup.json"
SECRET = "secret_key"  # kb.web.auth keeps the session secret in var/secret_key


@dataclass
class BackupReport:
    folder: Path
    rows: dict[str, int]
    copied: list[str] = field(default_factory=list)


@dataclass
class RestoreReport:
    restored: list[str]
    kept: Path  # where what was replaced went


def backup(cfg: Config, dest: Path, *, force: bool = False) -> BackupReport:
    """Copy the state database (online, consistent), `feeds/`, `config.toml` and the session
    secret into `dest`, which must be new or empty unless `force` (then those are replaced)."""
    dest = Path(os.path.abspath(dest))
    _refuse_folder(cfg, dest, force)
    if not cfg.state_path.exists() and cfg.db_path.exists():
        Store.open(cfg.state_path, cfg.cache_path, legacy=cfg.db_path).close()  # split a pre-split var/ first
    problem = header_problem(cfg.state_path)
    if problem:
        raise StateDamaged(state_message(cfg.state_path, problem))
    dest.mkdir(parents=True, exist_ok=True)
    partial = dest / f".{STATE}.partial"
    rows = _snapshot(cfg.state_path, partial)
    os.replace(partial, dest / STATE)
    report = BackupReport(dest, rows, [STATE])
    if cfg.feeds_dir.is_dir():
        shutil.rmtree(dest / "feeds", ignore_errors=True)
        shutil.copytree(cfg.feeds_dir, dest / "feeds")
        report.copied.append("feeds/")
    for source, name in ((cfg.root / CONFIG_NAME, CONFIG_NAME), (cfg.var_dir / SECRET, SECRET)):
        if source.is_file():
            shutil.copy2(source, dest / name)
            report.copied.append(name)
    manifest = {"made": now(), "state_version": len(STATE_MIGRATIONS), "rows": rows}
    (dest / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return report


def _refuse_folder(cfg: Config, dest: Path, force: bool) -> None:
    if dest.exists() and not dest.is_dir():
        raise KbError(f"{dest} is a file: give a folder for the backup")
    own = [Path(os.path.abspath(p)) for p in (cfg.root, cfg.var_dir, cfg.feeds_dir, cfg.entries_dir)]
    if any(p.is_relative_to(dest) for p in own) or any(dest.is_relative_to(p) for p in own[1:]):
        raise KbError(f"{dest} holds or is part of the knowledge base's own folders: give a folder of its own")
    if dest.is_dir() and any(dest.iterdir()) and not force:
        raise KbError(f"{dest} is not empty: give a new folder, or add --force to replace the backup in it")


def _snapshot(source: Path, target: Path) -> dict[str, int]:
    """Copy `source` to `target` in one step of the online backup API (one read transaction, so
    one consistent snapshot; writers in WAL mode are not held up). Returns the rows per table."""
    target.unlink(missing_ok=True)
    src = sqlite3.connect(str(source), timeout=30)
    try:
        out = sqlite3.connect(str(target))
        try:
            src.backup(out)
            out.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            result = [row[0] for row in out.execute("PRAGMA integrity_check")]
            present = {row[0] for row in out.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            rows = {t: out.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in STATE_TABLES if t in present}
        finally:
            out.close()
    finally:
        src.close()
    if result != ["ok"]:
        target.unlink(missing_ok=True)
        raise StateDamaged(state_message(source, "is damaged (" + "; ".join(result[:3]) + ")"))
    return rows


def restore(cfg: Config, source: Path) -> RestoreReport:
    """Put a backup back: the state database, `feeds/`, `config.toml` and the session secret.

    Refuses a backup that is damaged or from a newer version, and refuses while the state
    database is open in another process. What is replaced is moved to `var/before-restore-STAMP/`.
    """
    source = Path(os.path.abspath(source))
    copy = source / STATE
    if not copy.is_file():
        raise KbError(f"{source} holds no {STATE}: give the folder kb backup wrote")
    problem = check(copy, thorough=True)
    if problem:
        raise KbError(f"the backup {copy} {problem}: it was not restored; choose another backup")
    conn = sqlite3.connect(f"file:{copy}?mode=ro", uri=True)
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    finally:
        conn.close()
    if version > len(STATE_MIGRATIONS):
        raise KbError(f"the backup {copy} was made by a newer version of Horizon KB: upgrade, then restore it")
    if _in_use(cfg.state_path):
        raise KbError(
            f"the state database {cfg.state_path} is open in another process (the site, kb scheduler or another "
            "kb command): stop them, then run kb restore again"
        )
    kept = cfg.var_dir / f"before-restore-{utcnow().strftime('%Y%m%dT%H%M%SZ')}"
    kept.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):  # the old file's journal must not be applied to the new one
        old = Path(f"{cfg.state_path}{suffix}")
        if old.exists():
            os.replace(old, kept / old.name)
    partial = cfg.var_dir / f".{STATE}.restoring"
    shutil.copyfile(copy, partial)
    os.replace(partial, cfg.state_path)
    restored = [STATE]
    if (source / "feeds").is_dir():
        if cfg.feeds_dir.exists():
            shutil.move(cfg.feeds_dir, kept / "feeds")
        shutil.copytree(source / "feeds", cfg.feeds_dir)
        restored.append("feeds/")
    for name, target in ((SECRET, cfg.var_dir / SECRET), (CONFIG_NAME, cfg.root / CONFIG_NAME)):
        if (source / name).is_file():
            if target.exists():
                os.replace(target, kept / name)
            shutil.copy2(source / name, target)
            restored.append(name)
    return RestoreReport(restored, kept)


def _in_use(path: Path) -> bool:
    """Whether another connection has the database open: in WAL mode every open connection holds
    a shared lock, so leaving WAL mode (which needs the file to itself) fails."""
    if not path.exists() or header_problem(path):
        return False
    conn = sqlite3.connect(str(path), timeout=0)
    try:
        return conn.execute("PRAGMA journal_mode=DELETE").fetchone()[0] != "delete"
    except sqlite3.OperationalError:
        return True
    except sqlite3.DatabaseError:
        return False
    finally:
        conn.close()
