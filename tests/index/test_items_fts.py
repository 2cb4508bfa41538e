"""Issue 14: the feed items' FTS5 index (`kb.index.items`) reads the entry search's query language
(phrases, fields, NOT, prefixes, other spellings, synonyms, results for some of the words), keeps
restricted readers out, survives a rebuild swapped in under an open reader, and says clearly
what it cannot do."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from pathlib import Path

import pytest

from kb.errors import Busy, KbError, QueryError
from kb.index.items import FILE, ItemIndex
from kb.store.housekeeping import swap_in

ITEMS = {
    1: ("Police seize a quadcopter over HMP Altcourse", "Prison staff saw the drone drop phones and drugs."),
    2: ("Organised crime groups rent SIM farms", "A SIM farm sends thousands of smishing texts an hour."),
    3: ("Ransomware gang leaks council data", "The gang asked for Bitcoin; the council refused to pay."),
    4: ("Drone light show for the new year", "Five hundred drones lit up the sky over the river."),
}


def make(path: Path, synonyms: Path | None = None) -> ItemIndex:
    idx = ItemIndex(path / "items-index", synonyms)
    with idx.writer() as w:
        for n, (title, body) in ITEMS.items():
            w.add(
                id=f"item:{n}",
                title=title,
                body=body,
                tag="prisons,security" if n == 1 else "",
                feed=str(n),
                link=f"https://news.example/{n}",
                published=dt.datetime(2026, 11, n),
            )
    return idx


@pytest.fixture
def idx(tmp_path: Path) -> ItemIndex:
    index = make(tmp_path)
    yield index
    index.close()


def ids(idx: ItemIndex, text: str) -> list[int]:
    return [int(h.id.split(":")[1]) for h in idx.search(text).hits]


def test_words_phrases_fields_not_and_prefixes_find_items(idx):
    assert ids(idx, "drones") == [4, 1] or ids(idx, "drones") == [1, 4]  # stemmed: drone, drones
    assert ids(idx, '"light show"') == [4]
    assert ids(idx, '"show light"') == []
    assert ids(idx, "title:drone") == [4]
    assert ids(idx, "drone NOT show") == [1]
    assert ids(idx, "ransom*") == [3]
    assert ids(idx, "tag:prisons") == [1]
    assert ids(idx, "quadcopter OR bitcoin") in ([1, 3], [3, 1])


def test_other_spellings_and_synonyms_find_items(tmp_path):
    synonyms = tmp_path / "synonyms.yaml"
    synonyms.write_text("- UAV = drone\n")
    index = make(tmp_path, synonyms)
    try:
        assert ids(index, "organized crime") == [2]  # American spelling, British text
        assert set(ids(index, "UAV")) == {1, 4}
    finally:
        index.close()


def test_items_with_some_of_the_words_follow_when_none_has_them_all(idx):
    results = idx.search("quadcopter ransomware")
    assert results.complete == 0 and results.partial and {h.id for h in results.hits} == {"item:1", "item:3"}


def test_hits_show_title_feed_link_date_and_a_marked_snippet(idx):
    (hit,) = idx.search("smishing").hits
    assert hit.title == ITEMS[2][0] and hit.fields["link"] == "https://news.example/2" and hit.fields["feed"] == "2"
    assert hit.fields["published"] == dt.datetime(2026, 11, 2)
    assert "<mark>smishing</mark>" in hit.snippet


def test_restricted_readers_and_entry_searches_find_no_items(idx):
    assert idx.search("drone", audience=[{"status": ["published"], "tlp": ["clear"]}]).total == 0
    assert idx.search("drone", kinds=("entry",)).total == 0


def test_what_items_cannot_be_searched_by_is_said_in_a_sentence(idx):
    with pytest.raises(QueryError, match="feed item search reads words"):
        idx.search("dr?ne")
    with pytest.raises(QueryError, match="as well as what they should not"):
        idx.search("NOT drone")
    assert idx.search("sector:retail").total == 0  # items have no sectors: nothing, not an error


def test_put_replaces_an_item_and_delete_removes_it(idx):
    with idx.writer() as w:
        w.put(id="item:4", title="Fireworks display", body="No drones this year.")
        w.delete("item:3")
    assert ids(idx, "light") == [] and ids(idx, "fireworks") == [4] and ids(idx, "ransomware") == []
    assert idx.count("item") == 3


def test_a_failed_write_leaves_the_index_as_it_was(idx):
    with pytest.raises(RuntimeError), idx.writer() as w:
        w.put(id="item:9", title="Half written", body="never committed")
        raise RuntimeError("killed mid-write")
    assert ids(idx, "half") == [] and idx.count("item") == 4


def test_a_rebuild_swapped_in_is_found_by_an_open_reader_and_writer(tmp_path, idx):
    assert idx.count("item") == 4
    build = ItemIndex(tmp_path / "build")
    with build.writer() as w:
        w.add(id="item:7", title="Rebuilt", body="only this one")
    build.close()
    old = tmp_path / "old"
    idx.path.rename(old)
    (tmp_path / "build").rename(idx.path)
    assert idx.count("item") == 1 and ids(idx, "rebuilt") == [7]
    with idx.writer() as w:
        w.add(id="item:8", title="After the swap", body="written to the new one")
    assert ItemIndex(idx.path).count("item") == 2


def test_a_damaged_file_is_a_clear_error_naming_the_fix(tmp_path):
    folder = tmp_path / "items-index"
    folder.mkdir()
    (folder / FILE).write_bytes(b"this is not a database" * 100)
    with pytest.raises(KbError, match="run kb index --rebuild"):
        ItemIndex(folder).count("item")


def test_a_writer_held_by_another_process_is_busy_with_a_sentence_and_loses_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr("kb.index.items.WRITE_WAIT", 0.05)
    index = make(tmp_path)
    other = sqlite3.connect(index.path / FILE, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # as a poll in another process, mid-write
    try:
        with pytest.raises(Busy, match="try again"), index.writer() as w:
            w.add(id="item:5", title="Fifth", body="waiting")
    finally:
        other.execute("COMMIT")
        other.close()
    with index.writer() as w:
        w.add(id="item:5", title="Fifth", body="after the other writer")
    assert index.count("item") == 5
    index.close()


def test_a_misspelt_word_is_corrected_from_the_items_own_words(idx):
    results = idx.search("quadcoptor")
    assert results.corrected == "quadcopter" and [h.id for h in results.hits] == ["item:1"]
    results = idx.search("ransomwear council")
    assert results.corrected == "ransomware council" and [h.id for h in results.hits] == ["item:3"]
    assert idx.search("zzqxv").corrected == "" and idx.search("zzqxv").total == 0


def test_a_poll_waiting_on_a_rebuild_writes_into_the_index_swapped_in(tmp_path, idx):
    poller = ItemIndex(idx.path)  # as the scheduler's process, with its own connection
    assert poller.count("item") == 4
    started, done = threading.Event(), threading.Event()

    def poll() -> None:
        started.set()
        with poller.writer() as w:  # waits while the rebuild holds the live file's lock
            w.add(id="item:9", title="Polled during the rebuild", body="kept")
        done.set()

    with idx.writer():  # what kb.sync.rebuild_items holds while it builds and swaps
        thread = threading.Thread(target=poll)
        thread.start()
        started.wait(5)
        build = ItemIndex(tmp_path / "build")
        with build.writer() as w:
            w.add(id="item:1", title="Rebuilt", body="from the state database")
        build.close()
        swap_in(build.path, idx.path)
    thread.join(30)
    assert done.is_set()
    assert sorted(ids(ItemIndex(idx.path), "rebuilt OR polled")) == [1, 9]
    poller.close()
