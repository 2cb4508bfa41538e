"""kb.items.parse on its own: hostile documents in other encodings, plain text, dedupe keys."""

from __future__ import annotations

import pytest
from feedserver import FEEDS

from kb.feeds import items
from kb.feeds.items import FeedError


def test_entity_declarations_are_refused_in_any_encoding(monkeypatch):
    seen: list[object] = []
    monkeypatch.setattr(items.feedparser, "parse", lambda *args, **kwargs: seen.append(args))
    bomb = (FEEDS / "bomb.xml").read_text()
    for encoding in ("utf-8", "utf-16", "utf-16-le", "utf-16-be", "utf-32"):
        data = bomb.replace('<?xml version="1.0"?>', f'<?xml version="1.0" encoding="{encoding}"?>').encode(encoding)
        with pytest.raises(FeedError, match="declares XML entities"):
            items.parse(data, 1, "https://bomb.example/feed")
    assert seen == []  # refused before feedparser saw a byte (so nothing was expanded)


def test_other_encodings_parse():
    text = (FEEDS / "rss1.rdf").read_text().replace("{{iso:2}}", "2026-11-01").replace("{{iso:3}}", "2026-11-02")
    for encoding in ("utf-16", "iso-8859-1"):
        data = text.replace('encoding="utf-8"', f'encoding="{encoding}"').encode(encoding)
        parsed = items.parse(data, 1, "https://crypto-desk.example/rss")
        assert [i.title for i in parsed.items][0] == "Unlicensed crypto ATM operator jailed for laundering bitcoin"


def test_plain_text_is_escaped_not_parsed():
    atom = b"""<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
      <entry><title type="text">a &lt;b&gt; b</title><id>x1</id><summary type="text">1 &lt; 2 &amp;&amp; &lt;script&gt;x()&lt;/script&gt;</summary></entry>
      </feed>"""
    parsed = items.parse(atom, 1, "https://t.example/feed")
    assert len(parsed.items) == 1
    item = parsed.items[0]
    assert "&lt;script&gt;" in item.summary_html and "<script" not in item.summary_html
    assert item.text == "1 < 2 && <script>x()</script>" and item.title == "a b"  # titles lose anything tag-like


def test_keys_are_per_feed_and_fall_back_to_link_then_content():
    rss = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
      <item><title>A</title><guid>g</guid><link>https://t.example/a</link></item>
      <item><title>B</title><link>https://t.example/b</link></item>
      <item><title>C</title><description>only text</description></item></channel></rss>"""
    one, two = items.parse(rss, 1, "https://t.example/"), items.parse(rss, 2, "https://t.example/")
    assert len({i.key for i in one.items}) == 3 and not {i.key for i in one.items} & {i.key for i in two.items}
    edited = items.parse(rss.replace(b"<title>A</title>", b"<title>A, edited</title>"), 1, "https://t.example/")
    assert edited.items[0].key == one.items[0].key and edited.items[0].content_hash != one.items[0].content_hash
