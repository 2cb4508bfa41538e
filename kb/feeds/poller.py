"""Poll feeds: fetch several at once, parse what changed, store and index new items, keep each
feed's health, and back off from feeds that fail.

- 200: parsed, unless the body is byte-for-byte the one parsed last time; 304: nothing parsed.
- A chain of permanent redirects (301/308) that ends in a 200 or 304 moves the feed: its URL is
  rewritten in `feeds.yaml` (comments kept) and its state and items follow it.
- 410 Gone disables the feed in `feeds.yaml`.
- 429 and 503 wait for Retry-After (seconds or a date), capped at `feeds.max_backoff`.
- Any other failure backs off exponentially per feed: interval x 2^(failures-1), capped, with
  jitter. Every scheduled time has +-10 % jitter so feeds drift apart.
- Fetching runs in worker threads; one lock serialises the database, the items' index
  (`var/items-index/`: never the entries' index) and `feeds.yaml`. A worker never raises: whatever goes wrong with one feed is recorded as that
  feed's error and the others go on.
- Every document is parsed in a child process with a deadline (`kb.feeds.parsing`), so a
  hostile feed costs at most `feeds.parse_timeout` seconds and a crash takes down only its
  child. A big poll (`STREAM_INDEX_MIN` feeds or more) indexes each feed's items while the
  others are still being fetched; a small one indexes at the end.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import ExitStack
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from kb.errors import NotFound, Problem
from kb.feeds import items, parsing
from kb.feeds import listfile as feedlist
from kb.feeds.fetch import Fetcher, FetchError, Response
from kb.feeds.listfile import Feed
from kb.feeds.state import (
    _jitter,
    backoff_minutes,
    ensure_state,
    held_reason,
    is_due,
    iso,
    utcnow,
)
from kb.store.transactions import writing
from kb.workspace import Workspace

log = logging.getLogger(__name__)
ITEMS_PER_DAY_WINDOW = 30  # days
STREAM_INDEX_MIN = 20  # a poll of at least this many feeds indexes items while it fetches


@dataclass
class FeedResult:
    url: str
    title: str
    outcome: str  # new | not-modified | unchanged | error | gone | held | disabled
    http_status: int | None = None
    new_ids: list[int] = field(default_factory=list)
    updated_ids: list[int] = field(default_factory=list)
    parsed: bool = False
    error: str | None = None
    moved_to: str | None = None
    next_poll: str | None = None
    seconds: float = 0.0

    def line(self) -> str:
        """One line for a person: what happened to this feed."""
        where = self.moved_to or self.url
        if self.outcome == "new":
            text = f"{len(self.new_ids)} new, {len(self.updated_ids)} updated"
        elif self.outcome == "not-modified":
            text = "not modified (304)"
        elif self.outcome == "unchanged":
            text = "unchanged"
        elif self.outcome == "gone":
            text = "410 Gone: disabled in feeds.yaml"
        elif self.outcome == "held":
            text = f"waiting until {self.next_poll} ({self.error}); --force polls it anyway"
        elif self.outcome == "disabled":
            text = "disabled in feeds.yaml; not polled"
        else:
            text = f"error: {self.error}"
        moved = f" (moved permanently from {self.url})" if self.moved_to else ""
        return f"{where}: {text}{moved}"


@dataclass
class PollReport:
    results: list[FeedResult] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)  # from feeds.yaml
    suggestions: Any = None  # kb.suggest.SuggestReport
    seconds: float = 0.0
    indexed: int = 0
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase

    def count(self, outcome: str) -> int:
        return sum(r.outcome == outcome for r in self.results)

    @property
    def new_ids(self) -> list[int]:
        return [i for r in self.results for i in r.new_ids]

    @property
    def updated(self) -> int:
        return sum(len(r.updated_ids) for r in self.results)

    @property
    def parsed(self) -> int:
        return sum(r.parsed for r in self.results)


@dataclass
class _Outcome:
    response: Response | None = None
    parsed: items.ParsedFeed | None = None
    error: str | None = None
    unchanged: bool = False
    body_hash: str | None = None
    seconds: float = 0.0


# -- feed state ------------------------------------------------------------------------------


# -- the poller ------------------------------------------------------------------------------


AfterPoll = Callable[[Workspace, list[int], bool], Any]


class Poller:
    """Polls the feeds of one knowledge base. Share one between threads (the scheduler does)."""

    def __init__(self, ws: Workspace, fetcher: Fetcher | None = None, *, after: AfterPoll | None = None):
        """`after(ws, new_item_ids, topics)` runs once new items are stored and indexed (the
        suggester, wired in by `kb.watch`); the feeds side knows nothing of suggestions."""
        self.ws = ws
        self.after = after
        self.cfg = ws.cfg
        self._own_fetcher = fetcher is None
        self.fetcher = fetcher or Fetcher(self.cfg.feeds)
        self.lock = threading.RLock()  # the database, the index and feeds.yaml

    def close(self) -> None:
        if self._own_fetcher:
            self.fetcher.close()

    def __enter__(self) -> Poller:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def shown(self) -> str:
        return self.cfg.display(self.cfg.feeds_file)

    def feeds(self) -> tuple[list[Feed], list[Problem]]:
        return feedlist.load(self.cfg.feeds_file, self.shown)

    # -- many feeds -----------------------------------------------------------------------

    def poll(
        self,
        urls: Iterable[str] | None = None,
        *,
        force: bool = False,
        due_only: bool = False,
        suggest: bool = True,
        on_feed: Callable[[FeedResult], None] | None = None,
    ) -> PollReport:
        """Poll enabled feeds now (or only `urls`), then index new items and make suggestions."""
        started = time.monotonic()
        report = PollReport()
        feeds, report.problems = self.feeds()
        chosen = feeds if urls is None else [self._listed(feeds, url) for url in urls]
        work = self._due(chosen, report, force=force, due_only=due_only, on_feed=on_feed)
        if work:
            report.indexed = self._fetch_and_store(work, report, on_feed)
        fetched = time.monotonic()
        report.timings["fetch, parse, store" + (", index" if report.indexed else "")] = fetched - started
        with self.lock:
            leftover = self.index_pending()
            report.indexed += leftover
            indexed = time.monotonic()
            if leftover:
                report.timings["index"] = indexed - fetched
            if suggest and self.after is not None:
                report.suggestions = self.after(self.ws, report.new_ids, True)
                report.timings["suggest"] = time.monotonic() - indexed
        report.seconds = time.monotonic() - started
        return report

    def _listed(self, feeds: list[Feed], url: str) -> Feed:
        feed = feedlist.find(feeds, url.strip())
        if feed is None:
            raise NotFound(f"no feed {url.strip()!r} in {self.shown}; see kb feeds list")
        return feed

    def _due(
        self,
        chosen: list[Feed],
        report: PollReport,
        *,
        force: bool,
        due_only: bool,
        on_feed: Callable[[FeedResult], None] | None,
    ) -> list[tuple[Feed, dict[str, Any]]]:
        """The feeds to fetch now, with their state; the others are reported as disabled or held."""
        moment = utcnow()
        work: list[tuple[Feed, dict[str, Any]]] = []
        with self.lock:
            for feed in chosen:
                state = ensure_state(self.ws.store, feed)
                if not feed.enabled:
                    result = FeedResult(feed.url, feed.title, "disabled")
                elif not force and (reason := held_reason(state, moment)):
                    retry = "Retry-After" in reason
                    result = FeedResult(
                        feed.url,
                        feed.title,
                        "held",
                        error=reason,
                        next_poll=state.get("held_until") if retry else state.get("next_poll"),
                    )
                elif due_only and not is_due(state, moment):
                    continue
                else:
                    work.append((feed, state))
                    continue
                report.results.append(result)
                if on_feed:
                    on_feed(result)
        return work

    def _fetch_and_store(
        self, work: list[tuple[Feed, dict[str, Any]]], report: PollReport, on_feed: Callable[[FeedResult], None] | None
    ) -> int:
        """Fetch, parse and store; a big poll also indexes each feed's items as they are stored,
        with one index writer, while the other feeds are still being fetched."""
        with ExitStack() as stack:
            writer = None
            if len(work) >= STREAM_INDEX_MIN:
                try:
                    writer = stack.enter_context(self.ws.items.writer())
                except Exception as exc:  # noqa: BLE001 - the index is busy: index at the end instead
                    log.warning("indexing after the fetches: %s", exc)
            indexed = self._fetch_all(work, writer, report, on_feed)
        if indexed:
            with self.lock, writing(self.ws.store.db):
                items.mark_indexed(self.ws.store, indexed)
        return len(indexed)

    def _fetch_all(
        self,
        work: list[tuple[Feed, dict[str, Any]]],
        writer: Any,
        report: PollReport,
        on_feed: Callable[[FeedResult], None] | None,
    ) -> list[int]:
        """Fetch and parse in threads; store (and, with a writer, index) each feed as it is done.
        Returns the ids of the items written to the index."""
        tags = items.feed_tags(self.ws.store, self.feeds()[0]) if writer is not None else {}
        indexed: list[int] = []
        workers = max(1, min(self.cfg.feeds.concurrency, len(work)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kb-poll") as pool:
            futures = {pool.submit(self._work, feed, state): (feed, state) for feed, state in work}
            for future in as_completed(futures):
                feed, state = futures[future]
                result = self._apply_safely(feed, state, future.result())
                report.results.append(result)
                if writer is not None and (result.new_ids or result.updated_ids):
                    with self.lock:
                        indexed += items.index_pending(
                            self.ws.store, writer, tags_by_feed=tags, ids=result.new_ids + result.updated_ids
                        )
                if on_feed:
                    on_feed(result)
        return indexed

    # -- one feed (the scheduler's job) ---------------------------------------------------

    def poll_one(self, url: str, *, force: bool = False, suggest: bool = True) -> FeedResult | None:
        """Poll one feed if it is enabled and not held back; None when it is not in the list."""
        feeds, _ = self.feeds()
        feed = feedlist.find(feeds, url)
        if feed is None:
            return None
        with self.lock:
            state = ensure_state(self.ws.store, feed)
        moment = utcnow()
        if not feed.enabled:
            return FeedResult(feed.url, feed.title, "disabled")
        if not force and (reason := held_reason(state, moment)):
            return FeedResult(feed.url, feed.title, "held", error=reason, next_poll=state.get("next_poll"))
        result = self._apply_safely(feed, state, self._work(feed, state))
        with self.lock:
            self.index_pending()
            if suggest and self.after is not None:  # also takes up items a killed poll left undecided
                self.after(self.ws, result.new_ids, False)
        return result

    # -- the parts ------------------------------------------------------------------------

    def _work(self, feed: Feed, state: dict[str, Any]) -> _Outcome:
        """Fetch and parse (in a worker thread, no database). Never raises."""
        started = time.monotonic()
        out = _Outcome()
        try:
            out.response = self.fetcher.fetch(
                feed.url, etag=state.get("etag"), last_modified=state.get("last_modified")
            )
            body = out.response.body
            if out.response.status == 200 and body is not None:
                out.body_hash = hashlib.sha256(body).hexdigest()
                if out.body_hash == state.get("body_hash"):
                    out.unchanged = True
                else:
                    out.parsed = parsing.parse(
                        body,
                        state["id"],
                        out.response.final_url,
                        out.response.headers.get("content-type"),
                        self.cfg.feeds.parse_timeout,
                    )
                out.response.body = None  # free it early
        except FetchError as exc:
            out.error = str(exc)
        except items.FeedError as exc:
            out.error = str(exc)
        except Exception as exc:  # noqa: BLE001 - one bad feed must never stop the others
            log.exception("unexpected error polling %s", feed.url)
            out.error = f"unexpected {type(exc).__name__}: {exc}"
        out.seconds = time.monotonic() - started
        return out

    def _apply_safely(self, feed: Feed, state: dict[str, Any], outcome: _Outcome) -> FeedResult:
        try:
            with self.lock:
                return self._apply(feed, state, outcome)
        except Exception as exc:  # noqa: BLE001
            log.exception("could not record the poll of %s", feed.url)
            return FeedResult(feed.url, feed.title, "error", error=f"could not record the result: {exc}")

    def _apply(self, feed: Feed, state: dict[str, Any], outcome: _Outcome) -> FeedResult:
        settings = self.cfg.feeds
        moment = utcnow()
        response = outcome.response
        status = response.status if response else None
        result = FeedResult(feed.url, feed.title, "error", http_status=status, seconds=outcome.seconds)
        update: dict[str, Any] = {
            "last_fetch": iso(moment),
            "last_duration": round(outcome.seconds, 3),
            "http_status": status,
            "title": feed.title,
        }
        db = self.ws.store.db
        failures = int(state.get("failures") or 0)

        def succeeded() -> None:
            update.update(
                status="ok",
                failures=0,
                last_success=iso(moment),
                held_until=None,
                next_poll=iso(moment + _jitter(feed.interval)),
            )
            if response is not None:
                if response.etag is not None or status == 200:
                    update["etag"] = response.etag
                if response.last_modified is not None or status == 200:
                    update["last_modified"] = response.last_modified

        def failed(message: str, wait_seconds: float | None = None) -> None:
            count = failures + 1
            minutes = backoff_minutes(feed.interval, count, settings.max_backoff)
            next_poll = moment + _jitter(minutes)
            held_until = None
            if wait_seconds is not None:
                wait = min(wait_seconds, settings.max_backoff * 60)
                held_until = moment + dt.timedelta(seconds=wait)
                next_poll = held_until
            update.update(
                status="error",
                failures=count,
                last_error=message,
                last_error_at=iso(moment),
                next_poll=iso(next_poll),
                held_until=iso(held_until),
            )
            result.error = message
            result.next_poll = iso(next_poll)

        with writing(db):
            if outcome.error is not None:
                failed(outcome.error)
            elif status == 304:
                succeeded()
                result.outcome = "not-modified"
            elif status == 200 and outcome.unchanged:
                succeeded()
                result.outcome = "unchanged"
            elif status == 200 and outcome.parsed is not None:
                parsed = outcome.parsed
                stored = items.store_items(self.ws.store, state["id"], feed.url, parsed.items)
                succeeded()
                update["body_hash"] = outcome.body_hash
                update["last_new"] = len(stored.new)
                result.outcome = "new" if stored.new or stored.updated else "unchanged"
                result.parsed = True
                result.new_ids, result.updated_ids = stored.new, stored.updated
                update["items_total"], update["items_per_day"] = self._volume(state["id"], moment)
            elif status == 410:
                update.update(
                    status="gone",
                    failures=failures + 1,
                    last_error="410 Gone: the feed was removed; disabled",
                    last_error_at=iso(moment),
                    next_poll=None,
                )
                result.outcome, result.error = "gone", "410 Gone"
            elif status in (429, 503):
                wait = response.retry_after() if response else None
                phrase = _reason(status)
                failed(f"HTTP {status} {phrase}" + (f"; Retry-After {wait:.0f} s" if wait is not None else ""), wait)
            else:
                failed(f"HTTP {status} {_reason(status)}")
            db["feed_state"].update(state["id"], update)
            result.next_poll = update.get("next_poll")

        if status == 410:
            self._edit_list(feed.url, enabled=False, note=f"disabled by the poller: 410 Gone on {moment.date()}")
        moved = response.permanent_url if response else None
        if moved and moved != feed.url and status in (200, 304):
            result.moved_to = self._move(feed, state, moved, moment)
        return result

    def _volume(self, feed_id: int, moment: dt.datetime) -> tuple[int, float]:
        db = self.ws.store.db
        total = db.execute("SELECT count(*) FROM feed_items WHERE feed_id = ?", [feed_id]).fetchone()[0]
        since = iso(moment - dt.timedelta(days=ITEMS_PER_DAY_WINDOW))
        recent = db.execute(
            "SELECT count(*) FROM feed_items WHERE feed_id = ? AND coalesce(published, first_seen) >= ?",
            [feed_id, since],
        ).fetchone()[0]
        return total, round(recent / ITEMS_PER_DAY_WINDOW, 2)

    def _edit_list(self, url: str, **changes: Any) -> bool:
        try:
            feedlist.update_feed(self.cfg.feeds_file, url, shown=self.shown, **changes)
            return True
        except Exception as exc:  # noqa: BLE001 - the poll result stands even if the file cannot be edited
            log.warning("could not update %s in %s: %s", url, self.shown, exc)
            return False

    def _move(self, feed: Feed, state: dict[str, Any], new_url: str, moment: dt.datetime) -> str | None:
        db = self.ws.store.db
        taken = db.execute("SELECT 1 FROM feed_state WHERE url = ?", [new_url]).fetchone()
        feeds, _ = self.feeds()
        if taken or feedlist.find(feeds, new_url):
            self._edit_list(
                feed.url,
                enabled=False,
                note=f"moved permanently to {new_url}, which is listed already ({moment.date()})",
            )
            return None
        if not self._edit_list(feed.url, new_url=new_url, note=f"moved permanently (301/308) on {moment.date()}"):
            return None
        with writing(db):
            db["feed_state"].update(state["id"], {"url": new_url, "moved_to": None})
            db.execute("UPDATE feed_items SET feed_url = ? WHERE feed_id = ?", [new_url, state["id"]])
        return new_url

    def index_pending(self) -> int:
        """Index every item not in the index as it is now (call with the lock held)."""
        store = self.ws.store
        if not store.db.execute("SELECT 1 FROM feed_items WHERE indexed IN (0, 2) LIMIT 1").fetchone():
            return 0
        feeds, _ = self.feeds()
        tags = items.feed_tags(store, feeds)
        # The rows are marked inside a transaction that commits only after the index has.
        with writing(store.db), self.ws.items.writer() as writer:
            done = items.index_pending(store, writer, tags_by_feed=tags)
            items.mark_indexed(store, done)
        return len(done)


def _reason(status: int | None) -> str:
    try:
        return HTTPStatus(status).phrase if status else ""
    except ValueError:
        return ""
