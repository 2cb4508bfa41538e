"""Suggestions from feed items, for staff to triage.

For each new item, one of:

- **update**: the item is about an existing entry. It must mention the entry's watch terms
  (`keywords`, or its title when it has none) at least `suggest.min_keyword_hits` times, *and*
  its Whoosh similarity to the entry's text must reach `suggest.update_threshold` (see
  `kb.search.Index.similarity`). Accepting adds the item as a source of the entry.
- **new topic**: terms or phrases that recur across recent items (`suggest.topic_window_days`)
  from several feeds (`topic_min_items` items, `topic_min_feeds` feeds), that are new or much
  more frequent than before the window, and that no entry mentions. Overlapping phrases are
  grouped into one suggestion with the items that support it. Accepting writes a draft entry.
- **nothing**, when neither holds (the item's `decision_reason` says why).

Feed items are untrusted: everything shown comes from their sanitised plain text, and the
reasons are built here, never copied from a feed. A dismissed suggestion is remembered with its
items: the same entry is never suggested again for the same item, and a topic comes back only
when enough *other* items support it.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kb import feedlist
from kb.entry import Entry
from kb.errors import KbError, NotFound
from kb.store import now
from kb.workspace import Workspace

MAX_ENTRIES_PER_ITEM = 3
CLEARLY_BEHIND = 0.6  # an entry under 60 % of the item's best match is not suggested as well
KEY_TERMS = 15
MAX_TOPICS_PER_RUN = 5  # the best groups each run; the rest wait for the next
MAX_CANDIDATES = 300
GENERIC_SHARE = 0.3  # a phrase in more than this share of the window's items is not a topic
BASELINE_WINDOWS = 4  # compare the window with the four windows before it
EMERGING_RATIO = 3.0
TOPIC_TEXT_CHARS = 800

STOPWORDS = frozenset("""
a about above across after again against all almost along already also although always am among an and another any
anyone anything are around as at away back be became because become becomes been before being below between both
but by can cannot could did do does doing done down during each either else enough even ever every few first for
from further get gets getting give given go goes going gone got had has have having he her here hers herself him
himself his how however i if in into is it its itself just last least less let like likely made make makes making
many may me might more most much must my myself near need needs never new next no nor not now of off often on once
one only or other others our ours out over own per perhaps put rather really said same say says see seen several
shall she should since so some something still such take than that the their theirs them themselves then there these
they this those though three through thus to today too two under until up upon us use used uses using very via was
way we well were what when where whether which while who whom whose why will with within without would yet you your
yours yourself year years week weeks day days month months time times people told news report reports reported
according read more continue reading post posted appeared first update updated latest week's today's via amp nbsp
click here full story article articles blog newsletter subscribe share comment comments sign free available
mr mrs ms dr inc ltd co com www http https org net uk us eu part parts set
including include includes included across around still could would also another however although though
""".split())

_TOKENS = re.compile(r"[a-z0-9]+(?:['’\-][a-z0-9]+)*|[.,;:!?()\[\]{}\"“”|/<>–—]")


@dataclass
class SuggestReport:
    updates: list[int] = field(default_factory=list)  # new update suggestions
    topics: list[int] = field(default_factory=list)  # new new-topic suggestions
    extended: list[int] = field(default_factory=list)  # open topic suggestions given more items
    nothing: int = 0  # items that matched nothing


# -- text --------------------------------------------------------------------------------------


def normalise(token: str) -> str:
    """A light plural fold so that 'drones' and 'drone' count as one term."""
    token = token.replace("’", "'")
    if token.endswith("'s"):
        token = token[:-2]
    if len(token) > 4 and token.endswith("ies"):
        return token[:-3] + "y"
    if len(token) > 3 and token.endswith("s") and not token.endswith(("ss", "us", "is", "ics")):
        return token[:-1]
    return token


_CONTENT: dict[str, str | None] = {}  # token -> its normal form, or None for a stop word (a cache)


def _content(token: str) -> str | None:
    known = _CONTENT.get(token, "")
    if known != "":
        return known
    norm = normalise(token)
    value = None if (token in STOPWORDS or norm in STOPWORDS or norm.isdigit() or len(norm) < 2
                     or not token[0].isalnum()) else norm
    if len(_CONTENT) > 200_000:
        _CONTENT.clear()
    _CONTENT[token] = value
    return value


def ngrams(text: str, max_n: int = 3) -> set[str]:
    """Normalised 1- to 3-word phrases of content words (not across punctuation or stop words).
    Single words shorter than four letters are left out."""
    out: set[str] = set()
    run: list[str] = []
    for token in _TOKENS.findall(text.lower()) + ["."]:
        norm = _content(token)
        if norm is not None:
            run.append(norm)
            continue
        n = len(run)
        for i in range(n):
            if len(run[i]) >= 4:
                out.add(run[i])
            if i + 1 < n:
                out.add(f"{run[i]} {run[i + 1]}")
                if max_n > 2 and i + 2 < n:
                    out.add(f"{run[i]} {run[i + 1]} {run[i + 2]}")
        run = []
    return out


def surface(key: str, text: str) -> str:
    """How `key` (a normalised phrase) is written in `text`, e.g. 'smart glasses'."""
    words = key.split(" ")
    tokens = _TOKENS.findall(text.lower())
    for i in range(len(tokens) - len(words) + 1):
        if all(_content(tokens[i + j]) == words[j] for j in range(len(words))):
            return " ".join(tokens[i : i + len(words)])
    return key


_WORD = re.compile(r"[a-z0-9]+")


def _norm_keyword(keyword: str) -> str:
    return " ".join(w for w in re.split(r"[\s\-]+", keyword.lower().strip()) if w)


class WatchTerms:
    """Every entry's watch terms in one matcher: case-insensitive, hyphens and spaces alike,
    an optional plural 's'/'es'. A term found inside a longer one counts too."""

    def __init__(self, entries: list[Entry]):
        self.owners: dict[str, list[tuple[str, str]]] = defaultdict(list)  # normalised term -> [(slug, term)]
        for entry in entries:
            for keyword in entry.keywords or (entry.title,):
                key = _norm_keyword(keyword)
                if key and (entry.slug, keyword) not in self.owners[key]:
                    self.owners[key].append((entry.slug, keyword))
        keys = sorted(self.owners, key=len, reverse=True)
        self.first = {k.split(" ")[0] + end for k in keys for end in ("", "s", "es")}
        self.inside = {k: {o for o in keys if o != k and f" {o} " in f" {k} "} for k in keys}
        body = "|".join(r"[\s\-]+".join(re.escape(w) for w in k.split(" ")) for k in keys)
        self.rx = re.compile(rf"(?:{body})(?:s|es)?(?![\w])") if keys else None

    def find(self, text: str) -> dict[str, list[str]]:
        """Entry slug -> the entry's watch terms that `text` mentions."""
        if self.rx is None:
            return {}
        low = text.lower()
        found: set[str] = set()
        for word in _WORD.finditer(low):
            if word.group() not in self.first or (word.start() and low[word.start() - 1] == "_"):
                continue
            m = self.rx.match(low, word.start())
            if not m:
                continue
            key = _norm_keyword(m.group())
            for candidate in (key, key[:-1], key[:-2]):
                if candidate in self.owners:
                    found.add(candidate)
                    found.update(self.inside[candidate])
                    break
        out: dict[str, list[str]] = defaultdict(list)
        for key in found:
            for slug, keyword in self.owners[key]:
                out[slug].append(keyword)
        return out


