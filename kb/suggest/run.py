"""Suggestions from feed items, for staff to triage.

For each new item, one of:

- **update**: the item is about an existing entry. It must mention the entry's watch terms
  (`keywords`, or its title when it has none, or their synonyms) and be close to the whole note
  (`suggest.update_threshold`) or to one of its risks (`kb.suggest.updates`). Accepting adds the item as a source of the entry.
- **new topic**: terms or phrases that recur across recent items (`suggest.topic_window_days`)
  from several feeds (`topic_min_items` items, `topic_min_feeds` feeds), that are new or much
  more frequent than before the window, and that no entry is about (measures and body aside). Overlapping phrases are
  grouped into one suggestion with the items that support it. Accepting writes a draft entry.
- **nothing**, when neither holds (the item's `decision_reason` says why).

Feed items are untrusted: everything shown comes from their sanitised plain text, and the
reasons are built here, never copied from a feed. A dismissed suggestion is remembered with its
items: the same entry is never suggested again for the same item, and a topic comes back only
when enough *other* items support it.
"""

from __future__ import annotations

from kb.suggest.records import SuggestReport
from kb.suggest.topics import detect_topics
from kb.suggest.updates import match_updates
from kb.workspace import Workspace


def process(ws: Workspace, item_ids: list[int], topics: bool = True) -> SuggestReport:
    """Decide for each of `item_ids` (new items, already indexed), then, when there were new
    items, look for new topics. Bring the index up to date with the files first (the caller's
    job: `kb.watch` does it), so items are matched against the entries as they are on disk."""
    report = SuggestReport()
    if item_ids:
        match_updates(ws, item_ids, report)
        if topics:
            detect_topics(ws, report)
    return report
