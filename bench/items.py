"""Feed item indexing (issue 14): the items' FTS5 index beside the Whoosh index items had before,
and a plain FTS5 table as the floor, in the same run.

Makes N synthetic items (titles and texts drawn from the shipped entries' words, 40-250 words
each, as feed summaries are), then times, for each side:
  - a first poll: all N items written through one writer (one commit);
  - later polls: batches of 20 items (one feed's new items), each its own commit, into an index
    that already holds the N items.
Prints milliseconds per item and the ratios. No assertions: the issue's target (at least 5x
faster than the Whoosh index) is printed beside the numbers.

    .venv/bin/python bench/items.py               # 5,000 items
    .venv/bin/python bench/items.py --items 20000
"""

from __future__ import annotations

import argparse
import random
import re
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kb.feeds import items
from kb.index.items import ItemIndex
from kb.index.search import Index

REPO = Path(__file__).resolve().parent.parent
BATCH = 20  # items one feed brings to a later poll
BATCHES = 50
TARGET = 5.0  # at least this many times faster than Whoosh


def make_rows(n: int, seed: int = 14) -> list[dict[str, Any]]:
    words = re.findall(r"[A-Za-z][A-Za-z'-]+", " ".join(p.read_text() for p in (REPO / "entries").glob("*.md")))
    rnd = random.Random(seed)
    return [
        {
            "id": i + 1,
            "feed_id": i % 60,
            "title": " ".join(rnd.choices(words, k=rnd.randint(5, 14))).capitalize(),
            "text": " ".join(rnd.choices(words, k=rnd.randint(40, 250))) + ".",
            "link": f"https://feeds.example/{i % 60}/{i}",
            "published": "2026-11-01T10:00:00+00:00",
            "first_seen": None,
        }
        for i in range(n)
    ]


class Fts5Floor:
    """A plain FTS5 table over the raw text (porter tokenizer): what SQLite alone costs."""

    def __init__(self, folder: Path):
        self.db = sqlite3.connect(folder / "floor.sqlite", isolation_level=None)
        self.db.execute("PRAGMA journal_mode = WAL")
        self.db.execute("PRAGMA synchronous = FULL")
        self.db.execute("CREATE VIRTUAL TABLE t USING fts5(title, body, tokenize = 'porter unicode61')")

    @contextmanager
    def writer(self) -> Iterator[Any]:
        self.db.execute("BEGIN IMMEDIATE")
        yield self
        self.db.execute("COMMIT")

    def put(self, **doc: Any) -> None:
        rowid = int(doc["id"].split(":")[1])
        self.db.execute("DELETE FROM t WHERE rowid = ?", (rowid,))
        self.db.execute("INSERT INTO t(rowid, title, body) VALUES (?, ?, ?)", (rowid, doc["title"], doc["body"]))


def timed(
    open_writer: Callable[[], Any], docs: list[dict[str, Any]], later: list[dict[str, Any]]
) -> tuple[float, float]:
    """(ms per item of the first poll, ms per item of later polls)."""
    start = time.perf_counter()
    with open_writer() as w:
        for doc in docs:
            w.put(**doc)
    first = (time.perf_counter() - start) * 1000 / len(docs)
    start = time.perf_counter()
    for at in range(0, len(later), BATCH):
        with open_writer() as w:
            for doc in later[at : at + BATCH]:
                w.put(**doc)
    return first, (time.perf_counter() - start) * 1000 / len(later)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--items", type=int, default=5000, help="items in the first poll (default: 5000)")
    args = ap.parse_args()
    rows = make_rows(args.items + BATCH * BATCHES)
    docs = [items.document(r, ("security", "news")) for r in rows]
    first, later = docs[: args.items], docs[args.items :]
    words = sum(len(r["text"].split()) for r in rows) / len(rows)
    print(f"{args.items:,} items in the first poll, then {BATCHES} polls of {BATCH}; {words:.0f} words an item")
    results = {}
    with tempfile.TemporaryDirectory(prefix="kb-bench-items-") as tmp:
        folder = Path(tmp)
        whoosh = Index(folder / "whoosh")  # how items were indexed before: Whoosh, the entries' schema
        results["Whoosh (before)"] = timed(lambda: whoosh.writer(bulk=True), first, later)
        whoosh.close()
        fts = ItemIndex(folder / "items-index")
        results["items' FTS5 index (now)"] = timed(fts.writer, first, later)
        fts.close()
        floor = Fts5Floor(folder)
        results["plain FTS5 table (floor)"] = timed(floor.writer, first, later)
        floor.db.close()
    before = results["Whoosh (before)"]
    print(f"\n{'':28} {'first poll':>14} {'later polls':>14}   {'faster than before':>20}")
    for name, (a, b) in results.items():
        print(f"{name:28} {a:10.3f} ms/item {b:8.3f} ms/item   {before[0] / a:8.1f}x {before[1] / b:8.1f}x")
    now = results["items' FTS5 index (now)"]
    floor_ = results["plain FTS5 table (floor)"]
    print(f"\nnow / floor: {now[0] / floor_[0]:.1f}x (first poll), {now[1] / floor_[1]:.1f}x (later polls)")
    print(
        f"target: at least {TARGET:.0f}x faster than before: "
        + ("met" if min(before[0] / now[0], before[1] / now[1]) >= TARGET else "MISSED")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
