"""The scheduler: one job per enabled feed on its own interval, no overlapping runs, missed
runs coalesced, the feed list re-read, and a real background run against the local server."""

from __future__ import annotations

import datetime as dt
import threading

from apscheduler.events import EVENT_JOB_EXECUTED
from feedserver import feed_server, feed_yaml, feeds_kb  # noqa: F401

from kb import config
from kb.feeds.state import states
from kb.scheduler import FeedScheduler, start_background


def write_feeds(root, entries):  # type: ignore[no-untyped-def]
    (root / "feeds" / "feeds.yaml").write_text(
        feed_yaml(entries[:1], interval=30)
        + "".join(
            f"  - url: {url}\n    title: {title}\n    tags: [test]\n    interval: {minutes}\n    enabled: {str(on).lower()}\n"
            for url, title, minutes, on in entries[1:]
        )
    )


def test_one_job_per_enabled_feed_with_safe_defaults(feeds_kb, feed_server):  # noqa: F811
    a, b, c = (feed_server.url(p) for p in ("/feeds/rss2.xml", "/feeds/atom.xml", "/feeds/rss1.rdf"))
    write_feeds(feeds_kb, [(a, "A"), (b, "B", 120, True), (c, "C", 60, False)])
    feeds = FeedScheduler(config.load(feeds_kb))
    try:
        jobs = feeds.feed_jobs()
        assert set(jobs) == {a, b}
        job = jobs[b]
        assert job.max_instances == 1 and job.coalesce is True and job.misfire_grace_time == 120 * 60
        assert job.trigger.interval == dt.timedelta(minutes=120) and job.trigger.jitter
        assert {j.id for j in feeds.scheduler.get_jobs()} >= {"feeds:reload", "suggest:topics"}
        # the list changes: c enabled, a removed, b re-timed
        write_feeds(feeds_kb, [(b, "B"), (c, "C", 60, True)])
        changes = feeds.sync_jobs()
        assert changes == {"added": [c], "removed": [a], "rescheduled": [b]}
        assert feeds.feed_jobs()[b].trigger.interval == dt.timedelta(minutes=30)
        # a job run polls the feed; a second run finds it unchanged (304)
        feeds.poll_job(c)
        assert states(feeds.ws.store)[c]["status"] == "ok"
        assert feeds.poller.poll_one(c).outcome == "not-modified"
        assert feeds.poller.poll_one("https://not.listed/feed") is None
    finally:
        feeds.shutdown()


def test_held_feeds_are_skipped_and_first_runs_follow_the_stored_schedule(feeds_kb, feed_server):  # noqa: F811
    busy = feed_server.url("/status/429?retry_after=600")
    write_feeds(feeds_kb, [(busy, "Busy")])
    feeds = FeedScheduler(config.load(feeds_kb))
    try:
        feeds.poll_job(busy)
        assert len(feed_server.requests) == 1
        assert feeds.poller.poll_one(busy).outcome == "held"
        assert len(feed_server.requests) == 1
    finally:
        feeds.shutdown()
    again = FeedScheduler(config.load(feeds_kb))  # a restart keeps the backoff
    try:
        first_run = again.feed_jobs()[busy].next_run_time
        assert first_run > dt.datetime.now(dt.UTC) + dt.timedelta(minutes=9)
    finally:
        again.shutdown()


def test_background_scheduler_polls_and_stops(feeds_kb, feed_server):  # noqa: F811
    url = feed_server.url("/feeds/topics-a.xml")
    write_feeds(feeds_kb, [(url, "Topics A")])
    feeds = start_background(config.load(feeds_kb))
    try:
        job = feeds.feed_jobs()[url]
        ran = threading.Event()
        feeds.scheduler.add_listener(lambda event: ran.set() if event.job_id == job.id else None, EVENT_JOB_EXECUTED)
        job.modify(next_run_time=dt.datetime.now(dt.UTC))
        assert ran.wait(30), "the feed job did not run"  # a generous bound the test does not measure
        with feeds.poller.lock:
            done = feeds.ws.store.db.execute("SELECT count(*) FROM feed_items").fetchone()[0]
        assert done == 4
        feeds.run_topics()
    finally:
        feeds.shutdown()
    assert not feeds.scheduler.running


def test_kb_scheduler_runs_until_terminated(feeds_kb, feed_server):  # noqa: F811
    import signal
    import subprocess
    import sys

    url = feed_server.url("/feeds/rss2.xml")
    write_feeds(feeds_kb, [(url, "Prison Watch")])
    proc = subprocess.Popen(
        [sys.executable, "-c", "from kb.cli.main import main; main()", "--root", str(feeds_kb), "scheduler"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert feed_server.requested.wait(30), "the scheduler did not poll the feed"
        proc.send_signal(signal.SIGTERM)  # running polls finish, then it stops
        out, err = proc.communicate(timeout=90)  # running polls finish first; generous on a busy machine
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "scheduler: 1 feed scheduled from feeds/feeds.yaml" in err and "scheduler stopped" in err
