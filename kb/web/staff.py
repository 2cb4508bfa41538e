"""The staff workspace: the dashboard (triage, feed health, overdue reviews, recent changes),
feed management, and the admin's audit log. The entry editor is `kb.web.editor`, nested here.

Thin views: the queue is `kb.triage`, the rest of the dashboard `kb.desk`, feeds `kb.feedlist`,
triage decisions `kb.suggest`. Every change is written to the audit log.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from kb import triage
from kb.accounts import Accounts
from kb.errors import KbError
from kb.feeds import listfile as feedlist
from kb.feeds.fetch import Fetcher
from kb.feeds.listfile import Feed
from kb.files import editor
from kb.model.access import Reader
from kb.model.entry import SLUG_RE
from kb.model.sanitize import clean_html, safe_url
from kb.site import dashboard as desk
from kb.watch import open_poller
from kb.web import editor as editor_pages
from kb.web.actions import actor, audit
from kb.web.auth import admin_required, staff_required
from kb.web.state import catalog, cfg, state

bp = Blueprint("staff", __name__)
bp.register_blueprint(editor_pages.bp)  # the editor's pages are staff pages: staff.editor.*
STAFF = Reader(role="staff")
POLL_NOW_SECONDS = 10.0
FEED_ITEMS_SHOWN = 30


def _back(anchor: str = "") -> Any:
    return redirect(url_for("staff.dashboard") + anchor)


# -- the dashboard ----------------------------------------------------------------------------


@bp.get("/staff/")
@staff_required
def dashboard():  # type: ignore[no-untyped-def]
    ws, today = state().workspace, dt.date.today()
    return render_template(
        "staff/dashboard.html",
        queue=triage.queue(ws, today),
        feeds=desk.feed_health(ws, today),
        overdue=desk.overdue([n.head for n in catalog().notes(STAFF)], cfg().review_days, today),
        broken=desk.broken_files(ws),
        changes=desk.recent_changes(ws),
        today=today,
        snooze_default=(today + dt.timedelta(days=7)).isoformat(),
    )


def _accept(sid: int) -> tuple[bool, str]:
    """Accept one suggestion and record it in the audit log: (done, what happened or the problem)."""
    try:
        with editor.write_lock(cfg().entries_dir):
            result = triage.accept(state().workspace, sid, by=actor())
    except KbError as exc:
        return False, str(exc)
    audit("suggestion.accept", str(sid), summary=result.message)
    return True, result.message


def _dismiss(sid: int, reason: str) -> tuple[bool, str]:
    """Dismiss one suggestion and record it in the audit log: (done, the problem if not)."""
    try:
        triage.dismiss(state().workspace, sid, by=actor(), note=reason or None)
    except KbError as exc:
        return False, str(exc)
    audit("suggestion.dismiss", str(sid), summary=reason or "no reason given")
    return True, ""


def _reason() -> str:
    return " ".join((request.form.get("reason") or "").split())[:500]


@bp.post("/staff/suggestions/<int:sid>/accept")
@staff_required
def accept(sid: int):  # type: ignore[no-untyped-def]
    done, message = _accept(sid)
    if not done:
        flash(f"Suggestion {sid} was not accepted: {message}", "error")
        return _back("#triage")
    catalog().refresh()
    flash(f"Suggestion {sid} accepted: {message}.")
    return _back("#triage")


@bp.post("/staff/suggestions/<int:sid>/dismiss")
@staff_required
def dismiss(sid: int):  # type: ignore[no-untyped-def]
    done, problem = _dismiss(sid, _reason())
    if not done:
        flash(f"Suggestion {sid} was not dismissed: {problem}", "error")
        return _back("#triage")
    flash(f"Suggestion {sid} dismissed. It will not come back for the same items.")
    return _back("#triage")


@bp.post("/staff/suggestions/bulk")
@staff_required
def bulk():  # type: ignore[no-untyped-def]
    """Accept or dismiss the suggestions ticked in the triage queue together (one reason for all
    dismissals); each is recorded in the audit log on its own, and one that fails leaves the rest."""
    action = request.form.get("action")
    sids = sorted({int(v) for v in request.form.getlist("sid") if v.isdecimal()})
    if action not in ("accept", "dismiss"):
        flash("Choose Accept selected or Dismiss selected.", "error")
        return _back("#triage")
    if not sids:
        flash(f"Select the suggestions to {action} first.", "error")
        return _back("#triage")
    reason, done, failed = _reason(), [], []
    for sid in sids:
        ok, message = _accept(sid) if action == "accept" else _dismiss(sid, reason)
        (done if ok else failed).append((sid, message))
    if action == "accept" and done:
        catalog().refresh()
    if done:
        verb = "accepted" if action == "accept" else "dismissed"
        flash(f"{len(done)} suggestion{'s' * (len(done) != 1)} {verb}: {', '.join(str(sid) for sid, _ in done)}.")
    for sid, problem in failed:
        flash(f"Suggestion {sid} was not {action}ed: {problem}", "error")
    return _back("#triage")


@bp.post("/staff/suggestions/<int:sid>/snooze")
@staff_required
def snooze(sid: int):  # type: ignore[no-untyped-def]
    try:
        until = triage.parse_day(request.form.get("until", ""))
        triage.snooze(state().workspace, sid, until, actor())
    except KbError as exc:
        flash(f"Suggestion {sid} was not snoozed: {exc}", "error")
        return _back("#triage")
    audit("suggestion.snooze", str(sid), summary=f"until {until.isoformat()}")
    flash(f"Suggestion {sid} snoozed until {until.isoformat()}.")
    return _back("#triage")


# -- feeds ------------------------------------------------------------------------------------


def _feeds_file() -> tuple[Any, str]:
    c = cfg()
    return c.feeds_file, c.display(c.feeds_file)


def _new_feed(form: Any) -> tuple[Feed | None, dict[str, str]]:
    """A feed from the add form, or the problems with it, by field."""
    problems: dict[str, str] = {}
    url = (form.get("url") or "").strip()
    title = " ".join((form.get("title") or "").split())
    tags = editor.split_list(form.get("tags") or "")
    interval_text = (form.get("interval") or "").strip() or str(cfg().feeds.default_interval)
    if not safe_url(url):
        problems["url"] = "Enter the feed's full address, starting with http:// or https://"
    if not title:
        problems["title"] = "Enter a title for the feed"
    bad = [t for t in tags if not SLUG_RE.match(t)]
    if bad:
        problems["tags"] = f"Tags must be lower-case slugs like 'crime-type'; got {', '.join(bad)}"
    try:
        interval = int(interval_text)
        if not 5 <= interval <= 7 * 24 * 60:
            raise ValueError
    except ValueError:
        interval = 0
        problems["interval"] = "Enter the interval as a whole number of minutes, from 5 to 10080 (a week)"
    if problems:
        return None, problems
    return Feed(url=url, title=title, tags=tuple(tags), interval=interval, enabled=True), {}


@bp.route("/staff/feeds", methods=["GET", "POST"])
@staff_required
def feeds():  # type: ignore[no-untyped-def]
    problems: dict[str, str] = {}
    if request.method == "POST":
        feed, problems = _new_feed(request.form)
        if feed is not None:
            path, shown = _feeds_file()
            try:
                feedlist.add_feeds(path, [feed], shown)
            except KbError as exc:
                problems["url"] = str(exc)
            else:
                audit("feed.add", feed.url, summary=f"{feed.title}, every {feed.interval} min")
                flash(f"Added the feed {feed.title}. It will be polled within a minute or two.")
                return redirect(url_for("staff.feeds"))
    _, list_problems = feedlist.load(*_feeds_file())
    return render_template(
        "staff/feeds.html",
        feeds=desk.feed_health(state().workspace),
        problems=problems,
        form=request.form if request.method == "POST" else {},
        list_problems=[str(p) for p in list_problems],
        default_interval=cfg().feeds.default_interval,
    ), 400 if problems else 200


@bp.post("/staff/feeds/<any(pause, resume, remove):action>")
@staff_required
def feed_action(action: str):  # type: ignore[no-untyped-def]
    url = (request.form.get("url") or "").strip()
    path, shown = _feeds_file()
    try:
        if action == "remove":
            gone = feedlist.remove_feed(path, url, shown)
            flash(f"Removed the feed {gone.title}. Its items stay searchable.")
        else:
            feedlist.update_feed(path, url, enabled=action == "resume", shown=shown)
            flash(f"{'Resumed' if action == 'resume' else 'Paused'} the feed {url}.")
    except KbError as exc:
        flash(f"Nothing changed: {exc}", "error")
        return redirect(url_for("staff.feeds"))
    audit(f"feed.{action}", url)
    return redirect(url_for("staff.feeds"))


@bp.get("/staff/feeds/feed")
@staff_required
def feed():  # type: ignore[no-untyped-def]
    url = request.args.get("url", "")
    row = next((r for r in desk.feed_health(state().workspace) if r["url"] == url), None)
    if row is None:
        abort(404)
    items = [
        {**item, "link": safe_url(item["link"]), "html": clean_html(item["summary_html"] or item["content_html"] or "")}
        for item in state().workspace.store.db.query(
            "SELECT id, title, link, published, first_seen, summary_html, content_html, decision, decision_reason "
            "FROM feed_items WHERE feed_url = ? ORDER BY coalesce(published, first_seen) DESC LIMIT ?",
            [url, FEED_ITEMS_SHOWN],
        )
    ]
    return render_template("staff/feed.html", feed=row, items=items)


@bp.post("/staff/feeds/poll")
@staff_required
def poll_feed():  # type: ignore[no-untyped-def]
    """*Poll now*: poll one feed at once, even if it is not due or is backing off after errors.
    New items go through the suggester as in a scheduled poll."""
    url = (request.form.get("url") or "").strip()
    # The fetch gets at most POLL_NOW_SECONDS (and the parse its own limit), so that the request
    # ends well inside gunicorn's 30 s worker timeout; a slower feed is left to the scheduler.
    settings = replace(cfg().feeds, total_timeout=min(cfg().feeds.total_timeout, POLL_NOW_SECONDS))
    try:
        with Fetcher(settings) as fetcher, open_poller(state().workspace, fetcher) as poller:
            result = poller.poll_one(url, force=True)
    except KbError as exc:
        flash(f"The feed was not polled: {exc}", "error")
        return redirect(url_for("staff.feed", url=url))
    if result is None:
        flash(f"There is no feed {url} in {_feeds_file()[1]}.", "error")
        return redirect(url_for("staff.feeds"))
    catalog().refresh()
    line = result.line()
    audit("feed.poll", url, summary=line)
    flash(f"Polled: {line}.", "error" if result.outcome in ("error", "gone") else "message")
    return redirect(url_for("staff.feed", url=url))


# -- the audit log ----------------------------------------------------------------------------


@bp.get("/admin/audit")
@admin_required
def audit_log():  # type: ignore[no-untyped-def]
    rows = Accounts(state().workspace.store, cfg().accounts).audit(limit=500)
    return render_template("staff/audit.html", rows=desk.audit_rows(rows))
