"""A test site indexed on chosen days: the site fixture, indexed on 1 March 2026 at ten, that a
test changes and indexes again on later days (the clock frozen, so each version has its own date).
Import the fixtures into a test module: `from dated_site import app, auth, root, sync`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from auth_helpers import AuthActions
from flask import Flask
from site_fixtures import make_site

from kb import clock
from kb.sync import update_index
from kb.web import create_app
from kb.workspace import Workspace


def sync(root: Path, day: str) -> None:
    """Index the knowledge base as it is now, on `day` (March 2026) at ten."""
    with clock.frozen(f"2026-03-{day}T10:00:00"):
        ws = Workspace.open(root)
        try:
            update_index(ws, parallel=False)
        finally:
            ws.close()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    site = make_site(tmp_path / "site")
    sync(site, "01")
    return site


@pytest.fixture
def app(root: Path) -> Iterator[Flask]:
    application = create_app(root, {"TESTING": True})
    yield application
    application.extensions["kb"].close()


@pytest.fixture
def auth(app: Flask) -> AuthActions:
    return AuthActions(app)
