"""The shipped knowledge base (issue 16): every entry valid, published to the minimums a
horizon-scanning team would sign off, rendered, linked, with its sources accounted for; and a
feed list wide enough to watch them all."""

from __future__ import annotations

from pathlib import Path

import pytest

from kb import config
from kb.feeds import listfile
from kb.model.entry import read_entry
from kb.sync import validate

REPO = Path(__file__).parent.parent
ENTRIES = sorted((REPO / "entries").glob("*.md"))


def test_kb_validate_passes_on_the_shipped_entries():
    entries, problems = validate(config.load(REPO))
    assert [str(p) for p in problems if p.severity == "error"] == []
    assert len(entries) == len(ENTRIES) >= 32


@pytest.mark.parametrize("path", ENTRIES, ids=lambda p: p.stem)
def test_each_entry_meets_the_minimums(path: Path):
    entry, problems = read_entry(path)
    assert entry is not None, problems
    assert entry.status == "published"
    assert len(entry.summary.split()) >= 25
    assert len(entry.risks) >= 3
    for risk in entry.risks:
        assert risk.description and risk.crime_types and risk.drivers, risk.id
        assert 1 <= risk.likelihood <= 5 and 1 <= risk.impact <= 5 and risk.confidence and risk.trend and risk.role
    measures = [m for _, m in entry.measures]
    assert len(measures) >= 4
    assert all(m.actor and m.mechanism and m.status for m in measures)
    assert len(entry.sources) >= 3
    for source in entry.sources:
        assert source.title and source.publisher and source.date and source.url, source.title
        assert source.checked or source.unchecked, f"{source.title}: say whether it was checked"
    assert entry.related and len(entry.keywords) >= 5
    if entry.tlp != "clear":  # restricted only with a reason given in the note
        assert "TLP" in entry.body, "a restricted note says why it is restricted"


def test_every_related_slug_and_feed_technology_exists():
    slugs = {p.stem for p in ENTRIES}
    for path in ENTRIES:
        entry, _ = read_entry(path)
        assert set(entry.related) <= slugs, path.stem
    feeds, problems = listfile.load(REPO / "feeds" / "feeds.yaml")
    assert problems == [] and len(feeds) >= 40
    assert {f.technology for f in feeds} <= slugs


def test_every_entry_renders(tmp_path):
    import shutil

    from kb.sync import update_index
    from kb.web import create_app
    from kb.workspace import Workspace

    root = tmp_path / "kb"
    shutil.copytree(REPO / "entries", root / "entries")
    (root / "feeds").mkdir()
    ws = Workspace.open(root)
    update_index(ws)
    ws.close()
    app = create_app(root, {"TESTING": True})
    try:
        client = app.test_client()
        for path in ENTRIES:
            assert client.get(f"/entries/{path.stem}").status_code == 200, path.stem
        assert client.get("/").status_code == 200
    finally:
        app.extensions["kb"].close()


def test_the_shipped_opml_is_the_feed_list_exported():
    import re

    from kb.feeds import opml

    feeds, _ = listfile.load(REPO / "feeds" / "feeds.yaml")
    shipped = (REPO / "feeds" / "feeds.opml").read_text(encoding="utf-8")
    made = opml.to_opml(feeds, title="Horizon KB feeds")

    def without_date(text: str) -> str:
        return re.sub(r"<dateCreated>.*?</dateCreated>", "", text)

    assert without_date(made) == without_date(shipped), "run: kb feeds export-opml -o feeds/feeds.opml"
