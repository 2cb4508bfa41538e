"""The editor's logic without the web: round trips that keep every byte, saves that change only
what was edited, the same validation words as `kb validate`, conflicts, and crash safety."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from werkzeug.datastructures import MultiDict

from kb.files import editor
from kb.model.entry import read_entry

DATA = Path(__file__).parents[1] / "data"
REPO = Path(__file__).parents[2]

COMMENTED = """\
---
# Owned by the horizon team; see the style guide.
title: Smart locks   # the name readers know
summary: >-
  Connected locks open by phone; weak pairing and cloud accounts let burglars in
  without force, leaving no trace for insurers.
status: draft
tlp: clear
category: devices        # devices | manufacturing | money | information | mobility
horizon: now
maturity: growing
reviewed: 2026-03-01
tags: [locks, "smart-home"]
drivers: [opportunity]   # the strategy's drivers
keywords: [smart lock, 'bluetooth lock']
owner: team-iot          # not in the schema: must survive
risks:
  - id: relay   # first risk
    title: Relay attack on phone keys
    role: target
    crime_types: [burglary]
    likelihood: 3        # 1-5
    impact: 4
    trend: rising
    measures:
      - actor: manufacturers
        measure: Use distance bounding.
        status: proposed
  # a comment between risks
  - id: account-takeover
    title: Cloud account takeover
    role: tool
    crime_types: [burglary, fraud]
    likelihood: 2
    impact: 4
    trend: stable
sources:
  - title: Which? lock tests
    date: 2024
---
## Background

