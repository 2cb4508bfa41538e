"""The poller against a real HTTP server on 127.0.0.1 serving the fixture feeds: formats,
conditional GET, redirects, 410, Retry-After, backoff, hostile documents, dedupe, indexing."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from feedserver import feed_server, feed_yaml, feeds_kb, render  # noqa: F401

from kb.feeds import items, parsing, poller
from kb.feeds import state as feed_state
from kb.feeds.poller import Poller
from kb.sync import update_index
from kb.workspace import Workspace


class PollKB:
    def __init__(self, root: Path, server):  # type: ignore[no-untyped-def]
        self.root = root
        self.server = server
        self.ws = Workspace.open(root)
        update_index(self.ws)
        self.poller = Poller(self.ws)

    @property
    def feeds_file(self) -> Path:
        return self.root / "feeds" / "feeds.yaml"

    def set_feeds(self, *paths: str) -> list[str]:
        urls = [self.server.url(p) for p in paths]
        self.feeds_file.write_text(feed_yaml([(u, f"Feed {i}") for i, u in enumerate(urls)]))
        return urls

    def poll(self, **kwargs):  # type: ignore[no-untyped-def]
        return self.poller.poll(**kwargs)

    def state(self, url: str) -> dict:
        return feed_state.states(self.ws.store)[url]

    def items(self, url: str | None = None) -> list[dict]:
        where, params = ("WHERE feed_url = ?", [url]) if url else ("", [])
        return list(self.ws.store.db.query(f"SELECT * FROM feed_items {where} ORDER BY id", params))

    def close(self) -> None:
        self.poller.close()
        self.ws.close()


@pytest.fixture
def kb(feeds_kb, feed_server) -> Iterator[PollKB]:  # noqa: F811
    it = PollKB(feeds_kb, feed_server)
    yield it
    it.close()


@pytest.fixture
def parse_count(monkeypatch) -> list[str]:
    """The URLs of the documents handed to the (child-process) parser."""
    calls: list[str] = []
    real = parsing.parse

    def counting(body, feed_id, url, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(url)
        return real(body, feed_id, url, *args, **kwargs)

    monkeypatch.setattr(parsing, "parse", counting)
    return calls


def by_url(report) -> dict:  # type: ignore[no-untyped-def]
    return {r.url: r for r in report.results}


def test_rss2_atom_rss1_then_a_second_poll_parses_nothing(kb, parse_count):
    urls = kb.set_feeds(
        "/feeds/rss2.xml",
        "/feeds/atom.xml",
        "/feeds/rss1.rdf",
        "/lastmod/topics-a.xml",
        "/feeds/topics-b.xml?noetag=1&nolm=1",
    )
    first = kb.poll(suggest=False)
    assert {r.outcome for r in first.results} == {"new"}
    assert [len(kb.items(u)) for u in urls] == [3, 3, 2, 4, 3]
    assert len(parse_count) == 5
    atom = kb.items(urls[1])
    assert atom[0]["title"].startswith("Police seize 3D-printed gun parts") and atom[0]["published"]
    assert atom[2]["link"] == kb.server.url("/2026/relative")  # relative links resolved
    assert 'href="http://127.0.0.1' in atom[2]["summary_html"] + atom[2]["content_html"]
    rdf = kb.items(urls[2])
    assert rdf[0]["link"] == "https://crypto-desk.example/2026/crypto-atm" and rdf[0]["published"]
    health = kb.state(urls[0])
    assert health["status"] == "ok" and health["failures"] == 0 and health["last_success"]
    assert health["items_per_day"] == pytest.approx(3 / 30, abs=0.01) and health["etag"]

    parse_count.clear()
    second = kb.poll(suggest=False)
    outcomes = {r.url: r.outcome for r in second.results}
    assert parse_count == [] and second.parsed == 0 and second.new_ids == []
    assert outcomes == {
        urls[0]: "not-modified",
        urls[1]: "not-modified",
        urls[2]: "not-modified",
        urls[3]: "not-modified",
        urls[4]: "unchanged",
    }  # the last has no ETag nor Last-Modified
    lastmod = [r for r in kb.server.requests if r.path == "/lastmod/topics-a.xml"]
    assert lastmod[-1].headers.get("if-modified-since") and lastmod[-1].status == 304


def test_items_are_searchable_in_their_own_index(kb):
    kb.set_feeds("/feeds/rss2.xml")
    report = kb.poll(suggest=False)
    assert report.indexed == 3
    hits = kb.ws.items.search("quadcopter", kinds=("item",)).hits
    assert {h.title for h in hits} == {
        "Police use prison flight restriction zones to seize a quadcopter",
        "Drone drops of drugs and phones rise at HMP Altcourse",
    }
    assert kb.ws.index.search("quadcopter").hits and all(
        h.kind == "entry" for h in kb.ws.index.search("quadcopter").hits
    )
    from kb.model.access import PUBLIC

    assert kb.ws.items.search("quadcopter", kinds=("item",), audience=PUBLIC).total == 0  # staff only


def test_permanent_redirect_rewrites_the_feed_list_and_keeps_its_items(kb):
    (url,) = kb.set_feeds("/moved/rss2.xml")
    kb.feeds_file.write_text(
        kb.feeds_file.read_text().replace("    title: Feed 0", "    # a comment to keep\n    title: Feed 0")
    )
    first = kb.poll(suggest=False)
    new_url = kb.server.url("/feeds/rss2.xml")
    assert first.results[0].moved_to == new_url
    text = kb.feeds_file.read_text()
    assert f"url: {new_url}  # moved permanently (301/308) on" in text and "# a comment to keep" in text
    assert kb.state(new_url)["failures"] == 0 and url not in feed_state.states(kb.ws.store)
    assert {i["feed_url"] for i in kb.items()} == {new_url}
    second = kb.poll(suggest=False)
    assert second.results[0].url == new_url and second.results[0].outcome == "not-modified"
    kb.server.overrides["/feeds/rss2.xml"] = render("rss2.xml") + b"\n"  # new bytes, the same items
    third = kb.poll(suggest=False)
    assert third.results[0].parsed and third.new_ids == [] and len(kb.items()) == 3


def test_temporary_redirect_keeps_the_url(kb):
    (url,) = kb.set_feeds("/found/rss2.xml")
    report = kb.poll(suggest=False)
    assert report.results[0].outcome == "new" and report.results[0].moved_to is None
    assert f"url: {url}\n" in kb.feeds_file.read_text()


def test_410_disables_the_feed(kb):
    gone, ok = kb.set_feeds("/gone", "/feeds/rss2.xml")
    report = kb.poll(suggest=False)
    assert by_url(report)[gone].outcome == "gone" and by_url(report)[ok].outcome == "new"
    assert re.search(
        r"enabled: false  # disabled by the poller: 410 Gone on \d{4}-\d\d-\d\d", kb.feeds_file.read_text()
    )
    assert kb.state(gone)["status"] == "gone"
    again = kb.poll(suggest=False)
    assert by_url(again)[gone].outcome == "disabled"
    assert len(kb.server.hits("/gone")) == 1


def test_429_and_503_honour_retry_after(kb):
    busy, down = kb.set_feeds(
        "/status/429?retry_after=120", "/status/503?retry_after=Wed,%2021%20Oct%202099%2007:28:00%20GMT"
    )
    kb.poll(suggest=False)
    state = kb.state(busy)
    held = dt.datetime.fromisoformat(state["held_until"]) - dt.datetime.now(dt.UTC)
    assert 100 < held.total_seconds() <= 120 and state["failures"] == 1 and "Retry-After 120 s" in state["last_error"]
    far = dt.datetime.fromisoformat(kb.state(down)["held_until"]) - dt.datetime.now(dt.UTC)
    assert far.total_seconds() == pytest.approx(24 * 3600, abs=5)  # capped at feeds.max_backoff
    again = kb.poll(suggest=False)
    assert {r.outcome for r in again.results} == {"held"}
    assert "Retry-After" in again.results[0].error
    assert len(kb.server.requests) == 2
    forced = kb.poll(suggest=False, force=True)
    assert {r.outcome for r in forced.results} == {"error"} and len(kb.server.requests) == 4


def test_errors_back_off_exponentially_with_jitter(kb):
    (url,) = kb.set_feeds("/status/500")
    waits = []
    for n in (1, 2, 3):
        report = kb.poll(suggest=False, force=True)
        assert report.results[0].error == "HTTP 500 Internal Server Error"
        state = kb.state(url)
        assert state["failures"] == n and state["status"] == "error"
        waits.append(
            (
                dt.datetime.fromisoformat(state["next_poll"]) - dt.datetime.fromisoformat(state["last_fetch"])
            ).total_seconds()
            / 60
        )
    assert waits[0] == pytest.approx(60, rel=0.11) and waits[1] == pytest.approx(120, rel=0.11)
    assert waits[2] == pytest.approx(240, rel=0.11)
    assert feed_state.backoff_minutes(60, 30, 24 * 60) == 24 * 60
    assert kb.poll(suggest=False).results[0].outcome == "held"


def test_finding_2_parsing_is_bounded_in_time_and_the_others_still_poll(kb):
    slow, fine = kb.set_feeds("/authors", "/feeds/rss2.xml")
    results = by_url(kb.poll(suggest=False))
    assert results[slow].outcome == "error" and "parsing took longer than 2 s" in results[slow].error
    assert kb.state(slow)["failures"] == 1 and "feeds.parse_timeout" in kb.state(slow)["last_error"]
    assert results[fine].outcome == "new" and len(kb.items(fine)) == 3


def test_hostile_feeds_are_contained_and_the_others_still_poll(kb, parse_count):
    urls = kb.set_feeds(
        "/feeds/bomb.xml",
        "/feeds/xxe.xml",
        "/huge",
        "/huge?declared=1",
        "/gzip-bomb",
        "/slow",
        "/feeds/malformed.xml",
        "/feeds/wrong-encoding.xml",
        "/text/x?body=/etc/passwd",
        "/feeds/rss2.xml",
    )
    report = kb.poll(suggest=False)
    assert kb.server.max_in_flight > 1  # fetched concurrently: the slow feed holds up no other
    results = by_url(report)
    for url in urls[:2]:  # refused by the entity check, before feedparser sees them
        assert "declares XML entities" in results[url].error
    for url in urls[2:5]:
        assert "bytes" in results[url].error and "feeds.max_bytes" in results[url].error
    assert "timed out" in results[urls[5]].error
    assert results[urls[6]].outcome == "new" and kb.items(urls[6])[0]["title"] == "An item before the damage"
    cafe = kb.items(urls[7])[0]
    assert cafe["title"] == "Café owners warn of card skimmers" and "Naïve" in cafe["text"]
    assert "not an RSS or Atom feed" in results[urls[8]].error  # a body that is a path is never opened
    assert results[urls[9]].outcome == "new"
    assert kb.server.max_in_flight >= 2
    for url in urls[:6]:
        assert kb.state(url)["failures"] == 1 and kb.state(url)["last_error"]


def test_scripts_and_javascript_links_never_survive(kb):
    (url,) = kb.set_feeds("/feeds/xss.xml")
    kb.poll(suggest=False)
    rows = kb.items(url)
    assert rows[0]["title"] == "Scripted title" and rows[0]["link"] is None
    html = " ".join(r["summary_html"] + r["content_html"] + r["title"] for r in rows).lower()
    for bad in (
        "<script",
        "javascript:",
        "vbscript:",
        "data:text",
        "onerror",
        "onclick",
        "onload",
        "<iframe",
        "<style",
        "<svg",
        "<form",
        "<input",
        "alert(",
    ):
        assert bad not in html, bad
    stored = kb.ws.items.search("hello OR encoded", kinds=("item",)).hits
    assert stored and all("<" not in (h.summary or "") for h in stored)


def test_an_updated_item_updates_its_row_and_dedupe_falls_back(kb):
    (url,) = kb.set_feeds("/feeds/rss2.xml")
    kb.poll(suggest=False)
    body = (Path(__file__).parents[1] / "data" / "feeds" / "rss2.xml").read_text()
    changed = (
        render("rss2.xml").decode().replace("Kitchen staff win catering award", "Kitchen staff win national award")
    )
    kb.server.overrides["/feeds/rss2.xml"] = changed.encode()
    report = kb.poll(suggest=False)
    assert report.results[0].outcome == "new" and len(report.results[0].updated_ids) == 1 and not report.new_ids
    rows = kb.items(url)
    assert len(rows) == 3 and rows[2]["title"] == "Kitchen staff win national award"
    assert kb.ws.items.search('"national award"', kinds=("item",)).total == 1
    assert kb.ws.items.search('"catering award"', kinds=("item",)).total == 0
    # guids that repeat: keyed by link instead, so distinct items are not merged
    repeated = body.replace("prison-watch-1002", "prison-watch-1001").replace("prison-watch-1003", "prison-watch-1001")
    parsed = items.parse(repeated.replace("{{rfc822:2}}", "").encode(), 99, "https://x.example/feed")
    assert parsed.keyed_by == "link" and len({i.key for i in parsed.items}) == 3


def test_deleted_items_leave_tombstones(kb):
    (url,) = kb.set_feeds("/feeds/rss2.xml?noetag=1&nolm=1")
    kb.poll(suggest=False)
    first = kb.items(url)[0]
    with kb.ws.items.writer() as w:
        for doc_id in items.delete_items(kb.ws.store, [first["id"]]):
            w.delete(doc_id)
    kb.server.overrides["/feeds/rss2.xml"] = render("rss2.xml") + b"\n"  # new bytes, the same items
    report = kb.poll(suggest=False)
    assert report.results[0].parsed and report.new_ids == []
    assert first["title"] not in [r["title"] for r in kb.items(url)] and len(kb.items(url)) == 2


def test_big_polls_index_as_they_go(kb, monkeypatch):
    monkeypatch.setattr(poller, "STREAM_INDEX_MIN", 2)
    urls = kb.set_feeds("/feeds/rss2.xml", "/feeds/atom.xml", "/feeds/bomb.xml")
    report = kb.poll(suggest=False)
    results = by_url(report)
    assert results[urls[0]].outcome == "new" and results[urls[1]].outcome == "new"
    assert "declares XML entities" in results[urls[2]].error
    assert report.indexed == 6 and kb.ws.items.search("quadcopter", kinds=("item",)).total == 2
    assert kb.ws.store.db.execute("SELECT count(*) FROM feed_items WHERE indexed != 1").fetchone()[0] == 0


def test_kb_poll_command(feeds_kb, feed_server):  # noqa: F811
    from click.testing import CliRunner

    from kb.cli.main import main

    (feeds_kb / "feeds" / "feeds.yaml").write_text(
        feed_yaml([(feed_server.url("/feeds/rss2.xml"), "Prison Watch"), (feed_server.url("/status/500"), "Broken")])
    )
    run = lambda *a: CliRunner().invoke(main, ["--root", str(feeds_kb), *a], catch_exceptions=False)  # noqa: E731
    result = run("poll")
    assert result.exit_code == 0, result.output
    assert "/feeds/rss2.xml: 3 new, 0 updated" in result.output
    assert "/status/500: error: HTTP 500 Internal Server Error" in result.output
    assert "polled 2 feeds" in result.output and "1 failed" in result.output
    assert "suggestions: 2 update, 0 new topic" in result.output  # entries indexed on the way, never run before
    again = run("poll", "--feed", feed_server.url("/feeds/rss2.xml"))
    assert "polled 1 feed in" in again.output and "1 not modified" in again.output
    listing = run("feeds", "list")
    assert "Broken  [error (1 failure): HTTP 500 Internal Server Error]" in listing.output
    assert "Prison Watch  [ok]" in listing.output
    items_out = run("feeds", "items", "quadcopter")
    assert "Police use prison flight restriction zones" in items_out.output
    missing = run("poll", "--feed", "https://nope.example/feed")
    assert missing.exit_code == 1 and "no feed 'https://nope.example/feed'" in missing.output


def test_items_survive_an_index_rebuild(kb):
    kb.set_feeds("/feeds/rss2.xml")
    kb.poll(suggest=False)
    assert kb.ws.items.search("quadcopter", kinds=("item",)).total == 2
    update_index(kb.ws, rebuild=True)
    assert kb.ws.items.search("quadcopter", kinds=("item",)).total == 2
    assert kb.ws.index.search("quadcopter", kinds=("entry",)).total >= 1
