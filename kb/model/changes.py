"""What changed between two versions of a note, in words a subscriber understands."""

from __future__ import annotations

from typing import Any

from kb.model import taxonomy as tx


def describe(old: dict[str, Any] | None, new: dict[str, Any]) -> list[str]:
    """Sentences such as 'Risk "Relay theft" raised from 12 to 16'. Empty when nothing material changed."""
    if old is None:
        return ["New note"]
    changes: list[str] = []
    if old.get("status") != new.get("status"):
        changes.append(
            f"Status changed from {tx.label(tx.STATUS, old.get('status', ''))} to {tx.label(tx.STATUS, new['status'])}"
        )
    if old.get("summary") != new.get("summary"):
        changes.append("Summary revised")
    if old.get("horizon") != new.get("horizon"):
        changes.append(
            f"Horizon moved from {tx.label(tx.HORIZON, old.get('horizon', ''))} to {tx.label(tx.HORIZON, new['horizon'])}"
        )
    old_risks = {r["id"]: r for r in old.get("risks", [])}
    new_risks = {r["id"]: r for r in new.get("risks", [])}
    for rid, risk in new_risks.items():
        before = old_risks.get(rid)
        if before is None:
            changes.append(f'New risk "{risk["title"]}" (score {risk["score"]})')
            continue
        if risk["score"] != before["score"]:
            verb = "raised" if risk["score"] > before["score"] else "lowered"
            changes.append(f'Risk "{risk["title"]}" {verb} from {before["score"]} to {risk["score"]}')
        if risk["trend"] != before["trend"]:
            changes.append(f'Risk "{risk["title"]}" trend now {risk["trend"]}')
        old_measures = {m["measure"]: m for m in before.get("measures", [])}
        for m in risk.get("measures", []):
            prior = old_measures.get(m["measure"])
            if prior is None:
                changes.append(f"New measure for {tx.label(tx.ACTORS, m['actor']).lower()}: {m['measure']}")
            elif prior["status"] != m["status"]:
                changes.append(
                    f"Measure for {tx.label(tx.ACTORS, m['actor']).lower()} now {tx.label(tx.MEASURE_STATUS, m['status']).lower()}: {m['measure']}"
                )
    for rid, risk in old_risks.items():
        if rid not in new_risks:
            changes.append(f'Risk "{risk["title"]}" removed')
    old_sources = {s["title"] for s in old.get("sources", [])}
    added = [s["title"] for s in new.get("sources", []) if s["title"] not in old_sources]
    if added:
        changes.append(f"{len(added)} new source{'s' if len(added) > 1 else ''}: " + "; ".join(added))
    if not changes and old != new:
        changes.append("Text revised")
    return changes
