"""Run feeds on a schedule with APScheduler 3.

One job per enabled feed, on the feed's own interval (with jitter so feeds drift apart),
`max_instances=1` so a slow feed never overlaps itself, `coalesce=True` so runs missed while
the process was busy or asleep collapse into one, and a misfire grace of one interval. A
feed held back by Retry-After or error backoff is skipped until its time comes.

A reload job re-reads `feeds.yaml` every minute (added, removed, disabled or re-timed feeds
are picked up), a topic job looks for emerging topics every ten minutes, and, when config.toml's
[mail] has a host, a digest job sends the email digests that are due once a day (kb.digest).

Start it from a command, never from `create_app` (the reloader and every web worker would
start their own): `kb scheduler` runs it in the foreground; `kb serve` calls
`start_background(cfg)` once.

One scheduler per knowledge base: it holds an exclusive, non-blocking flock on
`var/scheduler.lock` (which records the holder's pid and start time) from construction to
shutdown. A second one, from another `kb scheduler` or `kb serve` or in the same process, gets
`AlreadyRunning` naming the holder. The kernel drops the lock when the holder dies (kill -9
included), so a stale lock file never blocks a restart.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import logging
import os
import random
from pathlib import Path
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from kb import digest, suggest
from kb.config import Config
from kb.errors import KbError
from kb.feeds import listfile as feedlist
from kb.feeds.state import iso, parse_iso, states, utcnow
from kb.sync import update_index
from kb.watch import open_poller
from kb.workspace import Workspace

log = logging.getLogger(__name__)
UTC = dt.UTC
RELOAD_SECONDS = 60
TOPIC_MINUTES = 10
DIGEST_HOUR = 7  # UTC: the daily digest job runs then
STAGGER_SECONDS = 5  # first polls after a start are spread over this long
JOB_PREFIX = "feed:"
LOCK_FILE = "scheduler.lock"  # in the knowledge base's var dir


class AlreadyRunning(KbError):
    """Another scheduler (this or another process) polls the feeds of this knowledge base."""

    def __init__(self, pid: int | None, started: str | None):
        self.pid, self.started = pid, started
        since = f" (started {started})" if started else ""
        holder = f"in process {pid}{since}" if pid else "in another process"
        self.running = f"the feed scheduler of this knowledge base is already running {holder}"
        super().__init__(f"{self.running}; this one will not start")


class SchedulerLock:
    """An exclusive flock on `var/scheduler.lock`, taken without waiting; the file holds the
    holder's pid and start time, for the message the next one gets."""

    def __init__(self, var_dir: Path):
        self.path = var_dir / LOCK_FILE
        self.fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)  # not inherited by child processes
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = self._holder(fd)
            os.close(fd)
            raise AlreadyRunning(*holder) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {iso(utcnow())}\n".encode(), 0)
        self.fd = fd

    @staticmethod
    def _holder(fd: int) -> tuple[int | None, str | None]:
        """The pid and start time the holder wrote (None, None while it has not written yet)."""
        words = os.pread(fd, 200, 0).decode("utf-8", "replace").split()
        pid = int(words[0]) if words and words[0].isdigit() else None
        return pid, (words[1] if pid and len(words) > 1 else None)

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the only descriptor drops the flock
            self.fd = None


