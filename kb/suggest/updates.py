"""Update suggestions: a new feed item that is about an existing entry.

The item must mention the entry's watch terms (`keywords`, or its title when it has none) at
least `suggest.min_keyword_hits` times, *and* its Whoosh similarity to the entry's text must
reach `suggest.update_threshold` (see `kb.index.search.Index.similarity`). Accepting adds the
item as a source of the entry. A dismissed pair (entry, item) never comes back.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from kb.clock import now
from kb.model.entry import Entry
from kb.store.transactions import writing
from kb.suggest.records import SuggestReport, _feed_titles, _insert
from kb.suggest.text import STOPWORDS, WatchTerms, key_text
from kb.workspace import Workspace

MAX_ENTRIES_PER_ITEM = 3


CLEARLY_BEHIND = 0.6  # an entry under 60 % of the item's best match is not suggested as well


KEY_TERMS = 15


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
        sim = ws.index.similarity(
            f"entry:{entry.slug}",
            key_text(entry),
            [f"item:{i}" for i in hits_by_item],
            numterms=KEY_TERMS,
            exclude=STOPWORDS,
            candidates_in=ws.items,  # the items' own index: scored with the entries' on one searcher
        )
        for item_id, found in hits_by_item.items():
            share, matched = sim.scores.get(f"item:{item_id}", (0.0, []))
            if share >= settings.update_threshold:
                best[item_id].append((share, entry, found, matched, sim.terms))
            elif share > near.get(item_id, (-1.0, "", 0))[0]:
                near[item_id] = (share, entry.slug, len(found))
    stamp = now()
    with writing(db):
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
                sid = _insert(
                    ws,
                    kind="update",
                    entry_slug=entry.slug,
                    topic_key=None,
                    title=f"Add to {entry.title}: {row['title']}"[:300],
                    keywords=found,
                    reasons=reasons,
                    score=share,
                    item_ids=[item_id],
                    stamp=stamp,
                )
                report.updates.append(sid)
            if chosen:
                reason = "suggested as a source for " + ", ".join(f"{c[1].slug} ({c[0]:.2f})" for c in chosen)
                db.execute(
                    "UPDATE feed_items SET decision = 'update', decision_reason = ? WHERE id = ?", [reason, item_id]
                )
            else:
                report.nothing += 1
                if item_id in near:
                    share, slug, hits = near[item_id]
                    reason = (
                        f"nothing: closest entry {slug} mentions {hits} watch term{'s' * (hits != 1)} but similarity "
                        f"{share:.2f} is below {settings.update_threshold:.2f}"
                    )
                else:
                    reason = "nothing: mentions no entry's watch terms"
                db.execute(
                    "UPDATE feed_items SET decision = 'none', decision_reason = ? WHERE id = ? AND decision != 'topic'",
                    [reason, item_id],
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
