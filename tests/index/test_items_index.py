"""Issue 14: feed items have their own index (`var/items-index/`), so a poll never commits to the
entries' index (nor throws away its searcher and caches); rebuilds, suggestions and
`kb feeds items QUERY` use the items' index."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from feedserver import feed_server, feed_yaml, feeds_kb  # noqa: F401

from kb.cli.main import main
from kb.feeds.poller import Poller
from kb.index.search import entry_document
from kb.sync import update_index
from kb.workspace import Workspace, items_index_dir


@pytest.fixture
def ws(feeds_kb, feed_server) -> Iterator[Workspace]:  # noqa: F811
    (feeds_kb / "feeds" / "feeds.yaml").write_text(feed_yaml([(feed_server.url("/feeds/rss2.xml"), "Prison Watch")]))
    workspace = Workspace.open(feeds_kb)
    update_index(workspace)
    yield workspace
    workspace.close()


def poll(ws: Workspace) -> int:
    poller = Poller(ws)
    try:
        return poller.poll(suggest=False).indexed
    finally:
        poller.close()


def test_finding_14_a_poll_that_stores_items_leaves_the_entry_index_and_its_searcher_alone(ws):
    assert ws.index.search("quadcopter").total >= 1  # the entry search's searcher is open
    generation, searcher = ws.index.ix.latest_generation(), ws.index._searcher
    assert poll(ws) == 3
    assert ws.index.ix.latest_generation() == generation
    assert ws.index._searcher is searcher and searcher.up_to_date()  # nothing to reopen, caches kept
    assert ws.index.count("item") == 0 and ws.items.count("item") == 3 and ws.items.count("entry") == 0
    assert ws.items.path == items_index_dir(ws.cfg) == ws.cfg.var_dir / "items-index"
    hits = ws.items.search("quadcopter", kinds=("item",)).hits
    assert {h.title for h in hits} == {
        "Police use prison flight restriction zones to seize a quadcopter",
        "Drone drops of drugs and phones rise at HMP Altcourse",
    }
    assert ws.index.search("quadcopter").total == ws.index.search("quadcopter", kinds=("entry",)).total


def test_finding_14_a_rebuild_puts_items_in_their_own_index_and_a_lost_items_index_is_made_again(ws):
    poll(ws)
    update_index(ws, rebuild=True)
    assert ws.index.count("item") == 0 and ws.items.count("item") == 3
    ws.close()
    shutil.rmtree(ws.items.path)  # the items' index alone is lost: the next run makes it from state.sqlite
    again = Workspace.open(ws.cfg.root)
    try:
        update_index(again)
        assert again.items.count("item") == 3 and again.items.search("quadcopter", kinds=("item",)).total == 2
        assert again.index.count("entry") == 15
    finally:
        again.close()


def test_finding_14_an_entry_index_still_holding_items_is_rebuilt_without_them(ws):
    poll(ws)
    with ws.index.writer() as w:  # as an index written before items had their own
        w.put(**{**entry_document(next(iter(ws.store.entries(ws.cfg.entries_dir)))), "id": "item:1", "kind": "item"})
    assert ws.index.count("item") == 1
    update_index(ws)
    assert ws.index.count("item") == 0 and ws.items.count("item") == 3


def test_finding_14_similarity_scores_items_in_their_index_against_an_entry(ws):
    poll(ws)
    entry = ws.store.entry("consumer-drones", ws.cfg.entries_dir)
    ids = [f"item:{r[0]}" for r in ws.store.db.execute("SELECT id FROM feed_items ORDER BY id")]
    sim = ws.index.similarity(f"entry:{entry.slug}", entry.body, ids, candidates_in=ws.items)
    assert sim.terms and any(share > 0 for share, _ in sim.scores.values())
    assert ws.index.similarity(f"entry:{entry.slug}", entry.body, ids).scores == {}  # not in the entries' index


def test_finding_14_kb_feeds_items_query_searches_the_items_index(ws):
    poll(ws)
    result = CliRunner().invoke(main, ["--root", str(ws.cfg.root), "feeds", "items", "quadcopter", "--json"])
    assert result.exit_code == 0, result.output
    assert "seize a quadcopter" in result.output and "catering award" not in result.output