def key_text(entry: Entry) -> str:
    """The text an entry's key terms are drawn from: its core, with the title and watch terms
    repeated so that they weigh more than words that merely recur in the body."""
    parts = [entry.title] * 2 + [" ".join(entry.keywords)] * 3 + [entry.summary]
    parts += [f"{r.title}. {r.description}" for r in entry.risks]
    return "\n".join(p for p in parts if p)


def entry_text(entry: Entry) -> str:
    """The text an entry is matched on: title, keywords, summary, risks, measures and body."""
    parts = [entry.title, " ".join(entry.keywords), " ".join(entry.tags).replace("-", " "), entry.summary]
    parts += [f"{r.title}. {r.description}" for r in entry.risks]
    parts += [m.measure for _, m in entry.measures]
    parts.append(entry.body)
    return "\n".join(p for p in parts if p)


# -- the run -----------------------------------------------------------------------------------


def process(ws: Workspace, item_ids: list[int], topics: bool = True) -> SuggestReport:
    """Decide for each of `item_ids` (new items, already indexed), then, when there were new
    items, look for new topics."""
    report = SuggestReport()
    if item_ids:
        ws.sync()  # match against the entries as they are on disk now (only changed files are read)
        match_updates(ws, item_ids, report)
        if topics:
            detect_topics(ws, report)
    return report


