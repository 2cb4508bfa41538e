"""The feeds side of the `kb` command: `kb feeds ...`, `kb poll`, `kb scheduler`, `kb suggestions ...`.

Thin, like the rest of the CLI: read the arguments, call one function in kb.feedlist /
kb.poller / kb.suggest / kb.scheduler, print. User mistakes are KbErrors, shown as one line.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import click

from kb.cli.context import Context, pass_ctx, progress
from kb.errors import KbError
from kb.model.sanitize import printable, printable_data


def _short(stamp: str | None) -> str:
    return stamp.replace("T", " ")[:16] if stamp else "never"


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


# -- kb feeds ----------------------------------------------------------------------------------


@click.group("feeds")
def feeds_group() -> None:
    """The feed list (feeds/feeds.yaml): list with health, add, remove, OPML in and out, items."""


@feeds_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@pass_ctx
def feeds_list(c: Context, as_json: bool) -> None:
    """Every feed with its health: last success, last error, failures, items per day, next poll."""
    from kb.feeds import listfile as feedlist
    from kb.feeds.state import health

    cfg = c.cfg
    _, problems = feedlist.load(cfg.feeds_file, cfg.display(cfg.feeds_file))
    for p in problems:
        click.echo(str(p), err=True)
    rows = printable_data(health(c.ws))
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo(f"no feeds in {cfg.display(cfg.feeds_file)}; add one with kb feeds add URL --title TITLE")
        return
    for row in rows:
        if not row["enabled"]:
            state = "disabled"
        elif row["status"] == "error":
            state = f"error ({_plural(row['failures'], 'failure')}): {row['last_error']}"
        elif row["status"] == "gone":
            state = "gone (410)"
        else:
            state = row["status"]
        click.echo(click.style(row["title"], bold=True) + f"  [{state}]")
        click.echo(f"  {row['url']}")
        tags = ", ".join(row["tags"]) or "no tags"
        tech = f" · about {row['technology']}" if row.get("technology") else ""
        click.echo(
            f"  every {row['interval']} min · {tags}{tech} · last success {_short(row['last_success'])} · "
            f"{row['items_per_day']:g} items/day · next poll {_short(row['next_poll'])}"
        )
    bad = sum(r["status"] == "error" for r in rows)
    click.echo(f"\n{_plural(len(rows), 'feed')}, {sum(r['enabled'] for r in rows)} enabled, {bad} failing")


@feeds_group.command("add")
@click.argument("url")
@click.option("--title", help="Display name (default: the URL's host).")
@click.option("--tag", "tags", multiple=True, help="A tag slug; repeat for more.")
@click.option(
    "--interval",
    type=click.IntRange(min=1),
    default=None,
    help="Minutes between polls (default: feeds.default_interval).",
)
@click.option("--technology", help="Slug of the entry this feed is mostly about.")
@click.option("--disabled", is_flag=True, help="List it without polling it yet.")
@pass_ctx
def feeds_add(
    c: Context,
    url: str,
    title: str | None,
    tags: tuple[str, ...],
    interval: int | None,
    technology: str | None,
    disabled: bool,
) -> None:
    """Add the feed at URL to feeds.yaml (comments and layout are kept)."""
    from urllib.parse import urlsplit

    from kb.feeds import listfile as feedlist
    from kb.model.sanitize import safe_url

    cfg = c.cfg
    if not safe_url(url):
        raise KbError(f"{url!r} is not a full http:// or https:// address")
    feed = feedlist.Feed(
        url=url.strip(),
        title=(title or urlsplit(url).hostname or url).strip(),
        tags=tuple(tags),
        interval=interval or cfg.feeds.default_interval,
        enabled=not disabled,
        technology=technology or None,
    )
    feedlist.add_feeds(cfg.feeds_file, [feed], shown=cfg.display(cfg.feeds_file))
    click.echo(f"added {feed.url} to {cfg.display(cfg.feeds_file)}; kb poll --feed {feed.url} fetches it now")


@feeds_group.command("remove")
@click.argument("url")
@pass_ctx
def feeds_remove(c: Context, url: str) -> None:
    """Remove the feed at URL from feeds.yaml (its items stay searchable)."""
    from kb.feeds import listfile as feedlist

    cfg = c.cfg
    feed = feedlist.remove_feed(cfg.feeds_file, url, shown=cfg.display(cfg.feeds_file))
    click.echo(f"removed {feed.title} ({feed.url}) from {cfg.display(cfg.feeds_file)}")


@feeds_group.command("import-opml")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--interval", type=click.IntRange(min=1), default=None, help="Minutes between polls for the imported feeds."
)
@pass_ctx
def feeds_import(c: Context, file: Path, interval: int | None) -> None:
    """Add the feeds in an OPML FILE from another reader (folders and categories become tags).

    Feeds already listed are skipped. OPML has no interval, enabled flag or technology, so
    they get the defaults.
    """
    from kb.feeds import listfile as feedlist
    from kb.feeds import opml

    cfg = c.cfg
    shown = cfg.display(cfg.feeds_file)
    found, skipped = opml.from_opml(file.read_bytes(), interval or cfg.feeds.default_interval, shown=str(file))
    existing, _ = feedlist.load(cfg.feeds_file, shown)
    known = {feedlist.normalise_url(f.url) for f in existing}
    new = []
    for f in found:
        if feedlist.normalise_url(f.url) in known:
            skipped.append(f"{f.url}: already listed")
        else:
            known.add(feedlist.normalise_url(f.url))
            new.append(f)
    if new:
        feedlist.add_feeds(cfg.feeds_file, new, shown=shown)
    for note in skipped:
        click.echo(f"skipped {note}", err=True)
    click.echo(f"imported {_plural(len(new), 'feed')} into {shown}" + (f", skipped {len(skipped)}" if skipped else ""))


@feeds_group.command("export-opml")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to this file instead of printing."
)
@pass_ctx
def feeds_export(c: Context, output: Path | None) -> None:
    """Print the feed list as OPML 2.0 (or write it with -o feeds/feeds.opml)."""
    from kb.feeds import listfile as feedlist
    from kb.feeds import opml
    from kb.files.atomic import write_atomic

    cfg = c.cfg
    feeds, problems = feedlist.load(cfg.feeds_file, cfg.display(cfg.feeds_file))
    for p in problems:
        click.echo(str(p), err=True)
    text = opml.to_opml(feeds, title=f"{cfg.site.title} feeds")
    if output is None:
        click.echo(text, nl=False)
        return
    write_atomic(output, text)
    click.echo(f"wrote {_plural(len(feeds), 'feed')} to {output}", err=True)


@feeds_group.command("items")
@click.argument("query", nargs=-1)
@click.option("--feed", "feed_url", help="Only items from this feed URL.")
@click.option("-n", "--limit", default=20, show_default=True, help="How many items.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@pass_ctx
def feeds_items(c: Context, query: tuple[str, ...], feed_url: str | None, limit: int, as_json: bool) -> None:
    """Recent feed items, newest first, with what the suggester decided; or search them with QUERY
    (as kb search: words, "phrases", title: and tag:, AND, OR, NOT, prefix*)."""
    ws = c.ws
    text = " ".join(query).strip()
    if text:
        results = ws.items.search(text, kinds=("item",), per_page=limit)
        ids = [int(h.id.split(":", 1)[1]) for h in results.hits]
        rows = {r["id"]: r for r in _item_rows(ws, ids)}
        found = [rows[i] for i in ids if i in rows and (not feed_url or rows[i]["feed_url"] == feed_url)]
    else:
        where, params = ("WHERE feed_url = ?", [feed_url]) if feed_url else ("", [])
        found = list(
            ws.store.db.query(
                f"SELECT id, feed_url, title, link, published, first_seen, decision, decision_reason FROM feed_items {where} "
                f"ORDER BY coalesce(published, first_seen) DESC, id DESC LIMIT {int(limit)}",
                params,
            )
        )
    found = printable_data(found)  # feed text is untrusted: no terminal escapes
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    if not found:
        click.echo("no items" + (f" match {text!r}" if text else " yet; run kb poll"))
        return
    for row in found:
        click.echo(
            click.style(row["title"] or "(no title)", bold=True)
            + f"  #{row['id']}  {_short(row['published'] or row['first_seen'])}"
        )
        click.echo(f"  {row['link'] or '(no safe link)'}")
        if row.get("decision_reason"):
            click.echo(f"  {row['decision_reason']}")


def _item_rows(ws: Any, ids: list[int]) -> list[dict[str, Any]]:
    if not ids:
        return []
    return list(
        ws.store.db.query(
            "SELECT id, feed_url, title, link, published, first_seen, decision, decision_reason FROM feed_items "
            f"WHERE id IN ({','.join('?' * len(ids))})",
            ids,
        )
    )


# -- kb poll, kb scheduler ---------------------------------------------------------------------


@click.command("poll")
@click.option("--feed", "feed_urls", multiple=True, help="Poll only this feed URL (repeatable).")
@click.option("--due", is_flag=True, help="Only feeds whose next poll time has come (for cron).")
@click.option("--force", is_flag=True, help="Also poll feeds held back by Retry-After or error backoff.")
@pass_ctx
def poll(c: Context, feed_urls: tuple[str, ...], due: bool, force: bool) -> None:
    """Poll the enabled feeds once, now: fetch (conditional GET), store and index new items, and
    make suggestions. Feeds held back by Retry-After or backoff wait unless --force."""
    from kb.feeds import listfile as feedlist
    from kb.watch import open_poller

    ws = c.ws
    feeds, _ = feedlist.load(ws.cfg.feeds_file, ws.cfg.display(ws.cfg.feeds_file))
    total = len(feed_urls) if feed_urls else len(feeds)
    with open_poller(ws) as poller, progress(total, "Polling") as step:
        report = poller.poll(feed_urls or None, force=force, due_only=due, on_feed=lambda _r: step(1))
    for p in report.problems:
        click.echo(str(p), err=True)
    for r in sorted(report.results, key=lambda r: r.url):
        if r.outcome in ("new", "error", "gone", "held") or r.moved_to:
            click.echo(printable(r.line()), err=r.outcome == "error")
    counts = {o: report.count(o) for o in ("new", "not-modified", "unchanged", "error", "gone", "held", "disabled")}
    parts = [
        f"{counts['new']} with new items ({len(report.new_ids)} new, {report.updated} updated)",
        f"{counts['not-modified']} not modified",
        f"{counts['unchanged']} unchanged",
        f"{counts['error']} failed",
    ]
    parts += [f"{counts[k]} {k}" for k in ("gone", "held", "disabled") if counts[k]]
    click.echo(f"polled {_plural(len(report.results), 'feed')} in {report.seconds:.1f} s: " + ", ".join(parts))
    s = report.suggestions
    if s is not None and (s.updates or s.topics or s.extended):
        click.echo(
            f"suggestions: {len(s.updates)} update, {len(s.topics)} new topic"
            + (f", {len(s.extended)} topic{'s' * (len(s.extended) != 1)} with more items" if s.extended else "")
            + "; see kb suggestions list"
        )


@click.command("scheduler")
@pass_ctx
def scheduler(c: Context) -> None:
    """Run the feed scheduler in the foreground (for deployments where the web runs in several
    processes): each feed on its own interval, new topics every ten minutes. Ctrl-C stops it."""
    from kb.scheduler import FeedScheduler

    feeds = FeedScheduler(c.cfg, blocking=True)

    def stop(_signum: int, _frame: Any) -> None:
        # Leave the scheduler's loop; FeedScheduler.start() then lets running polls finish. Shutting
        # down here, inside the handler, could deadlock: the main thread may be holding the
        # executor's lock (submitting a job) while shutdown waits for the job threads that need it.
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)  # before saying it runs: a SIGTERM from then on stops it cleanly
    count = len(feeds.feed_jobs())
    click.echo(
        f"scheduler: {_plural(count, 'feed')} scheduled from {c.cfg.display(c.cfg.feeds_file)}; Ctrl-C stops it",
        err=True,
    )
    try:
        feeds.start()
    except KeyboardInterrupt:
        pass
    click.echo("scheduler stopped", err=True)


# -- kb suggestions ----------------------------------------------------------------------------


@click.group("suggestions")
def suggestions_group() -> None:
    """Triage what the feeds suggest: updates to entries and new topics."""


@suggestions_group.command("list")
@click.option(
    "--status", type=click.Choice(["open", "accepted", "dismissed", "all"]), default="open", show_default=True
)
@click.option("--kind", type=click.Choice(["update", "new-topic"]), default=None, help="Only this kind.")
@click.option("-n", "--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@pass_ctx
def suggestions_list(c: Context, status: str, kind: str | None, limit: int, as_json: bool) -> None:
    """Suggestions, newest first (open ones unless --status)."""
    from kb import suggest

    rows = printable_data(suggest.listing(c.ws, None if status == "all" else status, kind, limit))
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo(f"no {'' if status == 'all' else status + ' '}suggestions")
        return
    for row in rows:
        what = f"update {row['entry_slug']}" if row["kind"] == "update" else "new topic"
        click.echo(
            click.style(f"#{row['id']}", bold=True) + f"  {what}: {row['title']}  "
            f"({_plural(row['item_count'], 'item')}, {row['status']})"
        )
        if row["reasons"]:
            click.echo(f"    {row['reasons'][0]}")
    click.echo("\nkb suggestions show ID for the reasons and items; accept ID or dismiss ID to decide")


@suggestions_group.command("show")
@click.argument("sid", type=int, metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@pass_ctx
def suggestions_show(c: Context, sid: int, as_json: bool) -> None:
    """One suggestion: why it was made, and the items behind it."""
    from kb import suggest

    s = printable_data(suggest.get(c.ws, sid))
    if as_json:
        click.echo(json.dumps(s, indent=2))
        return
    what = f"update to {s['entry_slug']}" if s["kind"] == "update" else "new topic"
    click.echo(click.style(f"#{s['id']} {what}: {s['title']}", bold=True) + f"  [{s['status']}]")
    if s["keywords"]:
        click.echo("keywords: " + ", ".join(s["keywords"]))
    click.echo("why:")
    for reason in s["reasons"]:
        click.echo(f"  - {reason}")
    click.echo(f"items ({len(s['items'])}):")
    for item in s["items"]:
        click.echo(
            f"  #{item['id']} {item['title']}  ({item['feed_title']}, {_short(item['published'] or item['first_seen'])})"
        )
        click.echo(f"     {item['link'] or '(no safe link)'}")
    if s["status"] != "open":
        click.echo(
            f"{s['status']} by {s['decided_by']} on {_short(s['decided_at'])}"
            + (f": {s['result']}" if s.get("result") else "")
        )


@suggestions_group.command("accept")
@click.argument("sid", type=int, metavar="ID")
@click.option("--by", help="Who decided (default: your user name).")
@pass_ctx
def suggestions_accept(c: Context, sid: int, by: str | None) -> None:
    """Accept: an update adds the item as a source of the entry (front matter rewritten safely);
    a new topic writes a draft entry with title, keywords and sources."""
    from kb import triage

    result = triage.accept(c.ws, sid, by=by)
    click.echo(result.message)


@suggestions_group.command("dismiss")
@click.argument("sid", type=int, metavar="ID")
@click.option("--note", help="Why, for the record.")
@click.option("--by", help="Who decided (default: your user name).")
@pass_ctx
def suggestions_dismiss(c: Context, sid: int, note: str | None, by: str | None) -> None:
    """Dismiss: remembered, so the same suggestion never comes back for the same items."""
    from kb import triage

    triage.dismiss(c.ws, sid, by=by, note=note)
    click.echo(f"dismissed suggestion {sid}")


def register(main: click.Group) -> None:
    """Add the feeds commands to the `kb` group."""
    for command in (feeds_group, poll, scheduler, suggestions_group):
        main.add_command(command)
