"""`kb serve`: bring the database and index up to date, start the scheduler, serve the site.

Kept apart from `kb.cli` so the CLI does not import Flask for every command; registered by
one line at the end of `kb/cli.py`.
"""

from __future__ import annotations

import logging
import os

import click

from kb.sync import update_index

log = logging.getLogger(__name__)


def start_scheduler(cfg):  # type: ignore[no-untyped-def]
    """Start the feed scheduler in the background; None, after saying why on stderr, when
    `kb.scheduler` is not installed or another process already runs this knowledge base's
    scheduler (the site is served all the same, and that process does the polling)."""
    try:
        from kb.scheduler import AlreadyRunning, start_background
    except ImportError:
        click.echo("feed scheduler not started (kb.scheduler is not installed)", err=True)
        return None
    try:
        return start_background(cfg)
    except AlreadyRunning as exc:
        click.echo(f"feed scheduler not started: {exc.running}; this server will not poll the feeds", err=True)
        return None


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=int, help="Port to listen on.")
@click.option("--debug", is_flag=True, help="Reload on code changes and show tracebacks (never in production).")
@click.option("--no-sync", is_flag=True, help="Do not bring the database and index up to date first.")
@click.option("--no-scheduler", is_flag=True, help="Do not poll the feeds in the background.")
@click.pass_obj
def serve(c, host: str, port: int, debug: bool, no_sync: bool, no_scheduler: bool) -> None:  # type: ignore[no-untyped-def]
    """Serve the public site (development server) with the feed scheduler.

    Syncs entries/ into the database and index first. For production use a WSGI server:
    gunicorn -w 4 -b 127.0.0.1:8000 'kb.web.wsgi:app' (see the README).
    """
    from kb.web import create_app

    cfg = c.cfg
    reloaded = os.environ.get("WERKZEUG_RUN_MAIN") == "true"  # the debug reloader's child process
    if not no_sync and not reloaded:
        report = update_index(c.ws)
        for p in report.errors:
            click.echo(str(p), err=True)
        click.echo(f"entries: {len(report.read)} read, {report.unchanged} unchanged, {len(report.skipped)} skipped")
    scheduler = None
    if not no_scheduler and (reloaded or not debug):  # with --debug, only the reloader's child polls
        scheduler = start_scheduler(cfg)
    app = create_app(cfg)
    if not reloaded:
        click.echo(f"Serving {cfg.site.title} at http://{host}:{port}/  (Ctrl+C to stop)")
    try:
        app.run(host=host, port=port, debug=debug, use_reloader=debug)
    finally:
        if scheduler is not None and hasattr(scheduler, "shutdown"):
            scheduler.shutdown()
        app.extensions["kb"].close()


def register(group: click.Group) -> None:
    group.add_command(serve)
