"""The feeds pipeline end to end: poll, index, suggest.

`kb.feeds` fetches and stores items and knows nothing of suggestions; `kb.suggest` matches
items against entries and knows nothing of fetching. This module joins them for the CLI and the
scheduler: after a poll stores new items, the entries are brought up to date from their files
(only changed files are read) and the new items are matched against them.
"""

from __future__ import annotations

from kb import suggest
from kb.feeds.fetch import Fetcher
from kb.feeds.poller import Poller
from kb.suggest import SuggestReport
from kb.sync import update_index
from kb.workspace import Workspace


def suggest_for(ws: Workspace, item_ids: list[int], topics: bool = True) -> SuggestReport:
    """Match `item_ids`, and every stored item still without a decision (a killed poll's, say),
    against the entries as they are on disk now; then look for new topics."""
    ids = sorted(set(item_ids) | set(suggest.undecided(ws)))
    if ids:
        update_index(ws)
    return suggest.process(ws, ids, topics=topics)


def open_poller(ws: Workspace, fetcher: Fetcher | None = None) -> Poller:
    """A poller whose new items become suggestions."""
    return Poller(ws, fetcher, after=suggest_for)
