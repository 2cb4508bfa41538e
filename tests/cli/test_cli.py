import json
import re

import pytest
from click.testing import CliRunner
from conftest import REPO, add_broken

from kb.cli.main import main


def test_validate_passes_on_good_entries(kb):
    result = kb("validate")
    assert result.exit_code == 0, result.output
    assert "4 entries OK" in result.output


def test_validate_reports_every_problem_and_exits_1(kb, kb_root):
    add_broken(kb_root, "bad-yaml.md", "out-of-range.md")
    result = kb("validate")
    assert result.exit_code == 1
    out = result.output
    assert "entries/bad-yaml.md:3: YAML syntax error" in out
    assert "entries/out-of-range.md:15: likelihood must be 1-5, got 7" in out
    assert "2 entries" in out.splitlines()[-1] or "in 2 of 6 entries" in out


def test_validate_reports_unknown_related_slug(kb, kb_root):
    path = kb_root / "entries" / "printed-guns.md"
    path.write_text(path.read_text().replace("related: [prison-drones]", "related: [prison-drones, nope]"))
    result = kb("validate")
    assert result.exit_code == 1
    assert re.search(r"entries/printed-guns.md:\d+: related entry 'nope' does not exist", result.output)


def test_index_says_which_files_it_read(kb, kb_root):
    first = kb("index")
    assert first.exit_code == 0, first.output
    assert "4 read, 0 unchanged" in first.output
    path = kb_root / "entries" / "prison-drones.md"
    path.write_text(path.read_text().replace("Consumer quadcopters", "Cheap quadcopters"))
    second = kb("index")
    assert "read 1 changed file: entries/prison-drones.md" in second.output
    assert "1 read, 3 unchanged" in second.output


def test_index_with_broken_entries_indexes_the_rest_and_exits_1(kb, kb_root):
    add_broken(kb_root, "out-of-range.md")
    result = kb("index")
    assert result.exit_code == 1
    assert "4 read" not in result.output and "5 read" in result.output
    assert "1 skipped with errors" in result.output
    assert kb("search", "quadcopter").exit_code == 0


def test_search_text_and_json(kb):
    kb("index")
    result = kb("search", "drone")
    assert result.exit_code == 0
    assert "Prison drones" in result.output
    data = json.loads(kb("search", "--json", "sector:prisons").output)
    assert data["total"] == 1 and data["results"][0]["slug"] == "prison-drones"
    public = json.loads(kb("search", "--json", "--public", "zanzibar").output)
    assert public["total"] == 0


def test_search_syntax_error_is_a_message_not_a_traceback(kb):
    kb("index")
    result = kb("search", '"drone')
    assert result.exit_code == 1
    assert result.output.startswith("Error: unbalanced quotes")
    assert "Traceback" not in result.output


def test_show(kb):
    result = kb("show", "prison-drones")
    assert result.exit_code == 0
    assert "Delivery of contraband into prisons  L5 x I3 = 15" in result.output
    assert "Manufacturers: Geofence prisons" in result.output
    assert json.loads(kb("show", "--json", "prison-drones").output)["score"] == 15
    missing = kb("show", "nope")
    assert missing.exit_code == 1 and "no entry 'nope'" in missing.output


def test_init_and_new(tmp_path):
    runner = CliRunner()
    target = tmp_path / "newkb"
    result = runner.invoke(main, ["init", str(target)])
    assert result.exit_code == 0, result.output
    assert (target / "config.toml").exists() and (target / "entries" / "example-technology.md").exists()
    again = runner.invoke(main, ["init", str(target)])
    assert again.exit_code == 1 and "already has a config.toml" in again.output
    made = runner.invoke(main, ["--root", str(target), "new", "Smart meters: tampering"])
    assert made.exit_code == 0, made.output
    assert (target / "entries" / "smart-meters-tampering.md").exists()
    assert runner.invoke(main, ["--root", str(target), "validate"]).exit_code == 0
    dup = runner.invoke(main, ["--root", str(target), "new", "Smart meters: tampering"])
    assert dup.exit_code == 1 and "already exists" in dup.output


def test_bad_config_is_reported_by_key(tmp_path):
    (tmp_path / "config.toml").write_text("[kb]\nreview_dayz = 3\n[feeds]\nmax_bytes = 'big'\n")
    result = CliRunner().invoke(main, ["--root", str(tmp_path), "validate"])
    assert result.exit_code == 1
    assert "kb.review_dayz: unknown setting" in result.output
    assert "feeds.max_bytes: expected int" in result.output


def commands(group, prefix=()):
    for name, cmd in group.commands.items():
        yield (*prefix, name), cmd
        if hasattr(cmd, "commands"):
            yield from commands(cmd, (*prefix, name))


@pytest.mark.parametrize("path", [p for p, _ in commands(main)], ids=" ".join)
def test_every_command_has_help_and_is_in_the_readme(path):
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output
    readme = (REPO / "README.md").read_text()
    assert f"kb {' '.join(path)}" in readme, f"README does not document `kb {' '.join(path)}`"
