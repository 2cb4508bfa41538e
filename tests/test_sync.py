import os
import subprocess
import sys

import pytest
from conftest import add_broken

from kb import clock
from kb.model.access import PUBLIC
from kb.sync import update_index
from kb.workspace import Workspace


def titles(ws, query, **kw):
    return [h.title for h in ws.index.search(query, **kw).hits]


def test_first_sync_indexes_everything(ws):
    assert ws.store.slugs() == {"prison-drones", "printed-guns", "secret-keys", "draft-robots"}
    assert ws.index.doc_count() == 4
    assert ws.store.db["risks"].count == 5
    assert titles(ws, "quadcopter") == ["Prison drones"]


def test_unchanged_files_are_not_read_again(ws):
    report = update_index(ws)
    assert report.read == [] and report.unchanged == 4
    os.utime(ws.cfg.entries_dir / "printed-guns.md")  # touched, same bytes
    report = update_index(ws)
    assert report.read == [] and report.unchanged == 4


def test_changed_file_is_the_only_one_read(ws):
    path = ws.cfg.entries_dir / "printed-guns.md"
    path.write_text(path.read_text().replace("Desktop printers", "Cheap desktop printers"))
    report = update_index(ws)
    assert report.read == ["entries/printed-guns.md"]
    assert report.unchanged == 3
    assert report.changes["printed-guns"] == ["Summary revised"]
    assert titles(ws, '"cheap desktop printers"') == ["3D-printed firearms"]


def test_raising_a_risk_is_described_for_subscribers(ws):
    path = ws.cfg.entries_dir / "printed-guns.md"
    path.write_text(path.read_text().replace("likelihood: 3", "likelihood: 4"))
    report = update_index(ws)
    assert report.changes["printed-guns"] == ['Likelihood of "Printed firearms in organised crime" raised from 3 to 4']
    assert ws.store.entry_row("printed-guns")["score"] == 20


def test_deleted_file_leaves_the_index(ws):
    (ws.cfg.entries_dir / "printed-guns.md").unlink()
    report = update_index(ws)
    assert report.removed == ["printed-guns"]
    assert "printed-guns" not in ws.store.slugs()
    assert titles(ws, "firearms") == []


def test_broken_files_are_skipped_and_the_rest_index(kb_root):
    add_broken(kb_root, "bad-yaml.md", "out-of-range.md")
    ws = Workspace.open(kb_root)
    report = update_index(ws)
    assert sorted(report.skipped) == ["entries/bad-yaml.md", "entries/out-of-range.md"]
    assert ws.index.doc_count() == 4
    ws.close()
    assert any(str(p).startswith("entries/out-of-range.md:15: likelihood must be 1-5") for p in report.problems)


def test_finding_13_2_a_broken_file_keeps_its_last_good_version_live(ws):
    path = ws.cfg.entries_dir / "printed-guns.md"
    good = path.read_text()
    path.write_text(good.replace("impact: 5", "impact: 9").replace("3D-printed firearms", "Broken title"))
    report = update_index(ws)
    assert report.skipped == ["entries/printed-guns.md"]  # still reported, and kb index exits 1
    assert titles(ws, "firearms") == ["3D-printed firearms"]  # the last good version stays live
    state = ws.store.file_states()["printed-guns.md"]
    assert state["ok"] == 0 and "impact must be 1-5, got 9" in state["problems"]
    assert ws.store.entry_row("printed-guns")["title"] == "3D-printed firearms"
    update_index(ws, rebuild=True)  # even a rebuild keeps it, from the versions the state keeps
    assert titles(ws, "firearms") == ["3D-printed firearms"]
    path.write_text(good.replace("3D-printed firearms", "3D-printed guns"))
    update_index(ws)
    assert titles(ws, "guns") == ["3D-printed guns"] and ws.store.file_states()["printed-guns.md"]["ok"] == 1


def test_rebuild_starts_over_and_a_lost_index_is_rebuilt(ws):
    report = update_index(ws, rebuild=True)
    assert len(report.read) == 4
    ws.index = type(ws.index).recreate(ws.index.path)  # index lost, database kept
    update_index(ws)
    assert ws.index.doc_count() == 4


def test_a_deleted_cache_database_makes_the_next_run_rebuild_the_index(ws, caplog):
    update_index(ws)
    cache = ws.cfg.cache_path
    ws.close()
    for path in cache.parent.glob(cache.name + "*"):
        path.unlink()  # README: cache.sqlite may be deleted
    again = Workspace.open(ws.cfg.root)
    try:
        update_index(again)
        assert "the cache database is new but the search index is not: rebuilding" in caplog.text
        assert again.index.doc_count() == 4 and len(again.store.slugs()) == 4
    finally:
        again.close()


