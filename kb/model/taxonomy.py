"""The controlled vocabularies of the entry schema, with labels for people.

Keys are what files contain; values are what readers see. Order is display order.
"""

from __future__ import annotations

STATUS = {"draft": "Draft", "review": "In review", "published": "Published", "archived": "Archived"}
TLP = {
    "clear": "TLP:CLEAR",
    "green": "TLP:GREEN",
    "amber": "TLP:AMBER",
    "amber+strict": "TLP:AMBER+STRICT",
    "red": "TLP:RED",
}
CATEGORY = {
    "devices": "Devices and the connected home",
    "manufacturing": "Manufacturing and materials",
    "money": "Money and payments",
    "information": "Information, AI and communications",
    "mobility": "Mobility and vehicles",
}
HORIZON = {"now": "Now", "1-3y": "1-3 years", "3-5y": "3-5 years", "5-10y": "5-10 years"}
MATURITY = {"emerging": "Emerging", "growing": "Growing", "mainstream": "Mainstream"}
DRIVERS = {
    "opportunity": "Opportunity",
    "character": "Character",
    "cjs-effectiveness": "Effectiveness of the criminal justice system",
    "profit": "Profit",
    "drugs": "Drugs",
    "alcohol": "Alcohol",
}
ROLE = {"target": "Target", "tool": "Tool", "setting": "Setting"}
CONFIDENCE = {"low": "Low", "medium": "Medium", "high": "High"}
TREND = {"rising": "Rising", "stable": "Stable", "falling": "Falling"}
ACTORS = {
    "manufacturers": "Manufacturers",
    "retailers": "Retailers",
    "platforms": "Platforms",
    "telecoms": "Telecoms providers",
    "financial-services": "Financial services",
    "insurers": "Insurers",
    "operators": "Operators",
    "regulators": "Regulators",
    "standards-bodies": "Standards bodies",
    "government": "Government",
    "police": "Police",
    "consumers": "Consumers",
}
MECHANISM = {
    "increase-effort": "Increase the effort",
    "increase-risks": "Increase the risks",
    "reduce-rewards": "Reduce the rewards",
    "reduce-provocations": "Reduce provocations",
    "remove-excuses": "Remove excuses",
}
MEASURE_STATUS = {
    "proposed": "Proposed",
    "in-progress": "In progress",
    "adopted": "Adopted",
    "not-planned": "Not planned",
}


def label(vocabulary: dict[str, str], key: str) -> str:
    """The reader's label for `key`, or a tidied key when it is free text (tags, sectors)."""
    return vocabulary.get(key) or key.replace("-", " ").capitalize()
