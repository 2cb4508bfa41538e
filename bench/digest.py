"""Benchmark building email digests: 1,000 subscribers x 40 notes (nothing is sent).

Builds a temporary knowledge base with 40 copies of a shipped entry (a third TLP:AMBER shared
with one of two organisations), 1,000 partners subscribed to everything, and times
`Builder.build` for each of them. Prints the total and the time per digest; no target.

    .venv/bin/python bench/digest.py
    .venv/bin/python bench/digest.py --users 200 --notes 20
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kb import digest  # noqa: E402
from kb.accounts import Accounts  # noqa: E402
from kb.site.catalog import Catalog  # noqa: E402
from kb.sync import update_index  # noqa: E402
from kb.workspace import Workspace  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
ORGS = '\n[[organisations]]\nslug = "org-a"\nname = "A"\n\n[[organisations]]\nslug = "org-b"\nname = "B"\n'


def make(root: Path, notes: int) -> None:
    (root / "entries").mkdir(parents=True)
    (root / "feeds").mkdir()
    (root / "config.toml").write_text("[accounts]\ntest_hashing = true\n" + ORGS)
    source = next(p for p in sorted((REPO / "entries").glob("*.md")) if "tlp: clear" in p.read_text())
    text = source.read_text()
    for i in range(notes):
        body = re.sub(r"^title: .*$", f"title: Bench note {i}", text, count=1, flags=re.M)
        if i % 3 == 0:
            body = body.replace("tlp: clear", f"tlp: amber\nshare_with: [org-{'ab'[i % 2]}]", 1)
        (root / "entries" / f"bench-note-{i}.md").write_text(body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--notes", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "kb"
        make(root, args.notes)
        ws = Workspace.open(root)
        update_index(ws)
        accounts = Accounts(ws.store, ws.cfg.accounts)
        subs = digest.Subscriptions(ws.store)
        users = []
        for i in range(args.users):
            user = accounts.add(f"p{i}@example.org", "a long bench password", "partner", org=f"org-{'ab'[i % 2]}")
            users.append((user, subs.save(user.id, "daily", everything=True, since="2000-01-01T00:00:00+00:00")))
        builder = digest.Builder(ws.cfg, Catalog(ws.store, ws.index, ws.cfg.entries_dir), "bench-secret")
        since = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
        until = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
        start = time.perf_counter()
        items = sum(len(builder.build(user, sub, since, until).items) for user, sub in users)
        took = time.perf_counter() - start
        ws.close()
    print(
        f"{args.users} digests x up to {args.notes} notes ({items} items): {took:.2f} s, "
        f"{took / args.users * 1000:.1f} ms per digest"
    )


if __name__ == "__main__":
    main()
