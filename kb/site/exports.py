"""CSV exports of risks and measures, for spreadsheets. No Flask.

One row per measure (a risk with no measures, or a note with no risks, still gets one row, its
other cells empty), with the columns `COLUMNS`; notes in the order given, each note's risks
highest score first, measures in the note's order. Every row carries its note's TLP label, so the
marking travels with every copy of every row.

Made for Excel as much as for scripts: UTF-8 with a byte-order mark (without it Excel reads the
file in the local code page), CRLF line ends (RFC 4180), and any text cell that starts with `=`,
`+`, `-`, `@`, a tab or a carriage return prefixed with a single quote, so a spreadsheet shows it
as text instead of running it as a formula (CSV injection). Which notes go in is the caller's
business: it passes only what the catalogue says the reader may read.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator

from kb.model import taxonomy as tx
from kb.model.entry import Measure, Risk
from kb.site.catalog import Note
from kb.site.feedout import tlp_label

COLUMNS = ("note", "risk", "likelihood", "impact", "score", "trend", "actor", "measure", "mechanism", "status", "tlp")
BOM = "\ufeff"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
MEDIA_TYPE = "text/csv; charset=utf-8"


def safe(value: str | int) -> str | int:
    """A cell a spreadsheet will not run: text that could start a formula gets a leading quote."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def rows(notes: Iterable[Note]) -> Iterator[list[str | int]]:
    """The rows (without the header) for the notes, every cell made safe."""
    for note in notes:
        label = tlp_label(note.tlp)
        risks: list[Risk | None] = list(note.ranked_risks) or [None]
        for risk in risks:
            measures: list[Measure | None] = list(risk.measures) if risk and risk.measures else [None]
            for measure in measures:
                yield [safe(cell) for cell in [note.entry.title, *_risk_cells(risk), *_measure_cells(measure), label]]


def _risk_cells(risk: Risk | None) -> list[str | int]:
    if risk is None:
        return ["", "", "", "", ""]
    return [risk.title, risk.likelihood, risk.impact, risk.score, tx.label(tx.TREND, risk.trend)]


def _measure_cells(measure: Measure | None) -> list[str | int]:
    if measure is None:
        return ["", "", "", ""]
    return [
        tx.label(tx.ACTORS, measure.actor),
        measure.measure,
        tx.label(tx.MECHANISM, measure.mechanism) if measure.mechanism else "",
        tx.label(tx.MEASURE_STATUS, measure.status),
    ]


def to_csv(notes: Iterable[Note]) -> str:
    """The whole file: byte-order mark, header, rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows(notes))
    return BOM + buffer.getvalue()


def filename(*parts: str) -> str:
    """A download's file name, `horizon-kb-PART-PART.csv`, in letters, digits and hyphens only."""
    words = [re.sub(r"[^a-z0-9]+", "-", part.lower()).strip("-") for part in ("horizon-kb", *parts)]
    return "-".join(w for w in words if w) + ".csv"