def _entries(ws: Workspace) -> list[Entry]:
    return [e for e in ws.store.entries(ws.cfg.entries_dir) if e.status != "archived"]


def _rows(ws: Workspace, item_ids: list[int]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for start in range(0, len(item_ids), 500):
        chunk = item_ids[start : start + 500]
        out += list(ws.store.db.query(
            f"SELECT id, feed_id, feed_url, title, text, link, published, first_seen FROM feed_items "
            f"WHERE id IN ({','.join('?' * len(chunk))})", chunk))
    return out


def match_updates(ws: Workspace, item_ids: list[int], report: SuggestReport) -> None:
    settings = ws.cfg.suggest
    db = ws.store.db
    rows = _rows(ws, item_ids)
    entries = _entries(ws)
    titles = _feed_titles(ws)
    best: dict[int, list[tuple[float, Entry, list[str], list[str], list[str]]]] = defaultdict(list)
    near: dict[int, tuple[float, str, int]] = {}  # item -> (share, slug, hits) of the closest miss
    terms = WatchTerms(entries)
    hits: dict[str, dict[int, list[str]]] = defaultdict(dict)  # slug -> item -> watch terms found
    for row in rows:
        for slug, found in terms.find(f"{row['title']}\n{row['text']}").items():
            if len(found) >= max(1, settings.min_keyword_hits):
                hits[slug][row["id"]] = sorted(found, key=str.lower)
    for entry in entries:
        hits_by_item = hits.get(entry.slug)
        if not hits_by_item:
            continue
        sim = ws.index.similarity(f"entry:{entry.slug}", key_text(entry), [f"item:{i}" for i in hits_by_item],
                                  numterms=KEY_TERMS, exclude=STOPWORDS)
        for item_id, found in hits_by_item.items():
            share, matched = sim.scores.get(f"item:{item_id}", (0.0, []))
            if share >= settings.update_threshold:
                best[item_id].append((share, entry, found, matched, sim.terms))
            elif share > near.get(item_id, (-1.0, "", 0))[0]:
                near[item_id] = (share, entry.slug, len(found))
    stamp = now()
    with db.atomic():
        for row in rows:
            item_id = row["id"]
            ranked = sorted(best.get(item_id, []), key=lambda c: -c[0])
            chosen = [c for c in ranked if c[0] >= CLEARLY_BEHIND * ranked[0][0]][:MAX_ENTRIES_PER_ITEM]
            for share, entry, found, matched, _terms in chosen:
                if _pair_exists(ws, entry.slug, item_id):
                    continue
                feed = titles.get(row["feed_url"], row["feed_url"])
                reasons = [
                    f"mentions the entry's watch term{'s' * (len(found) != 1)}: {', '.join(found)}",
                    f"similarity {share:.2f} to the entry's text (threshold {settings.update_threshold:.2f}); "
                    f"shares the key terms {', '.join(matched[:8]) or 'none'}",
                    f"from the feed {feed}",
                ]
                sid = _insert(ws, kind="update", entry_slug=entry.slug, topic_key=None,
                              title=f"Add to {entry.title}: {row['title']}"[:300], keywords=found,
                              reasons=reasons, score=share, item_ids=[item_id], stamp=stamp)
                report.updates.append(sid)
            if chosen:
                reason = "suggested as a source for " + ", ".join(f"{c[1].slug} ({c[0]:.2f})" for c in chosen)
                db.execute("UPDATE feed_items SET decision = 'update', decision_reason = ? WHERE id = ?", [reason, item_id])
            else:
                report.nothing += 1
                if item_id in near:
                    share, slug, hits = near[item_id]
                    reason = (f"nothing: closest entry {slug} mentions {hits} watch term{'s' * (hits != 1)} but similarity "
                              f"{share:.2f} is below {settings.update_threshold:.2f}")
                else:
                    reason = "nothing: mentions no entry's watch terms"
                db.execute("UPDATE feed_items SET decision = 'none', decision_reason = ? WHERE id = ? AND decision != 'topic'",
                           [reason, item_id])


def _pair_exists(ws: Workspace, slug: str, item_id: int) -> bool:
    return ws.store.db.execute(
        "SELECT 1 FROM suggestions s JOIN suggestion_items si ON si.suggestion_id = s.id "
        "WHERE s.kind = 'update' AND s.entry_slug = ? AND si.item_id = ?", [slug, item_id]).fetchone() is not None


def _insert(ws: Workspace, *, kind: str, entry_slug: str | None, topic_key: str | None, title: str,
            keywords: list[str], reasons: list[str], score: float, item_ids: list[int], stamp: str) -> int:
    db = ws.store.db
    table = db["suggestions"]
    table.insert({"kind": kind, "status": "open", "entry_slug": entry_slug, "topic_key": topic_key, "title": title,
                  "keywords": json.dumps(keywords), "reasons": json.dumps(reasons), "score": round(score, 3),
                  "created": stamp, "updated": stamp})
    sid = int(table.last_pk)
    db["suggestion_items"].insert_all(({"suggestion_id": sid, "item_id": i} for i in item_ids), ignore=True)
    return sid


def _feed_titles(ws: Workspace) -> dict[str, str]:
    feeds, _ = feedlist.load(ws.cfg.feeds_file, ws.cfg.display(ws.cfg.feeds_file))
    titles = {row[0]: row[1] for row in ws.store.db.execute("SELECT url, title FROM feed_state") if row[1]}
    titles.update({f.url: f.title for f in feeds})
    return titles


# -- emerging topics ---------------------------------------------------------------------------


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
    return list(ws.store.db.query(
        "SELECT id, feed_id, title, substr(text, 1, ?) AS text, decision FROM feed_items "
        "WHERE min(coalesce(published, first_seen), first_seen) >= ? AND min(coalesce(published, first_seen), first_seen) < ?",
        [TOPIC_TEXT_CHARS, start, end]))


def detect_topics(ws: Workspace, report: SuggestReport, moment: dt.datetime | None = None) -> None:
    """Find recurring phrases in recent items that no entry covers; one suggestion per group."""
    settings = ws.cfg.suggest
    moment = moment or dt.datetime.now(dt.timezone.utc)
    window = dt.timedelta(days=max(1, settings.topic_window_days))
    start = moment - window
    end = (moment + dt.timedelta(days=1)).isoformat(timespec="seconds")
    rows = _window_rows(ws, start.isoformat(timespec="seconds"), end)
    min_items, min_feeds = max(2, settings.topic_min_items), max(1, settings.topic_min_feeds)
    if len(rows) < min_items:
        return
    texts = {row["id"]: f"{row['title']}. {row['text']}" for row in rows}
    items_of: dict[str, set[int]] = defaultdict(set)
    for item_id, text in texts.items():
        for key in ngrams(text):
            items_of[key].add(item_id)
    covered = _entry_phrases(_entries(ws))
    feed_of = {row["id"]: row["feed_id"] for row in rows}
    total = len(rows)
    limit = GENERIC_SHARE * total if total >= 20 else total
    frequent = [(len(ids) * (1 + 0.3 * key.count(" ")), key) for key, ids in items_of.items()
                if min_items <= len(ids) <= limit and key not in covered]
    frequent.sort(reverse=True)
    top: list[_Candidate] = []
    for _, key in frequent:  # best first, until enough pass the several-feeds test
        ids = items_of[key]
        feeds = {feed_of[i] for i in ids}
        if len(feeds) >= min_feeds:
            top.append(_Candidate(key, ids, feeds))
            if len(top) >= MAX_CANDIDATES:
                break
    del items_of, frequent
    if not top:
        return
    top.sort(key=lambda c: c.rank, reverse=True)
    kept = {c.key: c for c in top}
    before_rows = _window_rows(ws, (start - BASELINE_WINDOWS * window).isoformat(timespec="seconds"),
                               start.isoformat(timespec="seconds"))
    for row in before_rows:
        for key in ngrams(f"{row['title']}. {row['text']}") & kept.keys():
            kept[key].before += 1
    base_total = len(before_rows)
    decisions = {row["id"]: row["decision"] for row in rows}
    good: list[_Candidate] = []
    for c in top:
        if c.before and base_total and len(c.items) / total < EMERGING_RATIO * (c.before / base_total):
            continue  # not emerging: about as frequent as before
        if sum(decisions.get(i) == "update" for i in c.items) * 2 > len(c.items):
            continue  # mostly about existing entries
        good.append(c)
    clusters: list[tuple[_Candidate, list[_Candidate]]] = []
    for c in good:
        for lead, members in clusters:
            if len(c.items & lead.items) >= 0.6 * len(c.items):
                members.append(c)
                break
        else:
            clusters.append((c, []))
    stamp = now()
    with ws.store.db.atomic():
        # A topic needs more than one recurring phrase in the same items ('smart glasses' with
        # 'glasses', 'facial recognition'...): one common word shared by unrelated items is chance.
        cohesive = [(lead, members) for lead, members in clusters if members]
        for lead, members in cohesive[:MAX_TOPICS_PER_RUN]:
            for c in [lead, *members]:
                c.surface = surface(c.key, texts[min(c.items)])
            _reconcile(ws, lead, members, report, stamp, window, min_items, min_feeds, rows)


def _topic_keywords(lead: _Candidate, members: list[_Candidate]) -> list[str]:
    words = [lead.surface]
    for c in sorted(members, key=lambda c: (-c.words, -len(c.items))):
        if len(words) >= 5:
            break
        if any(c.surface in w or w in c.surface for w in words):
            continue
        words.append(c.surface)
    return words


def _reconcile(ws: Workspace, lead: _Candidate, members: list[_Candidate], report: SuggestReport, stamp: str,
               window: dt.timedelta, min_items: int, min_feeds: int, rows: list[dict[str, Any]]) -> bool:
    """Create, extend or (after a dismissal) hold back the suggestion for one topic."""
    db = ws.store.db
    feed_of = {row["id"]: row["feed_id"] for row in rows}
    existing = list(db.query("SELECT id, status, topic_key FROM suggestions WHERE kind = 'new-topic' AND "
                             "(topic_key = ? OR id IN (SELECT suggestion_id FROM suggestion_items WHERE item_id IN "
                             f"({','.join('?' * len(lead.items))})))", [lead.key, *lead.items]))
    linked: dict[int, set[int]] = {}
    for s in existing:
        linked[s["id"]] = {r[0] for r in db.execute("SELECT item_id FROM suggestion_items WHERE suggestion_id = ?", [s["id"]])}
    related = [s for s in existing if s["topic_key"] == lead.key
               or len(linked[s["id"]] & lead.items) * 2 >= len(lead.items)]
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
            db["suggestions"].update(sid, {"updated": stamp, "keywords": json.dumps(keywords), "reasons": json.dumps(
                _topic_reasons(lead, members, everything, {feed_of.get(i) for i in everything} - {None}, days))})
        else:  # found through its items under another phrase: say so, keep its title and reasons
            row = _decode(db["suggestions"].get(sid))
            note = f"also '{lead.surface}' in {len(extra)} more item{'s' * (len(extra) != 1)}"
            db["suggestions"].update(sid, {"updated": stamp, "reasons": json.dumps([*row["reasons"], note]),
                                           "keywords": json.dumps(list(dict.fromkeys([*row["keywords"], lead.surface]))[:8])})
        report.extended.append(sid)
        _mark_topic(ws, extra, lead.surface)
        return True
    feeds = {feed_of[i] for i in remaining if i in feed_of}
    if len(remaining) < min_items or len(feeds) < min_feeds:
        return False
    title = lead.surface[:1].upper() + lead.surface[1:]
    score = len(remaining) * math.log(1 + len(feeds))
    sid = _insert(ws, kind="new-topic", entry_slug=None, topic_key=lead.key, title=title, keywords=keywords,
                  reasons=_topic_reasons(lead, members, remaining, feeds, days), score=score,
                  item_ids=sorted(remaining), stamp=stamp)
    report.topics.append(sid)
    _mark_topic(ws, remaining, lead.surface)
    return True


def _topic_reasons(lead: _Candidate, members: list[_Candidate], item_ids: set[int], feeds: set[Any], days: int) -> list[str]:
    reasons = [f"'{lead.surface}' appears in {len(item_ids)} items from {len(feeds)} feeds in the last {days} days"
               + (f" ({lead.before} in the {BASELINE_WINDOWS * days} days before)" if lead.before else " and not before"),
               "no entry mentions it (title, keywords, summary, risks, measures or body)"]
    related = [f"'{c.surface}' ({len(c.items)})" for c in members[:6]]
    if related:
        reasons.append("related phrases in the same items: " + ", ".join(related))
    return reasons


def _mark_topic(ws: Workspace, item_ids: set[int], phrase: str) -> None:
    ids = sorted(item_ids)
    if ids:
        ws.store.db.execute(
            f"UPDATE feed_items SET decision = 'topic', decision_reason = ? WHERE decision != 'update' AND id IN "
            f"({','.join('?' * len(ids))})", [f"supports the new topic '{phrase}'", *ids])


# -- triage ------------------------------------------------------------------------------------


def listing(ws: Workspace, status: str | None = "open", kind: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
    where, params = [], []
    if status:
        where.append("status = ?")
        params.append(status)
    if kind:
        where.append("kind = ?")
        params.append(kind)
    sql = ("SELECT s.*, (SELECT count(*) FROM suggestion_items si WHERE si.suggestion_id = s.id) AS item_count "
           f"FROM suggestions s {'WHERE ' + ' AND '.join(where) if where else ''} ORDER BY s.id DESC")
    if limit:
        sql += f" LIMIT {int(limit)}"
    return [_decode(row) for row in ws.store.db.query(sql, params)]


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    row = dict(row)
    row["keywords"] = json.loads(row.get("keywords") or "[]")
    row["reasons"] = json.loads(row.get("reasons") or "[]")
    return row


def get(ws: Workspace, sid: int) -> dict[str, Any]:
    rows = list(ws.store.db["suggestions"].rows_where("id = ?", [sid]))
    if not rows:
        raise NotFound(f"no suggestion {sid}; see kb suggestions list")
    out = _decode(rows[0])
    titles = _feed_titles(ws)
    out["items"] = [
        {**row, "feed_title": titles.get(row["feed_url"], row["feed_url"])}
        for row in ws.store.db.query(
            "SELECT i.id, i.title, i.link, i.feed_url, i.published, i.first_seen, substr(i.text, 1, 300) AS excerpt "
            "FROM suggestion_items si JOIN feed_items i ON i.id = si.item_id WHERE si.suggestion_id = ? "
            "ORDER BY coalesce(i.published, i.first_seen) DESC", [sid])
    ]
    return out


def _who(by: str | None) -> str:
    if by:
        return by
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name on some systems
        return "unknown"


def _source_of(item: dict[str, Any]) -> dict[str, Any]:
    date = (item.get("published") or item.get("first_seen") or "")[:10]
    return {"title": item["title"] or item["link"] or "Feed item", "publisher": item.get("feed_title"),
            "url": item.get("link"), "date": date or None}


@dataclass
class Accepted:
    message: str
    path: Path | None = None


def accept(ws: Workspace, sid: int, by: str | None = None) -> Accepted:
    """Accept: add the item to its entry's sources, or write a draft entry for a new topic."""
    from kb.entryedit import add_source, create_draft

    s = get(ws, sid)
    if s["status"] != "open":
        raise KbError(f"suggestion {sid} is {s['status']} already")
    cfg = ws.cfg
    if s["kind"] == "update":
        row = ws.store.entry_row(s["entry_slug"])
        if row is None:
            raise NotFound(f"entry {s['entry_slug']!r} no longer exists; dismiss suggestion {sid} instead")
        path = cfg.entries_dir / row["path"]
        added = [add_source(path, _source_of(item), display=Path(cfg.display(path))) for item in s["items"]]
        message = (f"added {sum(added)} source{'s' * (sum(added) != 1)} to {cfg.display(path)}" if any(added)
                   else f"{cfg.display(path)} lists that source already; nothing changed")
    else:
        sources, seen = [], set()
        for item in s["items"]:
            if item.get("link") in seen:
                continue
            seen.add(item.get("link"))
            sources.append(_source_of(item))
        note = (f"Suggested from {len(s['items'])} feed items that mention "
                + ", ".join(f"'{k}'" for k in s["keywords"]) + ". Check the sources below, then write the entry.")
        path = create_draft(cfg.entries_dir, s["title"], s["keywords"], sources[:15], note=note)
        message = f"created the draft {cfg.display(path)}; edit it, then run kb validate"
    ws.store.db["suggestions"].update(sid, {"status": "accepted", "decided_at": now(), "decided_by": _who(by),
                                            "result": cfg.display(path)})
    ws.sync()
    return Accepted(message, path)


def dismiss(ws: Workspace, sid: int, by: str | None = None, note: str | None = None) -> None:
    """Dismiss: remembered with its items, so the same suggestion never comes back."""
    s = get(ws, sid)
    if s["status"] != "open":
        raise KbError(f"suggestion {sid} is {s['status']} already")
    ws.store.db["suggestions"].update(sid, {"status": "dismissed", "decided_at": now(), "decided_by": _who(by),
                                            "note": note})

