"""The fast scorer (kb.ranking) must find what Whoosh finds, and score and order it the same."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from whoosh import query as wq

from kb.index.ranking import Ranker
from kb.sync import update_index
from kb.workspace import Workspace

WORDS = [
    "drone",
    "prison",
    "wall",
    "yard",
    "contraband",
    "relay",
    "attack",
    "keyless",
    "car",
    "wallet",
    "exchange",
    "fraud",
    "seed",
    "phrase",
    "printer",
    "firearm",
    "resin",
    "network",
    "router",
    "password",
    "default",
    "camera",
    "doorbell",
    "phishing",
    "bank",
    "ransomware",
    "payment",
    "crypto",
    "cryptoasset",
    "cryptocurrency",
    "printing",
    "printed",
]
FILLER = [
    "the",
    "market",
    "grew",
    "as",
    "partners",
    "reported",
    "new",
    "cases",
    "and",
    "the",
    "police",
    "asked",
    "for",
    "guidance",
]
SECTORS = ["prisons", "retail", "banking", "policing", "telecoms"]


def write_entry(root: Path, n: int, rng: random.Random) -> None:
    def text(k: int) -> str:
        return " ".join(rng.choice(WORDS) if rng.random() < 0.4 else rng.choice(FILLER) for _ in range(k))

    body = "\n\n".join(text(60).capitalize() + "." for _ in range(3))
    (root / "entries" / f"entry-{n:03d}.md").write_text(f"""---
title: {text(4).capitalize()}
summary: {text(14).capitalize()}.
status: published
tlp: clear
category: devices
horizon: {rng.choice(["now", "1-3y", "3-5y"])}
maturity: growing
reviewed: 2026-01-01
tags: [{", ".join(rng.sample(["drones", "iot", "cryptoassets", "fraud"], 2))}]
sectors: [{", ".join(rng.sample(SECTORS, 2))}]
drivers: [opportunity]
keywords: [{rng.choice(WORDS)}]
risks:
  - id: r1
    title: {text(5).capitalize()}
    description: {text(12).capitalize()}.
    role: tool
    crime_types: [fraud]
    likelihood: {rng.randint(1, 5)}
    impact: {rng.randint(1, 5)}
    confidence: medium
    trend: rising
    measures:
      - actor: manufacturers
        measure: {text(8).capitalize()}.
        mechanism: increase-effort
        status: proposed
sources:
  - title: Source {n}
