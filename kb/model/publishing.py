"""The publishing gate: what a note must have before it may be `status: published`.

A published note is read by police and industry, so half-made notes never go out: it has no
text left from the template, at least one risk with at least one design-out measure, at least
one source, and a TLP chosen on purpose (AMBER with nobody in `share_with` is the staff-only
state new drafts start in, not a choice). `kb validate`, `kb index`, the editor's *Publish*
button and the site all apply this one rule, and report each problem at its line.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kb.errors import Problem
from kb.model.frontmatter import FrontMatter

# Text that only the new-entry template (kb.files.scaffold.ENTRY_TEMPLATE) writes. A test keeps
# this list and the template in step.
PLACEHOLDERS = (
    "One paragraph a busy reader can act on",
    "Name the crime risk",
    "How the crime works, in a sentence or two.",
    "What they should build in to design the risk out.",
    "first-risk",
    "Replace this line",
)


def _strings(value: Any, where: tuple[str | int, ...]) -> Iterator[tuple[tuple[str | int, ...], str]]:
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, (*where, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, (*where, i))


def placeholder_in(text: str) -> str | None:
    folded = " ".join(text.split())
    return next((p for p in PLACEHOLDERS if p in folded), None)


def gate(fm: FrontMatter, shown: Path) -> list[Problem]:
    """Every reason the note in `fm` may not be published (empty unless its status is published)."""
    meta = fm.meta
    if meta.get("status") != "published":
        return []
    problems: list[Problem] = []

    def add(where: tuple[str | int, ...], message: str) -> None:
        problems.append(Problem(shown, fm.line(*where) if where else fm.line("status"), message))

    for where, text in _strings(meta, ()):
        found = placeholder_in(text)
        if found:
            add(where, f"still has the template's text {found!r}: write the note's own before publishing")
    body_found = placeholder_in(fm.body)
    if body_found:
        problems.append(
            Problem(shown, fm.body_line, f"the body still has the template's text {body_found!r}; replace it")
        )
    risks = meta.get("risks") if isinstance(meta.get("risks"), list) else []
    if not any(isinstance(r, dict) and r.get("measures") for r in risks):
        add(("risks",) if "risks" in meta else (), "a published note needs at least one risk with a design-out measure")
    if not meta.get("sources"):
        add(("sources",) if "sources" in meta else (), "a published note needs at least one source")
    if meta.get("tlp") in ("amber", "amber+strict") and not meta.get("share_with"):
        add(
            ("tlp",),
            f"TLP:{str(meta['tlp']).upper()} with nobody in share_with is staff only: name the organisations "
            "in share_with, or choose another TLP, before publishing",
        )
    return problems
