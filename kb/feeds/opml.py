"""OPML 2.0, the way feed lists travel between readers: export the list, import another
reader's (folders and categories become tags). Imports are parsed with defusedxml and capped
in size: a document with a DTD or entity declarations is refused.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET

from kb import clock
from kb.feeds.listfile import Feed, FeedListError
from kb.model.entry import slugify
from kb.model.sanitize import safe_url

MAX_OPML_BYTES = 10 * 1024 * 1024


def to_opml(feeds: list[Feed], title: str = "Horizon KB feeds", now: dt.datetime | None = None) -> str:
    """OPML 2.0: one `<outline type="rss">` per feed, tags as `category="a,b"`."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    stamp = (now or clock.utcnow()).strftime("%a, %d %b %Y %H:%M:%S GMT")
    ET.SubElement(head, "dateCreated").text = stamp
    body = ET.SubElement(root, "body")
    for feed in feeds:
        attrs = {"type": "rss", "text": feed.title, "title": feed.title, "xmlUrl": feed.url}
        if feed.tags:
            attrs["category"] = ",".join(feed.tags)
        ET.SubElement(body, "outline", attrs)
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def from_opml(data: bytes, default_interval: int, shown: str = "the OPML file") -> tuple[list[Feed], list[str]]:
    """Feeds in an OPML document (folders become tags), and a note for each outline skipped.

    Parsed with defusedxml: a document with a DTD or entity declarations is refused.
    """
    import defusedxml.ElementTree as DET
    from defusedxml import DefusedXmlException

    if len(data) > MAX_OPML_BYTES:
        raise FeedListError(f"{shown} is larger than {MAX_OPML_BYTES // (1024 * 1024)} MiB; is it really an OPML file?")
    try:
        root = DET.fromstring(data, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise FeedListError(
            f"{shown} declares a DTD or entities ({type(exc).__name__}); refused. Export it again without them"
        ) from exc
    except ET.ParseError as exc:
        raise FeedListError(f"{shown} is not well-formed XML: {exc}") from exc
    if root.tag != "opml" or root.find("body") is None:
        raise FeedListError(f"{shown} is not OPML (expected <opml> with a <body>)")
    feeds: list[Feed] = []
    skipped: list[str] = []
    seen: set[str] = set()

    def walk(element: ET.Element, folders: list[str]) -> None:
        for outline in element.findall("outline"):
            url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
            name = (outline.get("title") or outline.get("text") or "").strip()
            if not url:
                walk(outline, folders + ([name] if name else []))
                continue
            if not safe_url(url):
                skipped.append(f"{url!r}: not an http(s) address")
                continue
            if url in seen:
                skipped.append(f"{url}: listed twice in the file")
                continue
            seen.add(url)
            tags: list[str] = []
            for raw in [*folders, *re.split(r"[,/]", outline.get("category") or "")]:
                tag = slugify(raw) if raw.strip() else ""
                if tag and tag != "entry" and tag not in tags:
                    tags.append(tag)
            title = " ".join(name.split())[:200] or url
            feeds.append(Feed(url=url, title=title, tags=tuple(tags), interval=default_interval, enabled=True))

    walk(root.find("body"), [])  # type: ignore[arg-type]
    return feeds, skipped
