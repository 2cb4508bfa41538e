from pathlib import Path

from conftest import DATA

from kb.model.entry import read_entry, slugify
from kb.model.serial import entry_from_dict, entry_to_dict, version_of


def load(name: str, folder: str = "entries"):
    return read_entry(DATA / folder / name, display=Path(f"entries/{name}"))


def test_valid_entry_is_typed_and_scored():
    entry, problems = load("prison-drones.md")
    assert problems == []
    assert entry.slug == "prison-drones"
    assert entry.reviewed.isoformat() == "2026-10-01"
    assert [r.score for r in entry.risks] == [15, 4]
    assert entry.score == 15
    assert entry.risks[0].measures[0].actor == "manufacturers"
    assert entry.all_drivers == ("opportunity", "profit", "drugs")


def test_body_html_is_sanitised():
    entry, _ = load("prison-drones.md")
    assert "<h2>Background</h2>" in entry.body_html
    assert "<script" not in entry.body_html


def test_out_of_range_values_are_all_reported_with_lines():
    entry, problems = load("out-of-range.md", "broken")
    assert entry is None
    lines = [str(p) for p in problems]
    assert "entries/out-of-range.md:15: likelihood must be 1-5, got 7" in lines
    assert "entries/out-of-range.md:16: impact must be 1-5, got 0" in lines
    assert any(line.startswith("entries/out-of-range.md:5: tlp must be one of") for line in lines)
    assert any(line.startswith("entries/out-of-range.md:9: reviewed must be a date") for line in lines)
    assert any("duplicate risk id 'one'" in line and ":18:" in line for line in lines)
    assert any("url must be a full http" in line for line in lines)
    assert any("role must be one of" in line for line in lines)


def test_broken_yaml_names_file_line_and_fix():
    entry, problems = load("bad-yaml.md", "broken")
    assert entry is None
    assert len(problems) == 1
    assert str(problems[0]).startswith("entries/bad-yaml.md:3: YAML syntax error")
    assert "quote values" in problems[0].message


def test_missing_fields_and_amber_without_share_with(tmp_path):
    path = tmp_path / "thin.md"
    path.write_text("---\ntitle: Thin\nstatus: published\ntlp: amber\n---\n")
    entry, problems = read_entry(path)
    messages = [p.message for p in problems]
    assert entry is None
    assert "summary is required" in messages
    assert any("nobody in share_with is staff only" in m for m in messages)  # published AMBER must name orgs
    assert any(m.startswith("reviewed is required") for m in messages)
    assert "a published note needs at least one risk with a design-out measure" in messages
    assert "a published note needs at least one source" in messages
    assert len(messages) == len(set(messages))
    draft = tmp_path / "draft.md"
    draft.write_text(path.read_text().replace("status: published", "status: draft"))
    assert not any("share_with" in p.message for p in read_entry(draft)[1])  # a draft may be staff only


def test_unknown_fields_are_kept_as_warnings(tmp_path):
    text = (DATA / "entries" / "printed-guns.md").read_text().replace("tags:", "owner: Jo\ntags:", 1)
    path = tmp_path / "printed-guns.md"
    path.write_text(text)
    entry, problems = read_entry(path)
    assert entry is not None
    assert entry.extra == {"owner": "Jo"}
    assert [p.severity for p in problems] == ["warning"]


def test_bad_file_name_and_non_utf8(tmp_path):
    bad_name = tmp_path / "Bad Name.md"
    bad_name.write_text((DATA / "entries" / "printed-guns.md").read_text())
    _, problems = read_entry(bad_name)
    assert any("file name must be a slug" in p.message for p in problems)
    latin = tmp_path / "latin.md"
    latin.write_bytes(b"---\ntitle: caf\xe9\n---\n")
    entry, problems = read_entry(latin)
    assert entry is None and "not UTF-8" in problems[0].message and problems[0].line == 2


def test_dict_round_trip_and_version_ignores_formatting(tmp_path):
    entry, _ = load("prison-drones.md")
    again = entry_from_dict(entry_to_dict(entry), entry.path)
    assert entry_to_dict(again) == entry_to_dict(entry)
    reformatted = tmp_path / "prison-drones.md"
    reformatted.write_text(
        (DATA / "entries" / "prison-drones.md")
        .read_text()
        .replace("tags: [drones, robotics]", "tags:\n  - drones\n  - robotics")
    )
    other, _ = read_entry(reformatted)
    assert other.content_hash != entry.content_hash
    assert version_of(other) == version_of(entry)


def test_slugify():
    assert slugify("Smart locks & the connected home") == "smart-locks-the-connected-home"
    assert slugify("!!!") == "entry"
