"""Update suggestions: a new feed item that is about an existing entry.

The item must mention the entry's watch terms (`keywords`, or its title when it has none; a
synonym from entries/synonyms.yaml counts) at least `suggest.min_keyword_hits` times, share
MIN_RISK_TERMS key terms with one of the entry's risks, *and* either its Whoosh similarity to
the whole note reaches `suggest.update_threshold` or its similarity to that one risk reaches
RISK_ALONE (see `kb.index.similar`). Reasons are in words, not scores. Accepting adds the
item as a source of the entry. A dismissed pair (entry, item) never comes back.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from kb.clock import now
from kb.index.search import entry_document
from kb.index.similar import Collection, Similarity
from kb.model import synonyms as synonyms_file
from kb.model.entry import Entry
from kb.store.transactions import writing
from kb.suggest.records import SuggestReport, _feed_titles, _insert
from kb.suggest.text import STOPWORDS, WatchTerms, key_text, risk_text
from kb.workspace import Workspace

MAX_ENTRIES_PER_ITEM = 3


CLEARLY_BEHIND = 0.8  # an entry under 80 % of the item's best match is not suggested as well


KEY_TERMS = 15


RISK_TERMS = 10  # key terms of one risk


RISK_WEIGHT = 0.7  # a risk's share counts less in the ranking: its text is short, so close items reach high shares


MIN_RISK_TERMS = 2  # an item must share this many of one risk's key terms (a drone light show shares 'drone')


RISK_ALONE = 0.5  # this close to one risk is enough, however far from the whole note


STRONG = 1.5  # a score this many times the threshold, with two or more watch terms, is a strong match


def _entries(ws: Workspace) -> list[Entry]:
    return [e for e in ws.store.entries(ws.cfg.entries_dir) if e.status != "archived"]


def _rows(ws: Workspace, item_ids: list[int]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for start in range(0, len(item_ids), 500):
        chunk = item_ids[start : start + 500]
        out += list(
            ws.store.db.query(
                f"SELECT id, feed_id, feed_url, title, text, link, published, first_seen FROM feed_items "
                f"WHERE id IN ({','.join('?' * len(chunk))})",
                chunk,
            )
        )
    return out


def _synonyms(ws: Workspace) -> list[tuple[str, ...]]:
    groups, _problems = synonyms_file.read(ws.cfg.entries_dir / synonyms_file.FILE_NAME)  # kb validate reports them
    return [g.terms for g in groups]


@dataclass
class _Match:
    share: float  # the whole note's similarity
    risk: str  # the title of the risk the item is closest to
    risk_share: float
    risk_terms: list[str]  # the risk's key terms it has
    found: list[str]  # watch terms mentioned
    matched: list[str]  # key terms shared

    @property
    def score(self) -> float:
        return max(self.share, self.risk_share * RISK_WEIGHT)


def _match(collection: Collection, entry: Entry, hits_by_item: dict[int, list[str]]) -> dict[int, _Match]:
    """Each item's similarity to the whole note and to the entry's closest risk."""
    candidates = list(hits_by_item)
    document = entry_document(entry)
    source = (document["title"], document["body"])

    def sim(text: str, numterms: int) -> Similarity:
        return collection.similarity(source, text, candidates, numterms=numterms, exclude=STOPWORDS)

    whole = sim(key_text(entry), KEY_TERMS)
    out = {}
    for item_id, found in hits_by_item.items():
        share, matched = whole.scores.get(f"item:{item_id}", (0.0, []))
        out[item_id] = _Match(share, "", 0.0, [], found, matched)
    for risk in entry.risks:
        by_risk = sim(risk_text(risk), RISK_TERMS)
        for item_id, m in out.items():
            share, shared = by_risk.scores.get(f"item:{item_id}", (0.0, []))
            if (len(shared) >= MIN_RISK_TERMS, share) > (len(m.risk_terms) >= MIN_RISK_TERMS, m.risk_share):
                m.risk, m.risk_share, m.risk_terms = risk.title, share, shared
    return out


def _strength(m: _Match, threshold: float) -> str:
    return "strong match" if m.score >= STRONG * threshold and len(m.found) >= 2 else "match"


def _reasons(m: _Match, threshold: float, feed: str) -> list[str]:
    terms = f"{len(m.found)} watch term{'s' * (len(m.found) != 1)} ({', '.join(m.found)})"
    closeness = f"close to the risk *{m.risk}*" if m.risk else "close to the note"
    return [
        f"{_strength(m, threshold)}: {terms}, {closeness}",
        f"words it shares with the entry: {', '.join(m.matched[:8]) or 'none'}",
        f"from the feed {feed}",
    ]


def match_updates(ws: Workspace, item_ids: list[int], report: SuggestReport) -> None:
    settings = ws.cfg.suggest
    threshold = settings.update_threshold
    db = ws.store.db
    rows = _rows(ws, item_ids)
    entries = _entries(ws)
    titles = _feed_titles(ws)
    best: dict[int, list[tuple[Entry, _Match]]] = defaultdict(list)
    near: dict[int, tuple[Entry, _Match]] = {}  # item -> its closest miss
    terms = WatchTerms(entries, _synonyms(ws))
    hits: dict[str, dict[int, list[str]]] = defaultdict(dict)  # slug -> item -> watch terms found
    for row in rows:
        for slug, found in terms.find(f"{row['title']}\n{row['text']}").items():
            if len(found) >= max(1, settings.min_keyword_hits):
                hits[slug][row["id"]] = sorted(found, key=str.lower)
    collection = Collection(ws.index.reader(), ws.items)
    try:
        for entry in entries:
            if not hits.get(entry.slug):
                continue
            for item_id, m in _match(collection, entry, hits[entry.slug]).items():
                if _enough(m, threshold):
                    best[item_id].append((entry, m))
                elif item_id not in near or m.score > near[item_id][1].score:
                    near[item_id] = (entry, m)
    finally:
        collection.close()
    stamp = now()
    with writing(db):
        for row in rows:
            item_id = row["id"]
            ranked = sorted(best.get(item_id, []), key=lambda c: -c[1].score)
            chosen = [c for c in ranked if c[1].score >= CLEARLY_BEHIND * ranked[0][1].score][:MAX_ENTRIES_PER_ITEM]
            for entry, m in chosen:
                if _pair_exists(ws, entry.slug, item_id):
                    continue
                feed = titles.get(row["feed_url"], row["feed_url"])
                sid = _insert(
                    ws,
                    kind="update",
                    entry_slug=entry.slug,
                    topic_key=None,
                    title=f"Add to {entry.title}: {row['title']}"[:300],
                    keywords=m.found,
                    reasons=_reasons(m, threshold, feed),
                    score=m.score,
                    item_ids=[item_id],
                    stamp=stamp,
                )
                report.updates.append(sid)
            if chosen:
                reason = "suggested as a source for " + ", ".join(
                    f"{e.slug} ({_strength(m, threshold)})" for e, m in chosen
                )
                db.execute(
                    "UPDATE feed_items SET decision = 'update', decision_reason = ? WHERE id = ?", [reason, item_id]
                )
            else:
                report.nothing += 1
                reason = _miss(near.get(item_id))
                db.execute(
                    "UPDATE feed_items SET decision = 'none', decision_reason = ? WHERE id = ? AND decision != 'topic'",
                    [reason, item_id],
                )


def _enough(m: _Match, threshold: float) -> bool:
    """Close enough to the whole note and to one of its risks, or very close to one risk."""
    if len(m.risk_terms) < MIN_RISK_TERMS:
        return False  # one shared word ('drone') is not about the risk
    return m.share >= threshold or m.risk_share >= RISK_ALONE


def _miss(closest: tuple[Entry, _Match] | None) -> str:
    if closest is None:
        return "nothing: mentions no entry's watch terms"
    entry, m = closest
    hits = len(m.found)
    return (
        f"nothing: mentions {hits} watch term{'s' * (hits != 1)} of {entry.slug} "
        f"({', '.join(m.found)}) but is not about the note or any of its risks"
    )


def _pair_exists(ws: Workspace, slug: str, item_id: int) -> bool:
    return (
        ws.store.db.execute(
            "SELECT 1 FROM suggestions s JOIN suggestion_items si ON si.suggestion_id = s.id "
            "WHERE s.kind = 'update' AND s.entry_slug = ? AND si.item_id = ?",
            [slug, item_id],
        ).fetchone()
        is not None
    )