def test_updated_changes_only_when_the_note_changes(ws):
    before = ws.store.entry_row("printed-guns")["updated"]
    with clock.frozen("2099-01-01T00:00:00+00:00"):  # a later day: any new stamp would show it
        path = ws.cfg.entries_dir / "printed-guns.md"
        path.write_text(path.read_text() + "\n")  # formatting only
        update_index(ws)
    assert ws.store.entry_row("printed-guns")["updated"] == before
    with clock.frozen("2099-01-01T00:00:00+00:00"):
        path.write_text(path.read_text().replace("printed", "printed and milled", 1))  # a real change
        update_index(ws)
    assert ws.store.entry_row("printed-guns")["updated"].startswith("2099-01-01")


def test_public_audience_never_sees_green_or_draft(ws):
    assert titles(ws, "zanzibar") != []
    assert titles(ws, "zanzibar", audience=PUBLIC) == []
    facets = ws.index.facet_counts(PUBLIC)
    assert "automotive" not in facets["sector"] and "retail" not in facets["sector"]
    assert facets["sector"]["prisons"] == 1


def test_model_layers_do_not_import_flask():
    code = "import sys, kb.sync, kb.workspace; assert 'flask' not in sys.modules, 'flask imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("child_dies", [False, True])
def test_a_large_first_index_is_written_by_two_processes(kb_root, child_dies):
    # From PARALLEL_FROM entries, a first index is shared between two indexing processes, one
    # segment each. Run it in a fresh interpreter, as `kb index` is, with the threshold at 1.
    # If an indexing process dies, Whoosh says nothing: sync notices and indexes again itself.
    procs = min(2, os.cpu_count() or 1)
    if procs == 1:
        pytest.skip("one CPU: the index is always written by one process")
    script = (
        "import sys, kb.index.search, kb.sync, whoosh.multiproc\n"
        "from kb.workspace import Workspace\n"
        "kb.sync.PARALLEL_FROM = 1\n"
        "used, plain = [], kb.index.search.Index.writer\n"
        "def writer(self, bulk=False, procs=1):\n"
        "    used.append(procs)\n"
        "    return plain(self, bulk=bulk, procs=procs)\n"
        "kb.index.search.Index.writer = writer\n"
        f"if {child_dies}:\n"
        "    whoosh.multiproc.SubWriterTask.run = lambda task: None\n"
        "kb.sync.update_index(Workspace.open(sys.argv[1]))\n"
        "print(used)\n"
    )
    out = subprocess.run([sys.executable, "-c", script, str(kb_root)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ("[2, 1]" if child_dies else "[2]")
    assert ("indexing process failed" in out.stderr) == child_dies
    ws = Workspace.open(kb_root)
    try:
        assert ws.index.doc_count() == 4
        assert titles(ws, "quadcopter") == ["Prison drones"]
        path = ws.cfg.entries_dir / "printed-guns.md"
        path.write_text(path.read_text().replace("Desktop printers", "Cheap desktop printers"))
        assert update_index(ws).read == ["entries/printed-guns.md"]
        assert ws.index.doc_count() == 4
        assert titles(ws, '"cheap desktop printers"') == ["3D-printed firearms"]
    finally:
        ws.close()


def test_searches_see_every_commit(ws):
    # The index keeps one searcher open between searches; a commit must replace it, and
    # deleted or replaced documents must not come back.
    assert titles(ws, "quadcopter") == ["Prison drones"]
    (ws.cfg.entries_dir / "prison-drones.md").unlink()
    update_index(ws)
    assert titles(ws, "quadcopter") == []
    assert ws.index.doc_count() == 3
    path = ws.cfg.entries_dir / "printed-guns.md"
    for word in ("zebrafish", "okapi"):
        path.write_text(path.read_text() + f"\n{word}\n")
        update_index(ws)
    assert titles(ws, "zebrafish") == ["3D-printed firearms"]
    assert ws.index.search("printed").total == 1
    assert ws.index.doc_count() == 3


def test_finding_3_a_kill_between_index_and_rows_is_repaired_by_the_next_run(kb_root):
    ws = Workspace.open(kb_root)
    update_index(ws)
    ws.close()
    path = kb_root / "entries" / "printed-guns.md"
    path.write_text(path.read_text().replace("title: ", "title: Zebrafish ", 1))
    script = (
        "import os, signal, sys\n"
        "import kb.sync\n"
        "from kb.workspace import Workspace\n"
        "kb.sync._record = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)  # dies after the index commit\n"
        "kb.sync.update_index(Workspace.open(sys.argv[1]))\n"
    )
    died = subprocess.run([sys.executable, "-c", script, str(kb_root)], capture_output=True)
    assert died.returncode == -9
    ws = Workspace.open(kb_root)
    report = update_index(ws)  # the rows still say the old file: read again
    assert report.read == ["entries/printed-guns.md"]
    assert ws.store.entry_row("printed-guns")["title"].startswith("Zebrafish")
    assert [h.slug for h in ws.index.search("zebrafish").hits] == ["printed-guns"]
    ws.close()
