"""The package's shape: imports point one way (down the layers README's Layout section lists),
no import cycles, no module too long to read."""

from __future__ import annotations

from pathlib import Path

from layering import cycles, graph, upward

REPO = Path(__file__).parent.parent

# Lowest first. A module may import its own layer and the ones below it, never one above.
LAYERS = [
    ["kb", "kb.errors", "kb.clock"],
    ["kb.config"],
    ["kb.model"],  # pure: entries, taxonomy, access (TLP), changes, sanitising
    ["kb.files", "kb.store", "kb.index", "kb.mail"],  # entry files; the database; the search index; SMTP
    ["kb.workspace"],  # cfg + store + index
    ["kb.feeds", "kb.accounts"],
    ["kb.suggest"],
    ["kb.sync", "kb.backup", "kb.doctor"],  # entries/ -> store + index; state backups; checks of var/
    ["kb.triage", "kb.watch", "kb.evaluation"],  # decisions; poll -> suggest; scoring the labelled suggestions
    ["kb.site", "kb.digest"],  # framework-free read models; email digests built from them
    ["kb.scheduler"],
    ["kb.web"],  # Flask; never imports kb.cli
    ["kb.cli"],  # the outermost: `kb serve` starts the web app
]
MAX_LINES = 500


def test_no_import_points_up_the_layers():
    assert upward(graph(REPO, "kb"), LAYERS) == []


def test_no_import_cycles():
    assert cycles(graph(REPO, "kb")) == []


def test_the_checker_catches_an_upward_import_and_a_cycle(tmp_path):
    pkg = tmp_path / "kb"
    (pkg / "model").mkdir(parents=True)
    (pkg / "web").mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "model" / "__init__.py").write_text("")
    (pkg / "web" / "__init__.py").write_text("")
    (pkg / "model" / "entry.py").write_text("def f():\n    from kb.web import views  # upward, in a function\n")
    (pkg / "web" / "views.py").write_text("from kb.model import entry\n")
    edges = graph(tmp_path, "kb")
    assert upward(edges, LAYERS) == ["kb.model.entry -> kb.web.views: imports a higher layer (11 > 2)"]
    assert cycles(edges) == [["kb.model.entry", "kb.web.views"]]


def test_no_module_is_over_500_lines():
    long = {
        str(p.relative_to(REPO)): n
        for p in (REPO / "kb").rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}