class FeedScheduler:
    """The feed jobs of one knowledge base, with their own database connection and poller.
    Raises `AlreadyRunning` when another scheduler holds the knowledge base's lock."""

    def __init__(
        self,
        cfg: Config,
        blocking: bool = False,
        reload_seconds: int = RELOAD_SECONDS,
        topic_minutes: int = TOPIC_MINUTES,
    ):
        self.cfg = cfg
        self.blocking = blocking
        self.run_lock = SchedulerLock(cfg.var_dir)
        self.run_lock.acquire()  # before anything else: a second scheduler stops here
        try:
            self._setup(reload_seconds, topic_minutes)
        except BaseException:
            self.run_lock.release()
            raise

    def _setup(self, reload_seconds: int, topic_minutes: int) -> None:
        cfg = self.cfg
        self.ws = Workspace.open(cfg=cfg)
        self.poller = open_poller(self.ws)
        kind = BlockingScheduler if self.blocking else BackgroundScheduler
        self.scheduler: BaseScheduler = kind(
            executors={"default": ThreadPoolExecutor(max(1, cfg.feeds.concurrency))},
            job_defaults={"coalesce": True, "max_instances": 1},
            timezone=UTC,
        )
        self.sync_jobs()
        self.scheduler.add_job(
            self.sync_jobs,
            IntervalTrigger(seconds=reload_seconds, timezone=UTC),
            id="feeds:reload",
            name="re-read feeds.yaml",
            replace_existing=True,
        )
        self.scheduler.add_job(
            self.run_topics,
            IntervalTrigger(minutes=topic_minutes, timezone=UTC),
            id="suggest:topics",
            name="look for new topics",
            replace_existing=True,
        )
        if cfg.mail.enabled:
            self.scheduler.add_job(
                self.run_digests,
                CronTrigger(hour=DIGEST_HOUR, timezone=UTC),
                id="mail:digests",
                name="send the email digests",
                misfire_grace_time=12 * 3600,
                replace_existing=True,
            )

    # -- jobs ------------------------------------------------------------------------------

    def feed_jobs(self) -> dict[str, Any]:
        return {job.id[len(JOB_PREFIX) :]: job for job in self.scheduler.get_jobs() if job.id.startswith(JOB_PREFIX)}

    def sync_jobs(self) -> dict[str, list[str]]:
        """Make the jobs match the enabled feeds in feeds.yaml. Returns what changed."""
        changes: dict[str, list[str]] = {"added": [], "removed": [], "rescheduled": []}
        try:
            feeds, problems = feedlist.load(self.cfg.feeds_file, self.cfg.display(self.cfg.feeds_file))
        except Exception as exc:  # noqa: BLE001 - keep the current jobs until the file is fixed
            log.error("cannot read the feed list, keeping the current schedule: %s", exc)
            return changes
        for problem in problems:
            log.warning("%s", problem)
        wanted = {f.url: f for f in feeds if f.enabled}
        jobs = self.feed_jobs()
        with self.poller.lock:
            known = states(self.ws.store)
        moment = utcnow()
        for url, job in jobs.items():
            if url not in wanted:
                job.remove()
                changes["removed"].append(url)
            elif getattr(job.trigger, "interval", None) != dt.timedelta(minutes=wanted[url].interval):
                job.reschedule(self._trigger(wanted[url].interval))
                changes["rescheduled"].append(url)
        for url, feed in wanted.items():
            if url in jobs:
                continue
            upcoming = parse_iso((known.get(url) or {}).get("next_poll"))
            first = (
                upcoming
                if upcoming and upcoming > moment
                else moment + dt.timedelta(seconds=random.uniform(0, STAGGER_SECONDS))
            )
            self.scheduler.add_job(
                self.poll_job,
                self._trigger(feed.interval),
                args=[url],
                id=JOB_PREFIX + url,
                name=f"poll {feed.title}",
                next_run_time=first,
                misfire_grace_time=feed.interval * 60,
                max_instances=1,
                coalesce=True,
                replace_existing=True,
            )
            changes["added"].append(url)
        return changes

    @staticmethod
    def _trigger(minutes: int) -> IntervalTrigger:
        return IntervalTrigger(minutes=minutes, jitter=int(min(300, minutes * 6)), timezone=UTC)

    def poll_job(self, url: str) -> None:
        try:
            result = self.poller.poll_one(url)
        except Exception:  # noqa: BLE001 - a job must not die; the next run tries again
            log.exception("polling %s failed", url)
            return
        if result is not None:
            log.info("%s", result.line())

    def run_topics(self) -> None:
        try:
            with self.poller.lock:
                report = suggest.SuggestReport()
                update_index(self.ws)
                suggest.detect_topics(self.ws, report)
            if report.topics or report.extended:
                log.info("new-topic suggestions: %d new, %d extended", len(report.topics), len(report.extended))
        except Exception:  # noqa: BLE001
            log.exception("looking for new topics failed")

    def run_digests(self) -> None:
        try:
            with self.poller.lock:
                report = digest.run(self.ws)
            log.info("%s", report.line())
            for problem in report.failed:
                log.warning("digest not sent: %s", problem)
        except Exception:  # noqa: BLE001
            log.exception("sending the digests failed")

    # -- life cycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Start (returns at once for a background scheduler; blocks for a blocking one)."""
        try:
            self.scheduler.start()
        finally:
            if self.blocking:  # start() has returned: stopped, or interrupted (Ctrl-C)
                if self.scheduler.running:
                    self.scheduler.shutdown(wait=True)
                self._close()

    def shutdown(self, wait: bool = True) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=wait)
        if not self.blocking:
            self._close()

    def _close(self) -> None:
        try:
            self.poller.close()
            self.ws.close()
        finally:
            self.run_lock.release()


def start_background(cfg: Config) -> FeedScheduler:
    """For `kb serve`: start the feed jobs in background threads; call `.shutdown()` on exit.
    Raises `AlreadyRunning` when another process runs the scheduler of this knowledge base."""
    feeds = FeedScheduler(cfg)
    feeds.start()
    return feeds
