"""Issue 14: suggestions a triager trusts, measured on the hand-labelled items in
tests/data/suggest-labelled.yaml against the frozen 15-entry copy (tests/data/suggest-entries/),
plus the findings by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from kb.evaluation import Scores, evaluate, load

DATA = Path(__file__).parent.parent / "data"
FROZEN = DATA / "suggest-entries"


@pytest.fixture(scope="module")
def scores(tmp_path_factory: pytest.TempPathFactory) -> Scores:
    labelled = load(DATA / "suggest-labelled.yaml", {p.stem for p in FROZEN.glob("*.md")})
    assert len(labelled) >= 60
    return evaluate(FROZEN, labelled, tmp_path_factory.mktemp("labelled") / "kb")


def test_the_labelled_set_reaches_its_floors(scores):
    # before issue 14 on this set: update precision 85 %, recall 85 %, topic recall 64 %
    assert scores.update_precision >= 0.88 and scores.update_recall >= 0.88
    assert scores.topic_recall >= 0.95


def test_finding_14_drone_light_show_is_not_an_update(scores):
    assert scores.outcomes["Drone light show lights up the sky for New Year's Eve in Edinburgh"][0] != "update"


def test_finding_14_ransomware_item_is_an_update_for_cryptoassets(scores):
    for title in (
        "Ransomware gang leaks patient data after hospital trust refuses to pay",
        "Retailer hit by ransomware attack; criminals demand cryptocurrency ransom payment",
    ):
        assert scores.outcomes[title] == ("update", ("cryptoassets",))


def test_finding_14_sim_farm_cluster_named_only_in_a_measure_is_a_new_topic(scores):
    sim = [t for t in scores.outcomes if "SIM farm" in t]
    assert len(sim) == 4 and all(scores.outcomes[t][0] == "topic" for t in sim)


def test_finding_14_a_synonym_of_a_watch_term_counts_as_the_term():
    from kb.model import synonyms
    from kb.model.entry import read_entry
    from kb.suggest.text import WatchTerms

    entry, _ = read_entry(DATA.parent.parent / "entries" / "sim-farms-sms-blasters.md")
    groups, _ = synonyms.read(DATA.parent.parent / "entries" / "synonyms.yaml")
    text = "Police seized a SIM box holding 200 cards in a flat"
    assert WatchTerms([entry]).find(text) == {}
    assert WatchTerms([entry], [g.terms for g in groups]).find(text) == {"sim-farms-sms-blasters": ["SIM farm"]}
