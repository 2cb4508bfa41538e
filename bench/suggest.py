"""Precision and recall of update and new-topic suggestions on the hand-labelled feed items in
tests/data/suggest-labelled.yaml, against the shipped entries/ (issue 14).

    .venv/bin/python bench/suggest.py [-v]     # -v lists the items decided wrongly
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from kb.evaluation import evaluate, load

REPO = Path(__file__).resolve().parent.parent
LABELLED = REPO / "tests" / "data" / "suggest-labelled.yaml"

# The same bench on the code as found before issue 14's changes (update_threshold 0.35, whole-note
# similarity only, watch terms without synonyms, measure text counted as covering a topic).
BEFORE = {"update precision": 0.95, "update recall": 0.91, "topic precision": 1.0, "topic recall": 1.0}


def main() -> None:
    labelled = load(LABELLED)
    with tempfile.TemporaryDirectory() as tmp:
        scores = evaluate(REPO / "entries", labelled, Path(tmp) / "kb")
    now = {
        "update precision": scores.update_precision,
        "update recall": scores.update_recall,
        "topic precision": scores.topic_precision,
        "topic recall": scores.topic_recall,
    }
    print(f"{len(labelled)} labelled items against {REPO / 'entries'}")
    print(f"{'':18} {'before':>7} {'now':>7}")
    for name, value in now.items():
        print(f"{name:18} {BEFORE[name]:>7.0%} {value:>7.0%}")
    if "-v" in sys.argv:
        for line in scores.wrong:
            print("  wrong:", line)


if __name__ == "__main__":
    main()
