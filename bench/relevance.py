"""Search relevance (issue 14): how often the right note is in the top 3 for queries people type.

Copies the shipped `entries/` (notes and `synonyms.yaml`) into a temporary knowledge base,
indexes it, runs every query of `tests/data/relevance.yaml` as `kb search` does (everything,
no audience filter) and prints the pass rate, then each query that failed with what came first.

    .venv/bin/python bench/relevance.py              # the pass rate and the failures
    .venv/bin/python bench/relevance.py --verbose    # every query, with notes on the results
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from kb.sync import update_index
from kb.workspace import Workspace

REPO = Path(__file__).resolve().parent.parent
CASES = REPO / "tests" / "data" / "relevance.yaml"
TOP = 3


@dataclass
class Outcome:
    query: str
    wanted: list[str]
    got: list[str]  # the first TOP slugs
    notes: str  # what the results said: some words only, a correction, a suggestion

    @property
    def passed(self) -> bool:
        return set(self.wanted) <= set(self.got)


def cases(path: Path = CASES) -> list[tuple[str, list[str]]]:
    return [(str(c["q"]), list(c["top3"])) for c in yaml.safe_load(path.read_text(encoding="utf-8"))]


def knowledge_base(into: Path, entries: Path = REPO / "entries") -> Path:
    """A knowledge base in `into` holding a copy of `entries` (and no feeds)."""
    root = into / "kb"
    shutil.copytree(entries, root / "entries")
    (root / "feeds").mkdir()
    (root / "config.toml").write_text("[accounts]\ntest_hashing = true\n", encoding="utf-8")
    return root


def evaluate(root: Path, queries: list[tuple[str, list[str]]]) -> list[Outcome]:
    ws = Workspace.open(root)
    try:
        update_index(ws)
        out = []
        for text, wanted in queries:
            results = ws.index.search(text, per_page=TOP)
            said = [
                f"{name}={value!r}"
                for name in ("partial", "corrected", "suggestion")
                if (value := getattr(results, name, None))  # absent before issue 14
            ]
            out.append(Outcome(text, wanted, [h.slug for h in results.hits], " ".join(said)))
        return out
    finally:
        ws.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", action="store_true", help="print every query, not only the failures")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        outcomes = evaluate(knowledge_base(Path(tmp)), cases())
    passed = sum(o.passed for o in outcomes)
    for o in outcomes:
        if args.verbose or not o.passed:
            mark = "ok  " if o.passed else "FAIL"
            print(f"{mark} {o.query!r}: want {', '.join(o.wanted)}; got {', '.join(o.got) or '(nothing)'} {o.notes}")
    print(f"\n{passed} of {len(outcomes)} queries have the right notes in the top {TOP}: {passed / len(outcomes):.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
