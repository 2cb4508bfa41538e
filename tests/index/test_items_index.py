"""Issue 14: feed items have their own index (SQLite FTS5 in `var/items-index/`), so a poll never
commits to the entries' index (nor throws away its searcher and caches); rebuilds, suggestions
and `kb feeds items QUERY` use the items' index."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from feedserver import feed_server, feed_yaml, feeds_kb  # noqa: F401
from whoosh.filedb.filestore import FileStorage
from whoosh.query import Or, Term
from whoosh.reading import MultiReader
from whoosh.searching import Searcher

from kb.cli.main import main
from kb.feeds import items as feed_items
from kb.feeds.poller import Poller
from kb.index.items import FILE
from kb.index.search import SCHEMA, Index, entry_document
from kb.index.similar import Collection
from kb.index.terms import STEM, terms
from kb.suggest.text import STOPWORDS
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


def _whoosh_similarity(ws: Workspace, entry_slug: str, text: str, numterms: int) -> dict[str, float]:
    """The model as Whoosh computes it, with the items in a Whoosh index of the same schema beside
    the entries' (how it was computed before items moved to FTS5): the reference."""
    (ws.cfg.root / "whoosh-items").mkdir(exist_ok=True)
    items_ix = FileStorage(str(ws.cfg.root / "whoosh-items")).create_index(SCHEMA)
    with items_ix.writer() as w:
        for doc in feed_items.pending_documents(
            ws.store, ids=[r[0] for r in ws.store.db.execute("SELECT id FROM feed_items")]
        ):
            w.add_document(**{k: v for k, v in doc.items() if k != "summary"})
    reader = MultiReader([ws.index.ix.reader(), items_ix.reader()])
    with Searcher(reader) as searcher:
        stems = searcher.key_terms_from_text("body", text, numterms=numterms * 2)
        stems = [(t, w) for t, w in stems if t not in STOPWORDS][:numterms]
        query = Or([Term(name, t, boost=w) for t, w in stems for name in ("title", "body")])
        base = searcher.search(query, filter=Term("id", f"entry:{entry_slug}"), limit=1)[0].score
        items_only = Term("kind", "item")
        return {
            hit["id"]: round(min(1.0, hit.score / base), 3)
            for hit in searcher.search(query, filter=items_only, limit=None)
        }


def test_finding_14_similarity_of_items_in_their_fts5_index_is_whooshs_model_over_both_indexes(ws):
    poll(ws)
    entry = ws.store.entry("consumer-drones", ws.cfg.entries_dir)
    document = entry_document(entry)
    ids = [r[0] for r in ws.store.db.execute("SELECT id FROM feed_items ORDER BY id")]
    collection = Collection(ws.index.reader(), ws.items)
    try:
        for text, numterms in ((entry.body, 15), (entry.risks[0].description, 10)):
            sim = collection.similarity((document["title"], document["body"]), text, ids, numterms, STOPWORDS)
            assert sim.terms and any(share > 0 for share, _ in sim.scores.values())
            expected = _whoosh_similarity(ws, entry.slug, text, numterms)
            assert {k: v for k, v in expected.items() if v} == {k: s for k, (s, _) in sim.scores.items() if s}
    finally:
        collection.close()


def test_finding_14_the_items_analyser_makes_the_terms_whoosh_makes(ws):
    text = "\n".join(p.read_text() for p in sorted(ws.cfg.entries_dir.glob("*.md")))
    text += " İstanbul ŞEHİR straße ǅemal x.y.z 3.5 a_b **bold** naïve café 10,000 U.K. über Ⅻ ½ 𝔘nicode wi*ld"
    assert terms(text) == [t.text for t in STEM(text)]


def test_finding_14_kb_feeds_items_query_searches_the_items_index(ws):
    poll(ws)
    result = CliRunner().invoke(main, ["--root", str(ws.cfg.root), "feeds", "items", "quadcopter", "--json"])
    assert result.exit_code == 0, result.output
    assert "seize a quadcopter" in result.output and "catering award" not in result.output


def test_a_damaged_items_index_is_made_again_by_the_next_kb_index(ws):
    poll(ws)
    ws.close()
    (ws.items.path / FILE).write_bytes(b"not a database" * 1000)
    for extra in ws.items.path.glob(f"{FILE}-*"):
        extra.unlink()
    again = Workspace.open(ws.cfg.root)
    try:
        update_index(again)
        assert again.items.count("item") == 3 and again.items.search("quadcopter").total == 2
    finally:
        again.close()


def test_an_items_index_from_before_fts5_is_rebuilt_with_every_item(ws):
    poll(ws)
    docs = list(feed_items.pending_documents(ws.store, ids=[1, 2, 3]))
    ws.close()
    shutil.rmtree(ws.items.path)  # as a var/ from the last version: a Whoosh index in items-index/
    old = Index(ws.items.path)
    with old.writer() as w:
        for doc in docs:
            w.put(**doc)
    old.close()
    again = Workspace.open(ws.cfg.root)
    try:
        update_index(again)
        assert again.items.count("item") == 3 and again.items.search("quadcopter").total == 2
        assert not list(again.items.path.glob("*.toc"))  # the Whoosh files are gone with the old folder
    finally:
        again.close()
