"""Suggestions from feed items: text processing (`text`), updates to known entries
(`updates`), new topics (`topics`), the suggestions table (`records`) and one run (`run`).
Deciding on a suggestion (accept, dismiss, snooze) is triage's job: `kb.triage`."""

from kb.suggest.records import SuggestReport, get, listing, undecided
from kb.suggest.run import process
from kb.suggest.topics import detect_topics
from kb.suggest.updates import match_updates

__all__ = ["SuggestReport", "detect_topics", "get", "listing", "match_updates", "process", "undecided"]
