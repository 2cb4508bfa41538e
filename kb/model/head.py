"""An entry's head: the few fields every list, filter and access check needs, without its text.

The site keeps one head per note in memory and loads whole entries only for the notes a page
shows, so a knowledge base of 10,000 notes starts in a fraction of a second and stays small.
The store keeps each head as JSON beside the entry (`entries.head`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from kb import clock
from kb.model.entry import Entry


@dataclass(frozen=True)
class RiskHead:
    """What lists of risks show: enough to rank them and link to the risk."""

    id: str
    title: str
    likelihood: int
    impact: int
    trend: str

    @property
    def score(self) -> int:
        return self.likelihood * self.impact


@dataclass(frozen=True)
class Head:
    slug: str
    title: str
    summary: str
    status: str
    tlp: str
    share_with: tuple[str, ...]
    category: str
    horizon: str
    maturity: str
    reviewed: dt.date
    tags: tuple[str, ...]
    sectors: tuple[str, ...]
    all_drivers: tuple[str, ...]
    risks: tuple[RiskHead, ...]

    @property
    def score(self) -> int:
        """The highest risk score, as `Entry.score`."""
        return max((r.score for r in self.risks), default=0)

    def review_due(self, review_days: int) -> dt.date:
        return self.reviewed + dt.timedelta(days=review_days)

    def is_overdue(self, review_days: int, today: dt.date | None = None) -> bool:
        return (today or clock.today()) > self.review_due(review_days)


def head_to_dict(entry: Entry) -> dict[str, Any]:
    return {
        "title": entry.title,
        "summary": entry.summary,
        "status": entry.status,
        "tlp": entry.tlp,
        "share_with": list(entry.share_with),
        "category": entry.category,
        "horizon": entry.horizon,
        "maturity": entry.maturity,
        "reviewed": entry.reviewed.isoformat(),
        "tags": list(entry.tags),
        "sectors": list(entry.sectors),
        "drivers": list(entry.all_drivers),
        "risks": [[r.id, r.title, r.likelihood, r.impact, r.trend] for r in entry.risks],
    }


def head_from_dict(slug: str, data: dict[str, Any]) -> Head:
    return Head(
        slug=slug,
        title=data["title"],
        summary=data["summary"],
        status=data["status"],
        tlp=data["tlp"],
        share_with=tuple(data["share_with"]),
        category=data["category"],
        horizon=data["horizon"],
        maturity=data["maturity"],
        reviewed=dt.date.fromisoformat(data["reviewed"]),
        tags=tuple(data["tags"]),
        sectors=tuple(data["sectors"]),
        all_drivers=tuple(data["drivers"]),
        risks=tuple(RiskHead(*r) for r in data["risks"]),
    )
