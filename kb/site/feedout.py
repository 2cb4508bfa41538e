"""Atom 1.0 and RSS 2.0 feeds of risk notes, generated with feedgen. No Flask.

Subscribers care about changes to assessments, so each item says what changed in the
note's latest version. Everything that goes into a feed is deterministic, so the same
notes give the same bytes and an unchanged feed keeps its ETag:

- ids are tag URIs, `tag:<host>,2026:<slug>`: stable across renames of the site's address
  path, across rebuilds of the database, and across versions of the note;
- an item's `updated` is when the store first saw the note's current version, and the
  feed's `updated` is its newest item's (feedgen's default, now, would change every time);
- `rel="self"` is the URL the feed was served from.

Every item carries its note's TLP 2.0 marking in FIRST's words, so it survives a feed reader:
the title starts `[TLP:AMBER] `, a category with the TLP scheme names it, and the content opens
with the label and who it may be shared with (`sharing_text`, the same sentence as the note's page).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from urllib.parse import urlsplit

from feedgen.feed import FeedGenerator

from kb.model import taxonomy as tx
from kb.site.catalog import EMPTY_SINCE, Note

TAG_YEAR = 2026  # the date in every tag: id; never change it, or every subscriber sees every item again
FEED_LIMIT = 50
TLP_SCHEME = "https://www.first.org/tlp/"  # the category scheme (Atom) or domain (RSS) of the TLP label
FORMATS = {"atom": "application/atom+xml; charset=utf-8", "rss": "application/rss+xml; charset=utf-8"}


@dataclass(frozen=True)
class FeedItem:
    note: Note
    changes: Sequence[str]
    url: str
    sharing: str = ""  # who may read the note, in words (`sharing_text`)


def tlp_label(tlp: str) -> str:
    """FIRST's words for a TLP value: 'amber+strict' -> 'TLP:AMBER+STRICT'."""
    return tx.TLP[tlp]


def sharing_text(tlp: str, share_with: Sequence[str], green_community: str) -> str:
    """Who a note may be shared with, in one sentence (the note's page says the same)."""
    if tlp == "clear":
        return "This note may be shared freely, without restriction."
    if tlp == "green":
        return f"Share only within the community: {green_community}. Do not publish."
    if tlp in ("amber", "amber+strict"):
        only = " (that organisation only)" if tlp == "amber+strict" else ""
        return f"Share only within: {', '.join(share_with)}{only}."
    return "For the named recipients only."


def tag_id(base_url: str, name: str) -> str:
    """A stable tag: URI (RFC 4151) for a feed or an item."""
    host = urlsplit(base_url).hostname or "localhost"
    return f"tag:{host},{TAG_YEAR}:{name}"


def item_html(item: FeedItem) -> str:
    """The item's content: its TLP marking, what changed, the summary, and the highest risks."""
    e = item.note.entry
    sharing = f" {escape(item.sharing)}" if item.sharing else ""
    parts = [f"<p><strong>{escape(tlp_label(e.tlp))}</strong>{sharing}</p>"]
    parts.append("<p><strong>What changed:</strong></p><ul>")
    parts += [f"<li>{escape(change)}</li>" for change in item.changes]
    parts.append(f"</ul><p>{escape(e.summary)}</p>")
    if e.risks:
        parts.append("<p><strong>Risks</strong> (likelihood x impact, each 1-5):</p><ul>")
        for r in sorted(e.risks, key=lambda r: -r.score):
            parts.append(
                f"<li>{escape(r.title)}: {r.likelihood} x {r.impact} = {r.score}, "
                f"{tx.label(tx.TREND, r.trend).lower()}</li>"
            )
        parts.append("</ul>")
    parts.append(f'<p><a href="{escape(item.url)}">Read the full note</a></p>')
    return "".join(parts)


def render(
    items: Sequence[FeedItem],
    *,
    kind: str,
    title: str,
    subtitle: str,
    feed_name: str,
    self_url: str,
    page_url: str,
    base_url: str,
    author: str,
) -> bytes:
    """Atom (`kind="atom"`) or RSS 2.0 (`kind="rss"`) bytes for the items, newest change first."""
    if kind not in FORMATS:
        raise ValueError(f"unknown feed format {kind!r}; use one of: {', '.join(FORMATS)}")
    ordered = sorted(items, key=lambda i: (i.note.updated, i.note.slug), reverse=True)[:FEED_LIMIT]
    newest = max((i.note.updated for i in ordered), default=EMPTY_SINCE)
    fg = FeedGenerator()
    fg.id(tag_id(base_url, f"feed/{feed_name}"))
    fg.title(title)
    fg.subtitle(subtitle)
    fg.author({"name": author})
    fg.link(href=page_url, rel="alternate", type="text/html")
    fg.link(href=self_url, rel="self", type=FORMATS[kind].split(";")[0])
    fg.language("en-GB")
    fg.generator("Horizon KB")
    fg.updated(newest)
    fg.lastBuildDate(newest)
    for item in ordered:
        note, e = item.note, item.note.entry
        fe = fg.add_entry(order="append")
        fe.id(tag_id(base_url, note.slug))
        fe.guid(tag_id(base_url, note.slug), permalink=False)
        label = tlp_label(e.tlp)
        fe.title(f"[{label}] {e.title}")
        fe.link(href=item.url, rel="alternate", type="text/html")
        fe.updated(note.updated)
        fe.published(note.first_seen)
        fe.pubDate(note.updated)
        if kind == "atom":
            fe.summary(f"[{label}] {e.summary}")
            fe.content(item_html(item), type="html")
        else:
            fe.description(item_html(item))
        fe.category(term=label, label=label, scheme=TLP_SCHEME)
        for tag in e.tags:
            fe.category(term=tag, label=tx.label({}, tag))
    return fg.atom_str(pretty=True) if kind == "atom" else fg.rss_str(pretty=True)
