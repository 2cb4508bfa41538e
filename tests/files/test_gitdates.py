"""Issue 13, finding 7: every note looked new on a fresh install. A note's "last changed" comes
from when its content last changed (its last git commit, where entries/ is in git), never from
when an index was built."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from conftest import DATA

from kb import clock
from kb.files.gitdates import committed_dates
from kb.sync import update_index
from kb.workspace import Workspace


def git(root: Path, *args: str, when: str | None = None) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.org",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.org",
    }
    if when:
        env |= {"GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when}
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, env=env)


def test_finding_7_a_fresh_install_dates_notes_by_their_last_commit(tmp_path):
    root = tmp_path / "kb"
    shutil.copytree(DATA / "entries", root / "entries")
    (root / "feeds").mkdir()
    git(root, "init", "-q")
    git(root, "add", "entries")
    git(root, "commit", "-qm", "first", when="2025-03-01T10:00:00+00:00")
    path = root / "entries" / "printed-guns.md"
    path.write_text(path.read_text().replace("3D-printed firearms", "3D-printed guns", 1))
    git(root, "commit", "-qam", "retitle", when="2025-06-15T09:30:00+01:00")
    secret = root / "entries" / "secret-keys.md"
    secret.write_text(secret.read_text() + "\nAn edit not yet committed.\n")
    assert committed_dates(root / "entries")["printed-guns.md"] == "2025-06-15T08:30:00+00:00"
    assert "secret-keys.md" not in committed_dates(root / "entries")  # changed since its commit
    with clock.frozen("2026-12-02T12:00:00+00:00"):  # the day of the first index
        ws = Workspace.open(root)
        update_index(ws)
    rows = {r["slug"]: r["updated"] for r in ws.store.db["entries"].rows}
    assert rows["printed-guns"] == "2025-06-15T08:30:00+00:00"
    assert rows["draft-robots"] == "2025-03-01T10:00:00+00:00"
    assert rows["secret-keys"] == "2026-12-02T12:00:00+00:00"  # first seen now: its content is new
    ws.close()


def test_without_git_a_note_is_dated_when_first_seen(tmp_path):
    assert committed_dates(tmp_path) == {}