Body text with trailing spaces   
and a <b>tag</b>.
"""


@pytest.fixture
def entry_file(tmp_path: Path) -> Path:
    path = tmp_path / "entries" / "smart-locks.md"
    path.parent.mkdir()
    path.write_bytes(COMMENTED.encode())
    return path


def all_entry_files() -> list[Path]:
    return (
        sorted((REPO / "entries").glob("*.md"))
        + sorted((DATA / "entries").glob("*.md"))
        + sorted((DATA / "site").glob("*.md"))
    )


@pytest.mark.parametrize("path", all_entry_files(), ids=lambda p: p.name)
def test_opening_and_saving_without_changes_keeps_every_byte(path: Path):
    text = path.read_text(encoding="utf-8")
    values = editor.form_values(text)
    assert editor.apply(text, values) == (text, [])
    # the same through a submitted form, as a browser sends it (CRLF in textareas)
    form = MultiDict(flatten(values))
    form["body"] = values["body"].replace("\n", "\r\n")
    assert editor.apply(text, editor.values_from_form(form))[0] == text


def flatten(values: dict) -> list[tuple[str, str]]:
    """Editor values as the form fields a browser would submit."""
    out: list[tuple[str, str]] = []
    for key, value in values.items():
        if key in ("risks", "sources", "unknown", "status"):
            continue
        for v in value if isinstance(value, list) else [value]:
            out.append((key, v))
    for i, risk in enumerate(values["risks"]):
        for key, value in risk.items():
            if key == "measures":
                for j, m in enumerate(value):
                    out += [(f"risks-{i}-measures-{j}-{k}", v) for k, v in m.items()]
            else:
                out += [(f"risks-{i}-{key}", v) for v in (value if isinstance(value, list) else [value])]
    for i, source in enumerate(values["sources"]):
        out += [(f"sources-{i}-{k}", v) for k, v in source.items()]
    return out


def test_a_save_keeps_comments_unknown_keys_and_formatting(entry_file: Path):
    values, sha = editor.open_entry(entry_file)
    assert values["unknown"] == ["owner"]
    values["title"] = "Smart locks and doorbells"
    values["risks"][0]["likelihood"] = "4"
    values["tags"] = "locks, smart-home, doorbells"
    values["risks"][1]["measures"].append(
        {**editor.blank_measure(), "actor": "platforms", "measure": "Require two-factor sign-in.", "status": "adopted"}
    )
    outcome = editor.save(entry_file, values, sha)
    assert outcome.status == "saved", outcome.problems
    assert sorted(outcome.changed) == ["risks", "tags", "title"]
    expected = (
        COMMENTED.replace(
            "title: Smart locks   # the name readers know", "title: Smart locks and doorbells # the name readers know"
        )
        .replace('tags: [locks, "smart-home"]', "tags: [locks, smart-home, doorbells]")
        .replace("likelihood: 3        # 1-5", "likelihood: 4        # 1-5")
        .replace(
            "    trend: stable\n",
            "    trend: stable\n    measures:\n      - actor: platforms\n"
            "        measure: Require two-factor sign-in.\n        status: adopted\n",
        )
    )
    assert entry_file.read_text() == expected
    assert outcome.sha == editor.sha256(expected.encode())


def test_the_body_is_kept_byte_for_byte_unless_edited(tmp_path: Path):
    path = tmp_path / "crlf.md"
    raw = COMMENTED.replace("\n", "\r\n").encode()
    path.write_bytes(raw)
    values, sha = editor.open_entry(path)
    values["horizon"] = "1-3y"
    assert editor.save(path, values, sha).status == "saved"
    after = path.read_bytes()
    assert after == raw.replace(b"horizon: now", b"horizon: 1-3y")
    values, sha = editor.open_entry(path)
    values["body"] = values["body"].replace("Body text", "New body text")
    assert editor.save(path, values, sha).changed == ["body"]
    assert path.read_bytes() == after.replace(b"Body text", b"New body text")


def test_problems_have_the_words_of_kb_validate_and_name_the_field(entry_file: Path):
    values, sha = editor.open_entry(entry_file)
    values["risks"][0]["likelihood"] = "7"
    values["risks"][1]["title"] = ""
    values["reviewed"] = "2026-02-30"
    values["tlp"] = "amber"
    values["sources"][0]["url"] = "javascript:alert(1)"
    values["related"] = "no-such-entry"
    outcome = editor.save(entry_file, values, sha, known={"smart-locks"}, display="entries/smart-locks.md")
    assert outcome.status == "invalid"
    assert entry_file.read_text() == COMMENTED  # nothing written
    by_field = {p.field: p.message for p in outcome.problems if p.severity == "error"}
    assert by_field == {
        "risks-0-likelihood": "likelihood must be 1-5, got 7",
        "risks-1-title": "title is required",
        "reviewed": "reviewed must be a date YYYY-MM-DD, got '2026-02-30'",
        "sources-0-url": "url must be a full http:// or https:// address, got 'javascript:alert(1)'",
    }
    # exactly what kb validate says about the same text, line numbers included
    _, validate = read_entry(entry_file, outcome.text.encode(), display=Path("entries/smart-locks.md"))
    assert {str(p) for p in outcome.problems if p.severity == "error"} == {
        str(p) for p in validate if p.severity == "error"
    }
    values["reviewed"], values["tlp"], values["risks"][0]["likelihood"] = "2026-03-01", "clear", "3"
    values["risks"][1]["title"], values["sources"][0]["url"] = "Cloud account takeover", ""
    outcome = editor.save(entry_file, values, sha, known={"smart-locks"})
    assert [(p.field, p.message) for p in outcome.problems if p.severity == "error"] == [
        (
            "related",
            "related entry 'no-such-entry' does not exist (no entries/no-such-entry.md); fix the slug or remove it",
        )
    ]


def test_a_change_made_since_opening_is_never_overwritten(entry_file: Path):
    mine, sha = editor.open_entry(entry_file)
    theirs, their_sha = editor.open_entry(entry_file)
    theirs["summary"] = "Their summary."
    assert editor.save(entry_file, theirs, their_sha).status == "saved"
    on_disk = entry_file.read_bytes()
    mine["title"] = "My title"
    outcome = editor.save(entry_file, mine, sha)
    assert outcome.status == "conflict"
    assert entry_file.read_bytes() == on_disk
    assert outcome.disk_text == on_disk.decode() and "Their summary." in outcome.disk_text
    assert "title: My title" in outcome.text
    assert "-title: Smart locks   # the name readers know" in outcome.diff
    assert "+title: My title" in outcome.diff and "-  Their summary." in outcome.diff
    # saving mine over theirs is an explicit choice, against the version the conflict showed
    assert editor.save(entry_file, mine, outcome.sha).status == "saved"
    assert "title: My title" in entry_file.read_text()


@pytest.mark.parametrize("broken", ["os.replace", "os.fsync", "write"])
def test_a_crash_while_saving_leaves_the_old_file_whole(entry_file: Path, monkeypatch, broken: str):
    values, sha = editor.open_entry(entry_file)
    values["title"] = "Half written?"
    values["body"] = "x" * 200_000

    class Crash(BaseException):
        pass

    def crash(*args, **kwargs):
        raise Crash("killed")

    if broken == "write":
        real_fdopen = os.fdopen

        class HalfFile:
            def __init__(self, fh):
                self.fh = fh

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self.fh.close()

            def write(self, data):
                self.fh.write(data[: len(data) // 2])
                raise Crash("killed half way through the write")

        monkeypatch.setattr(os, "fdopen", lambda fd, mode: HalfFile(real_fdopen(fd, mode)))
    else:
        monkeypatch.setattr(broken, crash)
    with pytest.raises(Crash):
        editor.save(entry_file, values, sha)
    monkeypatch.undo()
    assert entry_file.read_bytes() == COMMENTED.encode()
    assert sorted(p.name for p in entry_file.parent.iterdir()) == ["smart-locks.md"]  # no temporary file left
    assert editor.save(entry_file, values, sha).status == "saved"
    assert entry_file.read_text().startswith("---\n# Owned by the horizon team")
    assert "Half written?" in entry_file.read_text() and entry_file.read_text().endswith("x" * 200_000)


def test_status_changes_touch_only_the_status_and_are_validated(entry_file: Path):
    outcome = editor.set_status(entry_file, "published")
    assert outcome.status == "saved"
    assert entry_file.read_text() == COMMENTED.replace("status: draft", "status: published")
    bare = entry_file.parent / "bare.md"
    bare.write_text(COMMENTED.split("risks:")[0] + "---\nBody\n")
    outcome = editor.set_status(bare, "published")
    assert outcome.status == "invalid"
    assert [p.message for p in editor.errors(outcome.problems)] == [
        "a published note needs at least one risk with a design-out measure",
        "a published note needs at least one source",
    ]
    assert "status: draft" in bare.read_text()


def test_repeatable_groups_from_a_form_without_javascript():
    form = MultiDict(
        [
            ("title", "T"),
            ("drivers", "profit"),
            ("drivers", "drugs"),
            ("risks-0-origin", "0"),
            ("risks-0-id", "a"),
            ("risks-0-title", "A"),
            ("risks-0-drivers", "drugs"),
            ("risks-0-measures-0-actor", "police"),
            ("risks-0-measures-0-measure", "Patrol"),
            ("risks-0-measures-1-actor", ""),
            ("risks-0-measures-1-measure", ""),  # a blank measure: dropped
            ("risks-1-origin", ""),
            ("risks-1-id", ""),
            ("risks-1-title", ""),  # the blank risk: dropped
            ("sources-0-title", "S"),
            ("sources-0-date", "2024"),
            ("body", "Line\r\nTwo"),
        ]
    )
    values = editor.values_from_form(form)
    assert values["drivers"] == ["profit", "drugs"]
    assert [r["id"] for r in values["risks"]] == ["a"]
    assert values["risks"][0]["drivers"] == ["drugs"]
    assert [m["measure"] for m in values["risks"][0]["measures"]] == ["Patrol"]
    assert values["body"] == "Line\nTwo"
    assert "blank risk" in editor.form_action(values, "add-risk")
    assert len(values["risks"]) == 2
    editor.form_action(values, "add-measure:0")
    assert len(values["risks"][0]["measures"]) == 2
    editor.form_action(values, "remove-risk:0")
    assert values["risks"][0]["id"] == ""
    editor.form_action(values, "remove-source:0")
    assert values["sources"] == []
    assert editor.form_action(values, "remove-risk:9") is None


def test_removing_a_risk_keeps_the_others_and_their_comments(entry_file: Path):
    values, sha = editor.open_entry(entry_file)
    values["risks"].pop(0)
    assert editor.save(entry_file, values, sha).changed == ["risks"]
    text = entry_file.read_text()
    assert "id: relay" not in text and "Relay attack" not in text
    assert "  - id: account-takeover\n    title: Cloud account takeover\n" in text
    assert "owner: team-iot          # not in the schema: must survive" in text
    entry, _problems = read_entry(entry_file)
    assert entry is not None and [r.id for r in entry.risks] == ["account-takeover"]


def test_lists_with_commas_and_quotes_round_trip():
    assert editor.split_list('drone, "unmanned aircraft, large", uav ,') == ["drone", "unmanned aircraft, large", "uav"]
    assert editor.join_list(["drone", "unmanned aircraft, large"]) == 'drone, "unmanned aircraft, large"'


def test_a_new_entry_starts_from_the_template_and_never_clobbers(tmp_path: Path):
    entries = tmp_path / "entries"
    values = editor.form_values(editor.new_entry_text())
    values.update(title="Smart glasses", summary="Glasses that film.")
    outcome = editor.create(entries, "", values, set())
    assert outcome.status == "saved", outcome.problems
    path = entries / "smart-glasses.md"
    entry, _problems = read_entry(path)
    assert entry is not None and entry.status == "draft" and entry.title == "Smart glasses"
    assert "category: devices        # devices | manufacturing" in path.read_text()  # the template's guidance kept
    before = path.read_bytes()
    again = editor.create(entries, "smart-glasses", values, {"smart-glasses"})
    assert again.status == "invalid" and again.problems[0].field == "slug"
    assert path.read_bytes() == before
    bad = editor.create(entries, "Bad Slug", values, set())
    assert bad.status == "invalid" and bad.problems[0].field == "slug"


def test_a_file_the_form_cannot_read_says_so(tmp_path: Path):
    path = tmp_path / "bad-yaml.md"
    shutil.copy(DATA / "broken" / "bad-yaml.md", path)
    with pytest.raises(editor.EditorError, match="not valid YAML"):
        editor.open_entry(path)
