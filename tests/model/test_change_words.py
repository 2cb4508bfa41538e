"""What changed, in words a partner reads: likelihood and impact, not only the score; actors by name."""

import copy
from pathlib import Path

from conftest import DATA

from kb.model.changes import describe
from kb.model.entry import read_entry
from kb.model.serial import entry_to_dict

TITLE = "Delivery of contraband into prisons"


def note() -> dict:
    entry, problems = read_entry(DATA / "entries" / "prison-drones.md", display=Path("entries/prison-drones.md"))
    assert problems == []
    return entry_to_dict(entry)


def rated(data: dict, likelihood: int, impact: int) -> dict:
    new = copy.deepcopy(data)
    risk = new["risks"][0]
    assert risk["title"] == TITLE
    risk["likelihood"], risk["impact"], risk["score"] = likelihood, impact, likelihood * impact
    return new


def test_finding_1_a_likelihood_change_is_said_as_likelihood_not_score():
    old = note()  # contraband: likelihood 5, impact 3
    assert describe(old, rated(old, 4, 3)) == [f'Likelihood of "{TITLE}" lowered from 5 to 4']
    assert describe(rated(old, 4, 3), old) == [f'Likelihood of "{TITLE}" raised from 4 to 5']


def test_finding_1_an_impact_change_is_said_as_impact_not_score():
    old = note()
    assert describe(old, rated(old, 5, 2)) == [f'Impact of "{TITLE}" lowered from 3 to 2']


def test_finding_1_both_changed_is_two_sentences_and_no_score_sentence():
    old = note()
    changes = describe(old, rated(old, 4, 4))  # 15 -> 16
    assert changes == [f'Likelihood of "{TITLE}" lowered from 5 to 4', f'Impact of "{TITLE}" raised from 3 to 4']
    assert not any("from 15 to 16" in c for c in changes)


def test_finding_1_the_score_sentence_stays_when_likelihood_and_impact_do_not_explain_it():
    """A version stored without likelihood and impact (or with only the score changed) still says the score."""
    old = note()
    for risk in old["risks"]:
        del risk["likelihood"], risk["impact"]
    new = copy.deepcopy(old)
    new["risks"][0]["score"] = 12
    assert describe(old, new) == [f'Risk "{TITLE}" lowered from 15 to 12']


def test_finding_1_a_new_measure_names_the_actor_in_readers_words():
    old = note()
    new = copy.deepcopy(old)
    new["risks"][0]["measures"].append(
        {"actor": "telecoms", "measure": "Block drone control links near prisons.", "status": "proposed"}
    )
    new["risks"][0]["measures"].append(
        {"actor": "manufacturers", "measure": "Refuse flight plans over prisons.", "status": "proposed"}
    )
    assert describe(old, new) == [
        "New measure for telecoms providers: Block drone control links near prisons.",
        "New measure for manufacturers: Refuse flight plans over prisons.",
    ]
