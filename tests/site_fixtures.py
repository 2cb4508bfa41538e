"""Fixtures for the public site: a knowledge base with notes of every kind, the app, a live server.

The site knowledge base is the four shared test entries (two public, one TLP:GREEN, one
draft) plus tests/data/site/: an AMBER, a RED, an 'in review' and an overdue public note.
Test modules import the fixtures they use from here.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ORGANISATIONS  # the register the test knowledge bases share
from flask import Flask
from flask.testing import FlaskClient

from kb.sync import update_index
from kb.web import create_app
from kb.workspace import Workspace

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).parent.parent
BASE_URL = "http://kb.example.test"
PUBLIC = ["prison-drones", "printed-guns", "overdue-cameras"]
RESTRICTED = ["secret-keys", "draft-robots", "amber-locks", "red-ledgers", "review-wearables"]

# Words that appear only in notes the public may not read: none may appear in any public response.
CANARIES = [
    # TLP:GREEN
    "secret-keys",
    "Secret key",
    "zanzibar",
    "automotive",
    "tags/vehicles",
    "key-cloning",
    "Cloning keys",
    "vehicle-theft",
    "key cloning",
    "ultra-wideband",
    # draft
    "draft-robots",
    "Delivery robots",
    "parcel-theft",
    "Theft from delivery",
    "Pavement robots",
    "/sectors/retail",
    # TLP:AMBER (shares the public tag 'drones' and sector 'prisons')
    "amber-locks",
    "Amberlock",
    "amberlock",
    "quokka",
    "Quokka",
    # TLP:RED
    "red-ledgers",
    "Redledger",
    "redledger",
    "narwhal",
    "Narwhal",
    # in review
    "review-wearables",
    "Okapi",
    "okapi",
]


def make_site(root: Path, per_page: int = 20) -> Path:
    (root / "entries").mkdir(parents=True)
    for folder in ("entries", "site"):
        for path in (DATA / folder).glob("*.md"):
            shutil.copy(path, root / "entries" / path.name)
    (root / "feeds").mkdir()
    (root / "config.toml").write_text(
        f'[kb]\nreview_days = 365\n\n[site]\nbase_url = "{BASE_URL}"\nper_page = {per_page}\n'
        'green_community = "the test partner network"\n\n[accounts]\ntest_hashing = true\n' + ORGANISATIONS
    )
    return root


@pytest.fixture
def site_root(tmp_path: Path) -> Path:
    root = make_site(tmp_path / "site")
    workspace = Workspace.open(root)
    update_index(workspace)
    workspace.close()
    return root


@pytest.fixture
def app(site_root: Path) -> Iterator[Flask]:
    application = create_app(site_root, {"TESTING": True})
    yield application
    application.extensions["kb"].close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def site_ws(site_root: Path) -> Iterator[Workspace]:
    """The same knowledge base opened beside the app, to change it while the app runs."""
    workspace = Workspace.open(site_root)
    yield workspace
    workspace.close()


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """The app on a real HTTP server on 127.0.0.1 (a thread); yields its base URL."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def edit(root: Path, slug: str, old: str, new: str) -> None:
    path = root / "entries" / f"{slug}.md"
    text = path.read_text()
    assert old in text, f"{old!r} not in {slug}"
    path.write_text(text.replace(old, new))
