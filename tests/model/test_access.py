"""The TLP rule: `can_read` and the index filter `audience` must always agree."""

import itertools
from dataclasses import dataclass

import pytest

from kb.model.access import Reader, audience, can_read

READERS = [
    Reader(),
    Reader("partner", "org-a"),
    Reader("partner", "org-b"),
    Reader("partner", None),
    Reader("staff"),
    Reader("admin"),
]


@dataclass
class Note:
    status: str
    tlp: str
    share_with: tuple[str, ...] = ()


NOTES = [
    Note(status, tlp, share)
    for status, tlp, share in itertools.product(
        ["draft", "review", "published", "archived"],
        ["clear", "green", "amber", "amber+strict", "red"],
        [(), ("org-a",), ("org-a", "org-c")],
    )
]


def matches(rules, note):
    if rules is None:
        return True
    values = {"status": [note.status], "tlp": [note.tlp], "share_with": list(note.share_with)}
    return any(all(set(values[k]) & set(v) for k, v in rule.items()) for rule in rules)


@pytest.mark.parametrize("reader", READERS, ids=lambda r: f"{r.role}-{r.org}")
def test_filter_agrees_with_rule(reader):
    for note in NOTES:
        assert can_read(reader, note) == matches(audience(reader), note), note


def test_the_rules():
    a, b, anon, staff = READERS[1], READERS[2], READERS[0], READERS[4]
    assert can_read(anon, Note("published", "clear"))
    assert not can_read(anon, Note("published", "green"))
    assert can_read(a, Note("published", "green")) and can_read(b, Note("published", "green"))
    assert can_read(a, Note("published", "amber", ("org-a",)))
    assert not can_read(b, Note("published", "amber", ("org-a",)))
    assert not can_read(a, Note("published", "red"))
    assert can_read(staff, Note("published", "red"))
    for reader in READERS[:4]:
        assert not can_read(reader, Note("draft", "clear"))
        assert not can_read(reader, Note("review", "clear"))
    assert can_read(staff, Note("draft", "clear"))
