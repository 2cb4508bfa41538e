"""An entry as plain data and back: the JSON the API serves and the store keeps, and the
version hash that changes only when what the note says changes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

from kb.model.entry import MEASURE_FIELDS, Entry, Measure, Risk, Source


def entry_to_dict(entry: Entry) -> dict[str, Any]:
    """A JSON-ready dict of everything an entry says (the API and the store use it)."""
    return {
        "slug": entry.slug,
        "title": entry.title,
        "summary": entry.summary,
        "status": entry.status,
        "tlp": entry.tlp,
        "share_with": list(entry.share_with),
        "category": entry.category,
        "horizon": entry.horizon,
        "maturity": entry.maturity,
        "reviewed": entry.reviewed.isoformat(),
        "score": entry.score,
        "tags": list(entry.tags),
        "sectors": list(entry.sectors),
        "drivers": list(entry.drivers),
        "keywords": list(entry.keywords),
        "risks": [
            {
                "id": r.id,
                "title": r.title,
                "description": r.description,
                "role": r.role,
                "crime_types": list(r.crime_types),
                "drivers": list(r.drivers),
                "likelihood": r.likelihood,
                "impact": r.impact,
                "score": r.score,
                "confidence": r.confidence,
                "trend": r.trend,
                "measures": [
                    {
                        "actor": m.actor,
                        "measure": m.measure,
                        "mechanism": m.mechanism,
                        "status": m.status,
                        "reference": m.reference,
                    }
                    for m in r.measures
                ],
            }
            for r in entry.risks
        ],
        "sources": [
            {
                "title": s.title,
                "publisher": s.publisher,
                "url": s.url,
                "date": s.date,
                "checked": s.checked,
                "unchecked": s.unchecked,
            }
            for s in entry.sources
        ],
        "related": list(entry.related),
        "body": entry.body,
    }


def entry_from_dict(data: dict[str, Any], path: Path, digest: str = "") -> Entry:
    """The inverse of `entry_to_dict` for data that was validated when it was stored."""
    risks = tuple(
        Risk(
            id=r["id"],
            title=r["title"],
            description=r.get("description", ""),
            role=r["role"],
            crime_types=tuple(r["crime_types"]),
            drivers=tuple(r.get("drivers", ())),
            likelihood=r["likelihood"],
            impact=r["impact"],
            confidence=r.get("confidence", "medium"),
            trend=r["trend"],
            measures=tuple(Measure(**{k: m.get(k) for k in MEASURE_FIELDS}) for m in r.get("measures", ())),
        )
        for r in data.get("risks", ())
    )
    return Entry(
        slug=data["slug"],
        path=path,
        title=data["title"],
        summary=data["summary"],
        status=data["status"],
        tlp=data["tlp"],
        share_with=tuple(data.get("share_with", ())),
        category=data["category"],
        horizon=data["horizon"],
        maturity=data["maturity"],
        reviewed=dt.date.fromisoformat(data["reviewed"]),
        body=data.get("body", ""),
        tags=tuple(data.get("tags", ())),
        sectors=tuple(data.get("sectors", ())),
        drivers=tuple(data.get("drivers", ())),
        keywords=tuple(data.get("keywords", ())),
        risks=risks,
        sources=tuple(Source(**s) for s in data.get("sources", ())),
        related=tuple(data.get("related", ())),
        content_hash=digest,
    )


def version_of(entry: Entry) -> str:
    """A hash of what the entry says, blind to formatting: it changes only when the note does."""

    data = entry_to_dict(entry)
    data["body"] = "\n".join(line.rstrip() for line in entry.body.strip().splitlines())
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]
