"""New-topic suggestions: terms or phrases that recur across recent items
(`suggest.topic_window_days`) from several feeds (`topic_min_items` items, `topic_min_feeds`
feeds), that are new or much more frequent than before the window, and that no entry is about (its title,
keywords, summary and risks; measures and body do not count).
Overlapping phrases are grouped into one suggestion with the items that support it; a topic
comes back after a dismissal only when enough *other* items support it.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from kb.clock import now
from kb.model.entry import Entry
from kb.store.transactions import writing
from kb.suggest.records import SuggestReport, _decode, _insert
from kb.suggest.text import entry_text, ngrams, surface
from kb.suggest.updates import _entries
from kb.workspace import Workspace

MAX_TOPICS_PER_RUN = 5  # the best groups each run; the rest wait for the next


MAX_CANDIDATES = 300


GENERIC_SHARE = 0.3  # a phrase in more than this share of the window's items is not a topic


BASELINE_WINDOWS = 4  # compare the window with the four windows before it


EMERGING_RATIO = 3.0


TOPIC_TEXT_CHARS = 800


@dataclass
class _Candidate:
    key: str
    items: set[int]
    feeds: set[int]
    surface: str = ""
    before: int = 0

    @property
    def words(self) -> int:
        return self.key.count(" ") + 1

    @property
    def rank(self) -> tuple[float, int, int]:
        return (len(self.items) * (1 + 0.3 * (self.words - 1)), len(self.feeds), self.words)


def _entry_phrases(entries: list[Entry]) -> set[str]:
    out: set[str] = set()
    for entry in entries:
        out.update(ngrams(entry_text(entry)))
        for keyword in entry.keywords:
            out.update(ngrams(keyword))
    return out


def _window_rows(ws: Workspace, start: str, end: str) -> list[dict[str, Any]]:
    return list(
        ws.store.db.query(
            "SELECT id, feed_id, title, substr(text, 1, ?) AS text, decision FROM feed_items "
            "WHERE min(coalesce(published, first_seen), first_seen) >= ? AND min(coalesce(published, first_seen), first_seen) < ?",
            [TOPIC_TEXT_CHARS, start, end],
        )
    )


def detect_topics(ws: Workspace, report: SuggestReport, moment: dt.datetime | None = None) -> None:
    """Find recurring phrases in recent items that no entry covers; one suggestion per group."""
    settings = ws.cfg.suggest
    moment = moment or dt.datetime.now(dt.UTC)
    window = dt.timedelta(days=max(1, settings.topic_window_days))
    start = moment - window
    end = (moment + dt.timedelta(days=1)).isoformat(timespec="seconds")
    rows = _window_rows(ws, start.isoformat(timespec="seconds"), end)
    min_items, min_feeds = max(2, settings.topic_min_items), max(1, settings.topic_min_feeds)
    if len(rows) < min_items:
        return
    texts = {row["id"]: f"{row['title']}. {row['text']}" for row in rows}
    top = _candidates(ws, rows, texts, min_items, min_feeds)
    if not top:
        return
    top.sort(key=lambda c: c.rank, reverse=True)
    base_total = _count_before(ws, top, start, window)
    decisions = {row["id"]: row["decision"] for row in rows}
    clusters = _clusters(_emerging(top, len(rows), base_total, decisions))
    stamp = now()
    with writing(ws.store.db):
        # A topic needs more than one recurring phrase in the same items ('smart glasses' with
        # 'glasses', 'facial recognition'...): one common word shared by unrelated items is chance.
        cohesive = [(lead, members) for lead, members in clusters if members]
        for lead, members in cohesive[:MAX_TOPICS_PER_RUN]:
            for c in [lead, *members]:
                c.surface = surface(c.key, texts[min(c.items)])
            _reconcile(ws, lead, members, report, stamp, window, min_items, min_feeds, rows)


def _candidates(
    ws: Workspace, rows: list[dict[str, Any]], texts: dict[int, str], min_items: int, min_feeds: int
) -> list[_Candidate]:
    """The most frequent phrases of the window (at most MAX_CANDIDATES) that are in at least
    `min_items` items from `min_feeds` feeds, are not too common to be a topic (GENERIC_SHARE)
    and that no entry mentions."""
    items_of: dict[str, set[int]] = defaultdict(set)
    for item_id, text in texts.items():
        for key in ngrams(text):
            items_of[key].add(item_id)
    covered = _entry_phrases(_entries(ws))
    feed_of = {row["id"]: row["feed_id"] for row in rows}
    total = len(rows)
    limit = GENERIC_SHARE * total if total >= 20 else total
    frequent = [
        (len(ids) * (1 + 0.3 * key.count(" ")), key)
        for key, ids in items_of.items()
        if min_items <= len(ids) <= limit and key not in covered
    ]
    frequent.sort(reverse=True)
    top: list[_Candidate] = []
    for _, key in frequent:  # best first, until enough pass the several-feeds test
        ids = items_of[key]
        feeds = {feed_of[i] for i in ids}
        if len(feeds) >= min_feeds:
            top.append(_Candidate(key, ids, feeds))
            if len(top) >= MAX_CANDIDATES:
                break
    return top


def _count_before(ws: Workspace, top: list[_Candidate], start: dt.datetime, window: dt.timedelta) -> int:
    """Count each candidate's items in the BASELINE_WINDOWS windows before `start` (into
    `before`); returns how many items those windows hold."""
    kept = {c.key: c for c in top}
    before_rows = _window_rows(
        ws, (start - BASELINE_WINDOWS * window).isoformat(timespec="seconds"), start.isoformat(timespec="seconds")
    )
    for row in before_rows:
        for key in ngrams(f"{row['title']}. {row['text']}") & kept.keys():
            kept[key].before += 1
    return len(before_rows)


def _emerging(top: list[_Candidate], total: int, base_total: int, decisions: dict[int, Any]) -> list[_Candidate]:
    """The candidates that are new or much more frequent than before, and whose items are not
    mostly updates to existing entries."""
    good: list[_Candidate] = []
    for c in top:
        if c.before and base_total and len(c.items) / total < EMERGING_RATIO * (c.before / base_total):
            continue  # not emerging: about as frequent as before
        if sum(decisions.get(i) == "update" for i in c.items) * 2 > len(c.items):
            continue  # mostly about existing entries
        good.append(c)
    return good


def _clusters(good: list[_Candidate]) -> list[tuple[_Candidate, list[_Candidate]]]:
    """Group overlapping phrases: each candidate joins the first lead sharing 60% of its items,
    or leads a group of its own."""
    clusters: list[tuple[_Candidate, list[_Candidate]]] = []
    for c in good:
        for lead, members in clusters:
            if len(c.items & lead.items) >= 0.6 * len(c.items):
                members.append(c)
                break
        else:
            clusters.append((c, []))
    return clusters


def _topic_keywords(lead: _Candidate, members: list[_Candidate]) -> list[str]:
    words = [lead.surface]
    for c in sorted(members, key=lambda c: (-c.words, -len(c.items))):
        if len(words) >= 5:
            break
        if any(c.surface in w or w in c.surface for w in words):
            continue
        words.append(c.surface)
    return words


def _reconcile(
    ws: Workspace,
    lead: _Candidate,
    members: list[_Candidate],
    report: SuggestReport,
    stamp: str,
    window: dt.timedelta,
    min_items: int,
    min_feeds: int,
    rows: list[dict[str, Any]],
) -> bool:
    """Create, extend or (after a dismissal) hold back the suggestion for one topic."""
    db = ws.store.db
    feed_of = {row["id"]: row["feed_id"] for row in rows}
    existing = list(
        db.query(
            "SELECT id, status, topic_key FROM suggestions WHERE kind = 'new-topic' AND "
            "(topic_key = ? OR id IN (SELECT suggestion_id FROM suggestion_items WHERE item_id IN "
            f"({','.join('?' * len(lead.items))})))",
            [lead.key, *lead.items],
        )
    )
    linked: dict[int, set[int]] = {}
    for s in existing:
        linked[s["id"]] = {
            r[0] for r in db.execute("SELECT item_id FROM suggestion_items WHERE suggestion_id = ?", [s["id"]])
        }
    related = [
        s for s in existing if s["topic_key"] == lead.key or len(linked[s["id"]] & lead.items) * 2 >= len(lead.items)
    ]
    if any(s["status"] == "accepted" for s in related):
        return False
    dismissed = set().union(*(linked[s["id"]] for s in related if s["status"] == "dismissed")) if related else set()
    remaining = lead.items - dismissed
    keywords = _topic_keywords(lead, members)
    days = window.days
    open_ = [s for s in related if s["status"] == "open"]
    if open_:
        sid = open_[0]["id"]
        extra = remaining - linked[sid]
        if not extra:
            return False
        db["suggestion_items"].insert_all(({"suggestion_id": sid, "item_id": i} for i in extra), ignore=True)
        everything = linked[sid] | extra
        if open_[0]["topic_key"] == lead.key:  # the same phrase: its reasons, recounted
            db["suggestions"].update(
                sid,
                {
                    "updated": stamp,
                    "keywords": json.dumps(keywords),
                    "reasons": json.dumps(
                        _topic_reasons(lead, members, everything, {feed_of.get(i) for i in everything} - {None}, days)
                    ),
                },
            )
        else:  # found through its items under another phrase: say so, keep its title and reasons
            row = _decode(db["suggestions"].get(sid))
            note = f"also '{lead.surface}' in {len(extra)} more item{'s' * (len(extra) != 1)}"
            db["suggestions"].update(
                sid,
                {
                    "updated": stamp,
                    "reasons": json.dumps([*row["reasons"], note]),
                    "keywords": json.dumps(list(dict.fromkeys([*row["keywords"], lead.surface]))[:8]),
                },
            )
        report.extended.append(sid)
        _mark_topic(ws, extra, lead.surface)
        return True
    feeds = {feed_of[i] for i in remaining if i in feed_of}
    if len(remaining) < min_items or len(feeds) < min_feeds:
        return False
    title = lead.surface[:1].upper() + lead.surface[1:]
    score = len(remaining) * math.log(1 + len(feeds))
    sid = _insert(
        ws,
        kind="new-topic",
        entry_slug=None,
        topic_key=lead.key,
        title=title,
        keywords=keywords,
        reasons=_topic_reasons(lead, members, remaining, feeds, days),
        score=score,
        item_ids=sorted(remaining),
        stamp=stamp,
    )
    report.topics.append(sid)
    _mark_topic(ws, remaining, lead.surface)
    return True


def _topic_reasons(
    lead: _Candidate, members: list[_Candidate], item_ids: set[int], feeds: set[Any], days: int
) -> list[str]:
    reasons = [
        f"'{lead.surface}' appears in {len(item_ids)} items from {len(feeds)} feeds in the last {days} days"
        + (f" ({lead.before} in the {BASELINE_WINDOWS * days} days before)" if lead.before else " and not before"),
        "no entry is about it (in its title, keywords, summary or risks)",
    ]
    related = [f"'{c.surface}' ({len(c.items)})" for c in members[:6]]
    if related:
        reasons.append("related phrases in the same items: " + ", ".join(related))
    return reasons


def _mark_topic(ws: Workspace, item_ids: set[int], phrase: str) -> None:
    ids = sorted(item_ids)
    if ids:
        ws.store.db.execute(
            f"UPDATE feed_items SET decision = 'topic', decision_reason = ? WHERE decision != 'update' AND id IN "
            f"({','.join('?' * len(ids))})",
            [f"supports the new topic '{phrase}'", *ids],
        )
