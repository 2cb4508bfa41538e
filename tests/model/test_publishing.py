"""Issue 13, finding 1: nothing half-made goes public. A note may be published only with no
template text, a risk with a measure, a source and a TLP chosen on purpose; new drafts start
staff-only (TLP:AMBER with nobody in share_with)."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from kb.cli.main import main
from kb.files import editor
from kb.files.scaffold import ENTRY_TEMPLATE, new_entry
from kb.model.entry import read_entry
from kb.model.publishing import PLACEHOLDERS


def published(text: str) -> str:
    return text.replace("status: draft", "status: published", 1)


def test_every_template_sentence_is_a_known_placeholder():
    template = ENTRY_TEMPLATE.format(title="T", today="2026-12-01")
    prose = re.findall(r"^\s+(?:summary|title|description|measure|- id|id): (.+)$", template, re.M)
    for line in prose + template.split("summary: >-\n", 1)[1].split("\n")[:1]:
        text = line.strip()
        if text and text != "T":
            assert any(p in " ".join(text.split()) or text.startswith(p) for p in PLACEHOLDERS), text


def test_finding_1_a_draft_from_the_template_cannot_be_published(tmp_path: Path):
    path = new_entry(tmp_path / "entries", "Smart meters")
    draft, problems = read_entry(path)
    assert draft is not None and draft.status == "draft" and draft.tlp == "amber" and draft.share_with == ()
    path.write_text(published(path.read_text()))
    entry, problems = read_entry(path, display=Path("entries/smart-meters.md"))
    assert entry is None
    text = "\n".join(map(str, problems))
    assert "still has the template's text 'One paragraph a busy reader can act on'" in text
    assert "'Name the crime risk'" in text and "needs at least one source" in text
    assert "TLP:AMBER with nobody in share_with is staff only" in text
    assert all(re.match(r"entries/smart-meters\.md:\d+: ", line) for line in text.splitlines())


def test_kb_validate_reports_the_gate_with_file_and_line(tmp_path: Path):
    root = tmp_path / "kb"
    path = new_entry(root / "entries", "Smart meters")
    path.write_text(published(path.read_text()))
    result = CliRunner().invoke(main, ["--root", str(root), "validate"])
    assert result.exit_code == 1
    assert re.search(r"entries/smart-meters\.md:\d+: still has the template's text", result.output)


def test_the_publish_button_is_refused_for_a_half_made_draft(tmp_path: Path):
    path = new_entry(tmp_path / "entries", "Smart meters")
    outcome = editor.set_status(path, "published", known={"smart-meters"})
    assert outcome.status == "invalid"
    assert any("template's text" in p.message for p in editor.errors(outcome.problems))
    assert "status: draft" in path.read_text()  # nothing written