---
{body}
""")


def build_big(root: Path) -> Workspace:
    (root / "entries").mkdir(parents=True)
    (root / "feeds").mkdir()
    rng = random.Random(7)
    for n in range(120):
        write_entry(root, n, rng)
    ws = Workspace.open(root)
    assert not update_index(ws).errors
    # an edit and a deletion leave deleted documents in the index's segments
    (root / "entries" / "entry-005.md").write_text(
        (root / "entries" / "entry-005.md").read_text().replace("status: published", "status: review")
    )
    (root / "entries" / "entry-006.md").unlink()
    update_index(ws)
    return ws


@pytest.fixture
def big(tmp_path: Path):
    """120 entries, with deleted documents in the index; a test may change it."""
    ws = build_big(tmp_path / "kb")
    yield ws
    ws.close()


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory):
    """The same knowledge base, built once for the tests that only read it."""
    ws = build_big(tmp_path_factory.mktemp("ranking") / "kb")
    yield ws
    ws.close()


SAME_SCORES = [
    "drone",
    "drone AND prison",
    "drone OR prison",
    "drone NOT prison",
    "(drone OR relay) AND NOT wall",
    "wallet AND exchange AND fraud",
    '"relay attack"',
    '"seed phrase"',
    "title:drone",
    "sector:prisons drone",
    "tag:drones",
    "status:published keyless",
    "drone ANDMAYBE prison",  # AndMaybe
    "drone REQUIRE prison",  # Require
    "drone ANDNOT prison",
    '"relay attack"~3',  # a phrase with slop
    '"drone prison"~4',
    "drone^3 prison",  # boosts
    "(drone OR relay)^2 AND wall^0.5",
    'title:drone^2 OR "seed phrase"^4',
]
WHOOSH_RUNS = ["dr?ne", "score:[20 TO 25]"]  # not scored here
PREFIXES = ["drone*", "crypto*", "print*", "title:crypto*^2", "wall* NOT prison", "zzz*"]


@pytest.mark.parametrize("text", SAME_SCORES)
def test_ranker_finds_and_scores_as_whoosh(shared, text):
    idx = shared.index
    query = idx.parse(text)
    with idx._reading() as searcher:
        ours = Ranker(searcher).scores(query)
        theirs = {hit.docnum: hit.score for hit in searcher.search(query, limit=None)}
    assert ours is not None
    assert theirs, "the test corpus should match every query"
    assert set(ours) == set(theirs)
    for docnum, score in theirs.items():
        assert ours[docnum] == pytest.approx(score, rel=1e-9)


@pytest.mark.parametrize("text", PREFIXES)
def test_prefixes_are_scored_as_whoosh_scores_them_in_a_big_index(shared, text, monkeypatch):
    # Over 5,000 documents Whoosh adds up the BM25F scores of a prefix's words (a tree of unions);
    # in this small index it would give each match 1.0, so it is made to choose as a big one does
    monkeypatch.setattr(wq.Or, "matcher_type", wq.Or.DEFAULT_MATCHER)
    idx = shared.index
    query = idx.parse(text)
    with idx._reading() as searcher:
        ours = Ranker(searcher).scores(query)
        theirs = {hit.docnum: hit.score for hit in searcher.search(query, limit=None)}
    assert ours is not None and set(ours) == set(theirs)
    assert bool(theirs) == (text != "zzz*")
    for docnum, score in theirs.items():
        assert ours[docnum] == pytest.approx(score, rel=1e-9)


def test_a_prefix_ranks_notes_by_how_well_its_words_match(shared):
    scores = [h.score for h in shared.index.search("crypto*", per_page=50).hits]
    assert len(set(scores)) > 1 and scores == sorted(scores, reverse=True)


@pytest.mark.parametrize("text", WHOOSH_RUNS)
def test_prefixes_and_other_shapes_are_left_to_whoosh(shared, text):
    idx = shared.index
    query = idx.parse(text)
    with idx._reading() as searcher:
        assert Ranker(searcher).scores(query) is None
        theirs = [(h["slug"], h.score) for h in searcher.search(query, limit=20)]
    ours = [(h.slug, h.score) for h in idx.search(text, per_page=20).hits]
    assert ours == theirs


def test_the_ranker_is_for_one_whoosh_version_and_scorer(big, monkeypatch):
    from importlib.metadata import version

    import whoosh
    from whoosh.scoring import BM25F, TF_IDF

    from kb.index.ranking import WHOOSH_VERSION, Unsupported

    assert version("whoosh-reloaded") == ".".join(map(str, WHOOSH_VERSION))  # pinned in pyproject.toml
    with big.index._reading() as searcher:
        monkeypatch.setattr(searcher, "weighting", BM25F(title_B=0.5))  # a per-field B: refused
        with pytest.raises(Unsupported):
            Ranker(searcher)
        monkeypatch.setattr(searcher, "weighting", TF_IDF())
        with pytest.raises(Unsupported):
            Ranker(searcher)
        monkeypatch.setattr(searcher, "weighting", BM25F())
        monkeypatch.setattr(whoosh, "__version__", (2, 7, 6))
        with pytest.raises(Unsupported):
            Ranker(searcher)


def test_search_results_and_totals_match_whoosh_order(big):
    idx = big.index
    results = idx.search("drone AND prison", per_page=5, page=2)
    with idx._reading() as searcher:
        ranked = [hit["slug"] for hit in searcher.search(idx.parse("drone AND prison"), limit=None)]
    assert results.total == len(ranked)
    assert [h.slug for h in results.hits] == ranked[5:10]


def test_deleted_and_replaced_documents_never_come_back(big):
    found = [h.slug for h in big.index.search("drone OR prison OR wallet OR relay", per_page=500).hits]
    assert "entry-006" not in found  # the file was deleted
    assert len(found) == len(set(found))  # the edited entry once, not once per version
    assert "entry-005" in found


def test_phrase_needs_the_words_next_to_each_other(big):
    entries = big.cfg.entries_dir
    rng = random.Random(1)
    write_entry(entries.parent, 900, rng)
    path = entries / "entry-900.md"
    path.write_text(path.read_text() + "\nA zebrafish escaped, then a quagga walked in.\n")
    write_entry(entries.parent, 901, rng)
    other = entries / "entry-901.md"
    other.write_text(other.read_text() + "\nThe zebrafish quagga study.\n")
    update_index(big)
    assert [h.slug for h in big.index.search('"zebrafish quagga"').hits] == ["entry-901"]
    assert {h.slug for h in big.index.search("zebrafish AND quagga").hits} == {"entry-900", "entry-901"}


def test_snippet_comes_from_the_body_when_the_summary_lacks_the_word(big):
    path = big.cfg.entries_dir / "entry-010.md"
    body_line = "Deep in the text, long after the start, the axolotl appears once."
    path.write_text(path.read_text() + "\n" + " ".join(["filler"] * 400) + "\n" + body_line + "\n")
    update_index(big)
    body = path.read_text()
    hit = big.index.search("axolotls", snippet_text=lambda h: body).hits[0]
    assert hit.slug == "entry-010"
    assert "<mark>axolotl</mark>" in hit.snippet


def test_facet_counts_are_those_of_the_matching_documents(big):
    results = big.index.search("drone", facets=["sector", "horizon"], per_page=1)
    with big.index._reading() as searcher:
        docs = [searcher.stored_fields(d)["slug"] for d in searcher.docs_for_query(big.index.parse("drone"))]
    sectors: dict[str, int] = {}
    for slug in docs:
        for sector in big.store.entry(slug, big.cfg.entries_dir).sectors:
            sectors[sector] = sectors.get(sector, 0) + 1
    assert results.facets["sector"] == dict(sorted(sectors.items(), key=lambda kv: (-kv[1], kv[0])))
    assert sum(results.facets["horizon"].values()) == results.total == len(docs)


def test_queries_the_ranker_does_not_score_still_run(big):
    # a range query is left to Whoosh itself
    assert big.index.search("score:[20 TO 25]", per_page=200).total == sum(
        1 for e in big.store.entries(big.cfg.entries_dir) if 20 <= e.score <= 25 and e.status == "published"
    )


def test_a_full_postings_cache_forgets_old_terms_not_results(big, monkeypatch):
    queries = ["drone", '"relay attack"', "wallet AND exchange", "crypto*", "prison OR yard"]
    expected = {q: [(h.slug, round(h.score, 9)) for h in big.index.search(q, per_page=50).hits] for q in queries}
    big.index.clear_cache()
    monkeypatch.setattr("kb.index.ranking.CACHE_POSTINGS", 40)
    for _ in range(2):
        for q in queries:
            assert [(h.slug, round(h.score, 9)) for h in big.index.search(q, per_page=50).hits] == expected[q]
    assert big.index._ranker._cached <= 40 + max(p.size for p in big.index._ranker._cache.values())
