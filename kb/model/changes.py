"""What changed between two versions of a note, in words a subscriber understands."""

from __future__ import annotations

from typing import Any

from kb.model import taxonomy as tx


def describe(old: dict[str, Any] | None, new: dict[str, Any]) -> list[str]:
    """Sentences such as 'Likelihood of "Relay theft" raised from 3 to 4' or 'New measure for
    manufacturers: ...'. Empty when nothing material changed."""
    if old is None:
        return ["New note"]
    changes = _field_changes(old, new) + _risk_changes(old, new) + _source_changes(old, new)
    if not changes and old != new:
        changes.append("Text revised")
    return changes


def _field_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """The status, the summary and the horizon."""
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
    return changes


def _risk_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """New and changed risks (by id, in the new note's order), then removed ones."""
    changes: list[str] = []
    old_risks = {r["id"]: r for r in old.get("risks", [])}
    new_risks = {r["id"]: r for r in new.get("risks", [])}
    for rid, risk in new_risks.items():
        before = old_risks.get(rid)
        if before is None:
            changes.append(f'New risk "{risk["title"]}" (score {risk["score"]})')
        else:
            changes.extend(_one_risk_changes(before, risk))
    for rid, risk in old_risks.items():
        if rid not in new_risks:
            changes.append(f'Risk "{risk["title"]}" removed')
    return changes


def _one_risk_changes(before: dict[str, Any], risk: dict[str, Any]) -> list[str]:
    """A kept risk's likelihood, impact (or else score) and trend, then its new measures and
    measures whose status changed."""
    changes = _rating_changes(before, risk)
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
    return changes


def _rating_changes(before: dict[str, Any], risk: dict[str, Any]) -> list[str]:
    """Likelihood and impact, each in its own sentence; the score only when neither explains it
    (e.g. a version stored with a score but no likelihood or impact)."""
    changes: list[str] = []
    for name in ("likelihood", "impact"):
        was, now = before.get(name), risk.get(name)
        if was is not None and now is not None and was != now:
            changes.append(f'{name.capitalize()} of "{risk["title"]}" {_verb(was, now)} from {was} to {now}')
    if not changes and risk["score"] != before["score"]:
        changes.append(
            f'Risk "{risk["title"]}" {_verb(before["score"], risk["score"])} from {before["score"]} to {risk["score"]}'
        )
    return changes


def _verb(was: int, now: int) -> str:
    return "raised" if now > was else "lowered"


def _source_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """One sentence listing the sources whose titles are new, if any."""
    old_sources = {s["title"] for s in old.get("sources", [])}
    added = [s["title"] for s in new.get("sources", []) if s["title"] not in old_sources]
    if not added:
        return []
    return [f"{len(added)} new source{'s' if len(added) > 1 else ''}: " + "; ".join(added)]
