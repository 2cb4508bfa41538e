"""feeds/feeds.yaml: validation with line numbers, edits that keep comments, OPML both ways,
and the `kb feeds` commands."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from feedserver import REPO

from kb.cli.main import main
from kb.feeds import listfile as feedlist
from kb.feeds import opml
from kb.feeds.listfile import Feed, FeedListError

SHIPPED = REPO / "feeds" / "feeds.yaml"
SAMPLE = REPO / "tests" / "data" / "feeds" / "listfile-sample.yaml"  # a frozen list: edits are tested on it


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "feeds").mkdir()
    shutil.copy(SAMPLE, tmp_path / "feeds" / "feeds.yaml")
    return tmp_path


def run(root: Path, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, ["--root", str(root), *args], catch_exceptions=False)


def test_the_shipped_list_is_valid():
    feeds, problems = feedlist.load(SHIPPED)
    assert problems == []
    assert len(feeds) >= 40 and all(f.url.startswith("https://") for f in feeds)
    assert all(f.tags and f.technology for f in feeds)  # each serves one technology mainly
    assert len({f.url for f in feeds}) == len(feeds)
    assert feedlist.find(feeds, "https://dronedj.com/feed/").technology == "consumer-drones"


def test_problems_are_reported_by_line_and_bad_feeds_left_out(tmp_path):
    path = tmp_path / "feeds.yaml"
    path.write_text(
        "feeds:\n"
        "  - url: https://ok.example/feed\n    title: OK\n    tags: [news]\n    interval: 60\n    enabled: true\n"
        "  - url: javascript:alert(1)\n    title: Bad URL\n    tags: [news]\n    interval: 60\n    enabled: true\n"
        "  - url: https://ok.example/feed\n    title: Twice\n    tags: [News Feed]\n    interval: soon\n    enabled: yes please\n"
        "  - url: https://other.example/feed\n    title: Missing fields\n    colour: blue\n"
    )
    feeds, problems = feedlist.load(path, "feeds/feeds.yaml")
    assert [f.title for f in feeds] == ["OK"]
    text = [str(p) for p in problems]
    assert "feeds/feeds.yaml:7: url must be a full http:// or https:// address, got 'javascript:alert(1)'" in text
    assert "feeds/feeds.yaml:12: https://ok.example/feed is listed twice (first on line 2); keep one" in text
    assert "feeds/feeds.yaml:14: tags must be lower-case slugs like 'law-enforcement'; got 'News Feed'" in text
    assert "feeds/feeds.yaml:15: interval must be a whole number of minutes (1 or more), got 'soon'" in text
    assert "feeds/feeds.yaml:16: enabled must be true or false, got 'yes please'" in text
    assert "feeds/feeds.yaml:17: tags is required" in text
    assert (
        "feeds/feeds.yaml:19: warning: unknown feed field 'colour' is ignored (known: url, title, tags, interval, enabled, technology)"
        in text
    )
    path.write_text("feeds:\n  - url: [unclosed\n")
    with pytest.raises(FeedListError, match=r"feeds.yaml:\d+: YAML syntax error"):
        feedlist.load(path)


def test_edits_keep_every_other_byte(root):
    path = root / "feeds" / "feeds.yaml"
    before = path.read_text()
    feedlist.add_feeds(
        path,
        [
            Feed(
                url="https://new.example/feed?a=1&b=2",
                title="New: a feed # with a hash",
                tags=("news",),
                interval=30,
                enabled=True,
                technology="consumer-drones",
            )
        ],
    )
    after = path.read_text()
    assert after.startswith(before) and '    title: "New: a feed # with a hash"' in after
    assert (
        feedlist.find(feedlist.load(path)[0], "https://new.example/feed?a=1&b=2").title == "New: a feed # with a hash"
    )
    feedlist.update_feed(
        path, "https://www.europol.europa.eu/rss.xml", new_url="https://www.europol.europa.eu/feed", note="moved"
    )
    feedlist.update_feed(path, "https://www.troyhunt.com/rss/", enabled=False, note="410 Gone")
    removed = feedlist.remove_feed(path, "https://www.cisa.gov/cybersecurity-advisories/all.xml")
    assert removed.title.startswith("CISA")
    final = path.read_text()
    assert "  - url: https://www.europol.europa.eu/feed  # moved\n" in final
    assert "    enabled: false  # 410 Gone\n" in final
    assert "cisa.gov" not in final and "CISA briefly planned" not in final  # its own comment went with it
    assert "# --- Security advisories ---" in final and "# Low volume: the ICO publishes" in final
    assert len(final.splitlines()) == len(before.splitlines()) - 7 + 7  # CISA and its comment out, a feed in
    assert final.splitlines()[:10] == before.splitlines()[:10]
    with pytest.raises(FeedListError, match="already in"):
        feedlist.add_feeds(path, [Feed(url="https://dronedj.com/feed/", title="Again")])
    with pytest.raises(FeedListError, match="no feed"):
        feedlist.remove_feed(path, "https://nope.example/")


def test_add_to_an_empty_or_missing_list(tmp_path):
    for text in (None, "feeds: []  # none yet\n", "# only a comment\n"):
        path = tmp_path / "feeds.yaml"
        if text is None:
            path.unlink(missing_ok=True)
        else:
            path.write_text(text)
        feedlist.add_feeds(path, [Feed(url="https://a.example/f", title="A", tags=("x",), interval=5)])
        feeds, problems = feedlist.load(path)
        assert [f.url for f in feeds] == ["https://a.example/f"] and problems == []


def test_opml_round_trip_and_hostile_opml_refused(tmp_path):
    feeds, _ = feedlist.load(SHIPPED)
    text = opml.to_opml(feeds)
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0">')
    back, skipped = opml.from_opml(text.encode(), 60)
    assert skipped == [] and [(f.url, f.title, f.tags) for f in back] == [(f.url, f.title, f.tags) for f in feeds]
    nested = b"""<?xml version="1.0"?><opml version="1.0"><head/><body>
      <outline text="Cyber News"><outline text="A &amp; B" xmlUrl="https://a.example/rss" category="/Security/Daily News"/>
      <outline text="bad" xmlUrl="javascript:alert(1)"/><outline text="dup" xmlUrl="https://a.example/rss"/></outline>
    </body></opml>"""
    got, skipped = opml.from_opml(nested, 90)
    assert [(f.title, f.tags, f.interval) for f in got] == [("A & B", ("cyber-news", "security", "daily-news"), 90)]
    assert len(skipped) == 2
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><opml><body/></opml>'
    with pytest.raises(FeedListError, match="declares a DTD or entities"):
        opml.from_opml(bomb, 60)
    with pytest.raises(FeedListError, match="not well-formed"):
        opml.from_opml(b"<opml><body>", 60)


def test_kb_feeds_commands(root):
    listed = run(root, "feeds", "list")
    assert listed.exit_code == 0 and "NCSC — all news, blogs and guidance  [never polled]" in listed.output
    assert "30 feeds, 30 enabled, 0 failing" in listed.output
    added = run(root, "feeds", "add", "https://new.example/rss", "--title", "New", "--tag", "news", "--interval", "15")
    assert added.exit_code == 0 and "added https://new.example/rss" in added.output
    assert run(root, "feeds", "add", "ftp://x.example/").output.startswith("Error: 'ftp://x.example/' is not a full")
    dup = run(root, "feeds", "add", "https://new.example/rss")
    assert dup.exit_code == 1 and "already in feeds/feeds.yaml" in dup.output
    exported = run(root, "feeds", "export-opml")
    assert 'xmlUrl="https://new.example/rss"' in exported.output and exported.output.count("<outline") == 31
    assert run(root, "feeds", "export-opml", "-o", str(root / "out.opml")).exit_code == 0
    assert run(root, "feeds", "remove", "https://new.example/rss").exit_code == 0
    imported = run(root, "feeds", "import-opml", str(root / "out.opml"), "--interval", "45")
    assert "imported 1 feed into feeds/feeds.yaml, skipped 30" in imported.output
    assert feedlist.find(feedlist.load(root / "feeds" / "feeds.yaml")[0], "https://new.example/rss").interval == 45
    missing = run(root, "feeds", "remove", "https://nope.example/")
    assert missing.exit_code == 1 and "Traceback" not in missing.output
    (root / "bad.opml").write_bytes(b"not xml")
    bad = run(root, "feeds", "import-opml", str(root / "bad.opml"))
    assert bad.exit_code == 1 and "is not well-formed XML" in bad.output
    items = run(root, "feeds", "items")
    assert items.exit_code == 0 and "no items yet" in items.output


def test_finding_11_feed_urls_are_compared_normalised(root, tmp_path):
    assert feedlist.normalise_url(" HTTP://Host.Example:80#top ") == "http://host.example/"
    assert feedlist.normalise_url("https://Host.example:443/X?Q=1#y") == "https://host.example/X?Q=1"
    assert feedlist.normalise_url("https://host.example:8443/x") == "https://host.example:8443/x"
    # a list with three spellings of one feed keeps the first and reports the others by line
    path = tmp_path / "feeds.yaml"
    one = "    title: T\n    tags: [news]\n    interval: 60\n    enabled: true\n"
    path.write_text(
        f"feeds:\n  - url: http://host.example/x\n{one}  - url: HTTP://Host.example/x\n{one}"
        f"  - url: http://host.example:80/x#y\n{one}"
    )
    feeds, problems = feedlist.load(path, "feeds/feeds.yaml")
    assert [f.url for f in feeds] == ["http://host.example/x"]
    assert [str(p) for p in problems] == [
        "feeds/feeds.yaml:7: HTTP://Host.example/x is listed twice (first on line 2); keep one",
        "feeds/feeds.yaml:12: http://host.example:80/x#y is listed twice (first on line 2); keep one",
    ]
    # adding another spelling is refused; finding, removing and updating work with any spelling
    listed = root / "feeds" / "feeds.yaml"
    assert run(root, "feeds", "add", "https://new.example/rss", "--tag", "news").exit_code == 0
    for again in ("HTTPS://New.Example/rss", "https://new.example/rss#latest", "https://new.example:443/rss"):
        dup = run(root, "feeds", "add", again, "--tag", "news")
        assert dup.exit_code == 1
        assert (
            dup.output
            == f"Error: {again} is already in feeds/feeds.yaml as https://new.example/rss; remove it first or edit the file\n"
        )
    with pytest.raises(FeedListError, match="already in"):
        feedlist.add_feeds(
            listed, [Feed(url="https://a.example/f", title="A"), Feed(url="HTTPS://A.example/f#x", title="B")]
        )
    assert feedlist.find(feedlist.load(listed)[0], "HTTPS://NEW.example/rss").url == "https://new.example/rss"
    feedlist.update_feed(listed, "https://NEW.example/rss", enabled=False)
    assert feedlist.find(feedlist.load(listed)[0], "https://new.example/rss").enabled is False
    removed = run(root, "feeds", "remove", "HTTPS://New.Example:443/rss#x")
    assert removed.exit_code == 0 and "(https://new.example/rss)" in removed.output
    assert "new.example" not in listed.read_text().lower()
