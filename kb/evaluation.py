"""Measure suggestions against a hand-labelled set of feed items (`tests/data/suggest-labelled.yaml`):
used by `bench/suggest.py` and the tests. Builds a throwaway knowledge base of the given entries,
stores the items as if polled from four feeds over the last days, runs `kb.suggest.process` and
compares each item's outcome with its label.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from kb.feeds import items as feed_items
from kb.feeds.items import Item
from kb.store.transactions import writing
from kb.suggest.run import process
from kb.sync import update_index
from kb.workspace import Workspace

FEEDS = 4


@dataclass
class Labelled:
    title: str
    text: str
    expect: str  # "update", "topic" or "irrelevant"
    entries: tuple[str, ...] = ()  # for an update: the entries it may go to


@dataclass
class Scores:
    update_precision: float
    update_recall: float
    topic_precision: float
    topic_recall: float
    outcomes: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)  # title -> (kind, slugs)
    wrong: list[str] = field(default_factory=list)


def _parse(label: str) -> tuple[str, tuple[str, ...]]:
    kind, *slugs = label.split()
    return kind, tuple(slugs)


def load(path: Path, frozen: set[str] | None = None) -> list[Labelled]:
    """The labelled items; with `frozen` (the slugs of the frozen copy), as expected against it."""
    out = []
    for raw in yaml.safe_load(path.read_text())["items"]:
        kind, slugs = _parse(raw["expect"])
        if frozen is not None:
            if "frozen" in raw:
                kind, slugs = _parse(raw["frozen"])
            elif kind == "update":
                slugs = tuple(s for s in slugs if s in frozen)
                kind = "update" if slugs else "irrelevant"
        out.append(Labelled(raw["title"], raw["text"], kind, slugs))
    return out


def build(root: Path, entries_dir: Path, labelled: list[Labelled]) -> Workspace:
    """A knowledge base at `root` with a copy of `entries_dir` and the items stored and indexed."""
    shutil.copytree(entries_dir, root / "entries")
    (root / "feeds").mkdir()
    urls = [f"https://feed-{n}.example/rss" for n in range(FEEDS)]
    lines = ["feeds:"] + [f"  - url: {u}\n    title: Feed {n}\n    enabled: false" for n, u in enumerate(urls)]
    (root / "feeds" / "feeds.yaml").write_text("\n".join(lines) + "\n")
    ws = Workspace.open(root)
    update_index(ws)
    moment = dt.datetime.now(dt.UTC).replace(microsecond=0)
    with writing(ws.store.db):
        for n, url in enumerate(urls):
            ws.store.db["feed_state"].insert({"url": url, "title": f"Feed {n}"})
        ids = {r[1]: r[0] for r in ws.store.db.execute("SELECT id, url FROM feed_state")}
        for n, label in enumerate(labelled):
            url = urls[n % FEEDS]
            digest = hashlib.sha256(label.title.encode()).hexdigest()[:16]
            when = (moment - dt.timedelta(hours=7 * n % 200)).isoformat()
            item = Item(
                digest, digest, f"https://news.example/{digest}", label.title, "", "", "", label.text, when, digest
            )
            feed_items.store_items(ws.store, ids[url], url, [item])
    with writing(ws.store.db), ws.items.writer() as writer:
        feed_items.mark_indexed(ws.store, feed_items.index_pending(ws.store, writer))
    return ws


def outcomes(ws: Workspace) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Item title -> ("update", slugs), ("topic", ()) or ("irrelevant", ())."""
    db = ws.store.db
    out: dict[str, tuple[str, tuple[str, ...]]] = {
        r[0]: ("irrelevant", ()) for r in db.execute("SELECT title FROM feed_items")
    }
    for title in {r[0] for r in db.execute(_LINKED, ["new-topic"])}:
        out[title] = ("topic", ())
    slugs: dict[str, list[str]] = {}
    for title, slug in db.execute(_LINKED.replace("i.title", "i.title, s.entry_slug"), ["update"]):
        slugs.setdefault(title, []).append(slug)
    out.update({t: ("update", tuple(sorted(s))) for t, s in slugs.items()})
    return out


_LINKED = (
    "SELECT i.title FROM suggestions s JOIN suggestion_items si ON si.suggestion_id = s.id "
    "JOIN feed_items i ON i.id = si.item_id WHERE s.kind = ?"
)


def _share(num: int, den: int) -> float:
    return num / den if den else 1.0


def evaluate(entries_dir: Path, labelled: list[Labelled], root: Path) -> Scores:
    ws = build(root, entries_dir, labelled)
    try:
        process(ws, [r[0] for r in ws.store.db.execute("SELECT id FROM feed_items ORDER BY id")])
        got = outcomes(ws)
    finally:
        ws.close()
    return score(labelled, got)


def score(labelled: list[Labelled], got: dict[str, tuple[str, tuple[str, ...]]]) -> Scores:
    pairs = right_pairs = upd_expected = upd_found = topic_got = topic_right = topic_expected = 0
    wrong = []
    for label in labelled:
        kind, slugs = got.get(label.title, ("irrelevant", ()))
        pairs += len(slugs)
        right = [s for s in slugs if label.expect == "update" and s in label.entries]
        right_pairs += len(right)
        upd_expected += label.expect == "update"
        upd_found += bool(right)
        topic_got += kind == "topic"
        topic_right += kind == "topic" and label.expect == "topic"
        topic_expected += label.expect == "topic"
        if (kind, set(slugs) <= set(label.entries)) != (label.expect, True) or (label.expect == "update" and not right):
            wrong.append(
                f"{label.title}: expected {label.expect} {' '.join(label.entries)}, got {kind} {' '.join(slugs)}"
            )
    return Scores(
        _share(right_pairs, pairs),
        _share(upd_found, upd_expected),
        _share(topic_right, topic_got),
        _share(topic_right, topic_expected),
        got,
        wrong,
    )
