"""Suggestions from fixture feeds about the shipped entries: the right entries get update
suggestions, a cluster of items about a technology with no entry gives one new-topic
suggestion, dismissals stick, and accepting edits entry files safely."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from feedserver import feed_server, feed_yaml, feeds_kb  # noqa: F401

from kb import suggest, triage
from kb.cli.main import main
from kb.model.entry import read_entry
from kb.sync import update_index
from kb.watch import open_poller
from kb.workspace import Workspace

FIXTURES = [
    "/feeds/rss2.xml",
    "/feeds/atom.xml",
    "/feeds/rss1.rdf",
    "/feeds/topics-a.xml",
    "/feeds/topics-b.xml",
    "/feeds/topics-c.xml",
]
GLASSES = {
    "Smart glasses used to film strangers covertly on trains",
    "Students pair smart glasses with facial recognition to identify passers-by",
    "Regulator asks makers of smart glasses to make recording obvious",
    "Shoplifting gangs wear smart glasses to scout store layouts",
}


@pytest.fixture
def polled(feeds_kb, feed_server) -> Iterator[Workspace]:  # noqa: F811
    (feeds_kb / "feeds" / "feeds.yaml").write_text(
        feed_yaml([(feed_server.url(p), p.split("/")[-1].split(".")[0].title()) for p in FIXTURES])
    )
    ws = Workspace.open(feeds_kb)
    update_index(ws)
    with open_poller(ws) as p:
        report = p.poll()
    assert report.count("new") == len(FIXTURES)
    yield ws
    ws.close()


def updates(ws: Workspace, status: str | None = "open") -> dict[tuple[str, str], dict]:
    out = {}
    for s in suggest.listing(ws, status, "update"):
        full = suggest.get(ws, s["id"])
        out[(s["entry_slug"], full["items"][0]["title"])] = full
    return out


def test_the_right_entries_get_update_suggestions(polled):
    got = updates(polled)
    expected = {
        ("consumer-drones", "Drone drops of drugs and phones rise at HMP Altcourse"),
        ("consumer-drones", "Police use prison flight restriction zones to seize a quadcopter"),
        ("3d-printing", "Police seize 3D-printed gun parts and an FGC-9 in a workshop raid"),
        ("cryptoassets", "Unlicensed crypto ATM operator jailed for laundering bitcoin"),
        ("keyless-car-entry", "Thieves use relay attack to steal keyless cars from driveways"),
        ("deepfakes", "Voice cloning scam: deepfake call of a chief executive tricks finance team"),
        ("e-scooters-e-bikes", "E-bike battery fire: conversion kit blamed for flat blaze"),
    }
    assert expected <= set(got)
    titles = {title for _, title in got}
    for unrelated in (
        "Kitchen staff win catering award",
        "Additive manufacturing show opens in Birmingham",
        "Allotment society celebrates record pumpkin harvest",
        "Library extends opening hours for exam season",
        "Orchestra announces spring concert programme",
        *GLASSES,
    ):
        assert unrelated not in titles
    assert ("smart-locks", "Thieves use relay attack to steal keyless cars from driveways") not in got  # a weaker match
    drones = got[("consumer-drones", "Police use prison flight restriction zones to seize a quadcopter")]
    assert drones["reasons"][0].startswith("strong match: 4 watch terms (")  # in words, no raw scores
    assert "flight restriction zone" in drones["reasons"][0] and "close to the risk *" in drones["reasons"][0]
    assert drones["reasons"][2] == "from the feed Rss2"
    catering = next(
        polled.store.db.query("SELECT decision, decision_reason FROM feed_items WHERE title LIKE 'Kitchen%'")
    )
    assert catering["decision"] == "none" and catering["decision_reason"].startswith("nothing:")


def test_a_cluster_about_a_technology_with_no_entry_gives_one_new_topic(polled):
    topics = suggest.listing(polled, "open", "new-topic")
    assert len(topics) == 1
    topic = suggest.get(polled, topics[0]["id"])
    assert topic["title"] == "Smart glasses" and topic["keywords"][0] == "smart glasses"
    assert {i["title"] for i in topic["items"]} == GLASSES
    assert topic["reasons"][0] == "'smart glasses' appears in 4 items from 3 feeds in the last 14 days and not before"
    assert topic["reasons"][1].startswith("no entry is about it")


def test_dismissed_suggestions_never_come_back(polled):
    topic = suggest.listing(polled, "open", "new-topic")[0]
    triage.dismiss(polled, topic["id"], by="tester", note="not a crime risk yet")
    drone = next(s for (slug, _), s in updates(polled).items() if slug == "consumer-drones")
    triage.dismiss(polled, drone["id"], by="tester")
    item_ids = [r[0] for r in polled.store.db.execute("SELECT id FROM feed_items")]
    again = suggest.process(polled, item_ids)  # everything decided again, from scratch
    assert again.updates == [] and again.topics == [] and again.extended == []
    assert suggest.listing(polled, "open", "new-topic") == []
    assert suggest.get(polled, topic["id"])["status"] == "dismissed"
    assert suggest.get(polled, topic["id"])["decided_by"] == "tester"
    with pytest.raises(Exception, match="dismissed already"):
        triage.dismiss(polled, topic["id"])


def test_accepting_an_update_adds_the_source_and_nothing_else(polled):
    s = updates(polled)[("3d-printing", "Police seize 3D-printed gun parts and an FGC-9 in a workshop raid")]
    path = polled.cfg.entries_dir / "3d-printing.md"
    before = path.read_text()
    result = triage.accept(polled, s["id"], by="tester")
    assert result.message == "added 1 source to entries/3d-printing.md"
    after = path.read_text()
    added = [line for line in after.splitlines() if line not in before.splitlines()]
    assert added == [
        '  - title: "Police seize 3D-printed gun parts and an FGC-9 in a workshop raid"',
        '    publisher: "Atom"',
        '    url: "https://firearms-monitor.example/2026/fgc-9-raid"',
        added[3],
    ]
    assert added[3].startswith("    date: 20")
    assert len(after.splitlines()) == len(before.splitlines()) + 4
    assert after.split("\n---\n", 1)[1] == before.split("\n---\n", 1)[1]  # the body is untouched
    entry, problems = read_entry(path)
    assert entry is not None and entry.sources[-1].url == "https://firearms-monitor.example/2026/fgc-9-raid"
    row = polled.store.entry("3d-printing", polled.cfg.entries_dir)
    assert row.sources[-1].publisher == "Atom"  # re-indexed
    assert suggest.get(polled, s["id"])["status"] == "accepted"


def test_accepting_a_new_topic_writes_a_draft(polled):
    topic = suggest.listing(polled, "open", "new-topic")[0]
    result = triage.accept(polled, topic["id"])
    assert result.path == polled.cfg.entries_dir / "smart-glasses.md"
    entry, problems = read_entry(result.path)
    assert entry is not None and not [p for p in problems if p.severity == "error"]
    assert entry.status == "draft" and entry.title == "Smart glasses" and "smart glasses" in entry.keywords
    assert {s.title for s in entry.sources} == GLASSES and all(s.url for s in entry.sources)
    assert polled.store.entry_row("smart-glasses") is not None  # indexed at once
    again = suggest.process(polled, [r[0] for r in polled.store.db.execute("SELECT id FROM feed_items")])
    assert again.topics == []


def test_kb_suggestions_commands(polled):
    root = str(polled.cfg.root)

    def run(*args: str):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(main, ["--root", root, *args], catch_exceptions=False)

    listing = run("suggestions", "list")
    assert listing.exit_code == 0 and "new topic: Smart glasses  (4 items, open)" in listing.output
    assert "update consumer-drones: Add to Consumer drones:" in listing.output
    topic_id = suggest.listing(polled, "open", "new-topic")[0]["id"]
    shown = run("suggestions", "show", str(topic_id))
    assert "why:" in shown.output and "items (4):" in shown.output and "Smart glasses used to film" in shown.output
    assert (
        run("suggestions", "dismiss", str(topic_id), "--note", "later").output == f"dismissed suggestion {topic_id}\n"
    )
    twice = run("suggestions", "accept", str(topic_id))
    assert twice.exit_code == 1 and f"suggestion {topic_id} is dismissed already" in twice.output
    update_id = suggest.listing(polled, "open", "update")[0]["id"]
    accepted = run("suggestions", "accept", str(update_id))
    assert accepted.exit_code == 0 and accepted.output.startswith("added 1 source to entries/")
    assert "(1 item, accepted)" in run("suggestions", "list", "--status", "accepted").output
    missing = run("suggestions", "show", "9999")
    assert missing.exit_code == 1 and "no suggestion 9999" in missing.output
    assert run("suggestions", "list", "--kind", "new-topic").output.startswith("no open suggestions")


def test_finding_4_items_a_killed_poll_left_undecided_get_decisions(feeds_kb, feed_server):  # noqa: F811
    (feeds_kb / "feeds" / "feeds.yaml").write_text(
        feed_yaml([(feed_server.url(p), p.split("/")[-1].split(".")[0].title()) for p in FIXTURES])
    )
    ws = Workspace.open(feeds_kb)
    update_index(ws)
    with open_poller(ws) as p:
        p.poll(suggest=False)  # items stored and indexed, then the process "dies" before suggesting
        undecided = ws.store.db.execute("SELECT count(*) FROM feed_items WHERE decision = ''").fetchone()[0]
        assert undecided > 0
        again = p.poll()  # every feed answers 304 now: no new items
        assert again.new_ids == [] and again.count("not-modified") == len(FIXTURES)
    left = ws.store.db.execute("SELECT count(*) FROM feed_items WHERE coalesce(decision, '') = ''").fetchone()[0]
    assert left == 0
    assert updates(ws)  # and the updates were found
    ws.close()
