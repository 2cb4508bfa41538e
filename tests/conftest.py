"""Shared fixtures: a knowledge base in a temporary folder with real files, SQLite and Whoosh."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from kb.sync import update_index
from kb.workspace import Workspace

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).parent.parent
# The register the test knowledge bases share with and put partners in (tests/auth_helpers.py's PEOPLE).
ORGANISATIONS = """
[[organisations]]
slug = "org-a"
name = "Organisation A"
email_domain = "org-a.example"

[[organisations]]
slug = "org-b"
name = "Organisation B"
email_domain = "org-b.example"
"""


@pytest.fixture
def kb_root(tmp_path: Path) -> Path:
    """A knowledge base of the small test entries (two public, one GREEN, one draft)."""
    root = tmp_path / "kb"
    shutil.copytree(DATA / "entries", root / "entries")
    (root / "feeds").mkdir()
    (root / "config.toml").write_text("[kb]\nreview_days = 365\n\n[accounts]\ntest_hashing = true\n" + ORGANISATIONS)
    return root


@pytest.fixture
def ws(kb_root: Path) -> Iterator[Workspace]:
    workspace = Workspace.open(kb_root)
    update_index(workspace)
    yield workspace
    workspace.close()


@pytest.fixture
def kb(kb_root: Path) -> Callable[..., Result]:
    """Run the `kb` command against the test knowledge base."""
    from kb.cli.main import main

    def run(*args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(main, ["--root", str(kb_root), *args], input=input, catch_exceptions=False)

    return run


def add_broken(root: Path, *names: str) -> None:
    for name in names:
        shutil.copy(DATA / "broken" / name, root / "entries" / name)
