"""The `kb` command. Thin: each command reads its arguments, calls one function below, prints.

A `KbError` becomes a one-line message and exit status 1, never a traceback.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from kb import config as _config
from kb import taxonomy as tx
from kb.errors import KbError
from kb.workspace import Workspace


class Context:
    def __init__(self, root: str | None):
        self.root = root
        self._ws: Workspace | None = None

    @property
    def cfg(self) -> _config.Config:
        return self.ws.cfg if self._ws else _config.load(self.root)

    @property
    def ws(self) -> Workspace:
        if self._ws is None:
            self._ws = Workspace.open(self.root)
        return self._ws


pass_ctx = click.make_pass_decorator(Context)


@contextmanager
def progress(length: int, label: str) -> Iterator[Callable[[int], None]]:
    """A progress bar on a terminal; silent when output is piped or logged."""
    if not sys.stderr.isatty() or length < 2:
        yield lambda _n: None
        return
    with click.progressbar(length=length, label=label, file=sys.stderr, show_pos=True) as bar:
        yield bar.update


class KbGroup(click.Group):
    """Turns user-fixable errors into a message and exit 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KbError as exc:
            raise click.ClickException(str(exc)) from exc


@click.group(cls=KbGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--root", envvar="KB_ROOT", type=click.Path(file_okay=False), default=None,
              help="The knowledge base folder (holding config.toml). Default: $KB_ROOT or the current folder.")
@click.option("-v", "--verbose", is_flag=True, help="Log more detail.")
@click.version_option(package_name="horizon-kb")
@click.pass_context
def main(ctx: click.Context, root: str | None, verbose: bool) -> None:
    """Horizon KB: emerging technologies, the crime risks they bring, and how to design them out.

    Entries are Markdown files in entries/; `kb index` derives the database and search
    index under var/ from them. Start with `kb validate`, `kb index`, `kb search drone`.
    """
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(message)s")
    ctx.obj = Context(root)


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def init(directory: Path) -> None:
    """Create a new knowledge base in DIRECTORY with a config and a sample entry."""
    from kb.scaffold import init as make

    for path in make(directory):
        click.echo(f"created {path}")
    click.echo(f"Next: cd {directory} && kb validate && kb index")


@main.command()
@click.argument("title")
@pass_ctx
def new(c: Context, title: str) -> None:
    """Create a draft entry for TITLE in entries/ from the template."""
    from kb.scaffold import new_entry

    path = new_entry(c.cfg.entries_dir, title)
    click.echo(f"created {c.cfg.display(path)} (status: draft); edit it, then run kb validate")


@main.command()
@pass_ctx
def validate(c: Context) -> None:
    """Check every entry: YAML, required fields, allowed values, ranges, links, URLs, dates.

    Prints one line per problem (FILE:LINE: message) and exits 1 if any is an error.
    """
    from kb.sync import entry_files, validate as check

    cfg = c.cfg
    entries, problems = check(cfg)
    for p in problems:
        click.echo(str(p), err=p.severity == "error")
    errors = [p for p in problems if p.severity == "error"]
    total = len(entry_files(cfg.entries_dir))
    if errors:
        files = len({p.path for p in errors})
        raise click.ClickException(f"{len(errors)} problem{'s' * (len(errors) != 1)} in {files} of {total} entries")
    click.echo(f"{total} entries OK" + (f" ({len(problems)} warnings)" if problems else ""))


@main.command()
@click.option("--rebuild", is_flag=True, help="Start over: drop the derived rows and the search index.")
@pass_ctx
def index(c: Context, rebuild: bool) -> None:
    """Bring the database and search index up to date with entries/ (only changed files are read)."""
    from kb.sync import entry_files

    ws = c.ws
    files = entry_files(ws.cfg.entries_dir)
    with progress(len(files), "Indexing") as step:
        report = ws.sync(rebuild=rebuild, on_file=lambda _p: step(1))
    for p in report.problems:
        click.echo(str(p), err=True)
    if report.read:
        listing = ", ".join(report.read[:10]) + (f" and {len(report.read) - 10} more" if len(report.read) > 10 else "")
        click.echo(f"read {len(report.read)} changed file{'s' * (len(report.read) != 1)}: {listing}")
    click.echo(f"{len(report.read)} read, {report.unchanged} unchanged, {len(report.removed)} removed, "
               f"{len(report.skipped)} skipped with errors; {ws.index.doc_count()} documents in the index")
    if report.skipped:
        raise click.ClickException(f"{len(report.skipped)} entr{'ies' if len(report.skipped) != 1 else 'y'} skipped: fix the problems above and run kb index again")


@main.command()
@click.argument("query", nargs=-1, required=True)
@click.option("-n", "--limit", default=10, show_default=True, help="How many results.")
@click.option("--public", is_flag=True, help="Only what the public site shows (published, TLP:CLEAR).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@pass_ctx
def search(c: Context, query: tuple[str, ...], limit: int, public: bool, as_json: bool) -> None:
    """Search entries. QUERY uses Whoosh syntax: words, "a phrase", AND/OR/NOT,
    fields such as sector:prisons or tag:drones, prefixes such as drone*.

    Fields: title, summary, body, risks, measures, keywords, tag, sector, driver,
    horizon, category, status, tlp.
    """
    from kb.access import PUBLIC

    ws = c.ws
    text = " ".join(query)
    results = ws.index.search(text, audience=PUBLIC if public else None, per_page=limit,
                              snippet_text=lambda hit: _body(ws, hit.slug))
    if as_json:
        click.echo(json.dumps({
            "query": text, "total": results.total,
            "results": [{"slug": h.slug, "title": h.title, "score": round(h.score, 3), "status": h.fields.get("status"),
                         "tlp": h.fields.get("tlp"), "snippet": _plain(h.snippet)} for h in results.hits],
        }, indent=2))
        return
    if not results.hits:
        click.echo(f"no entries match {text!r}")
        return
    click.echo(f"{results.total} result{'s' * (results.total != 1)} for {text!r}")
    for h in results.hits:
        status = h.fields.get("status")
        badge = f"[{tx.TLP.get(h.fields.get('tlp', ''), '')}{'' if status == 'published' else ', ' + status}]"
        click.echo(f"\n{click.style(h.title, bold=True)}  {h.slug}  {badge}")
        click.echo("  " + _terminal(h.snippet))


def _body(ws: Workspace, slug: str) -> str:
    row = ws.store.entry_row(slug)
    return json.loads(row["data"])["body"] if row else ""


def _plain(snippet: str) -> str:
    import html

    return html.unescape(snippet.replace("<mark>", "").replace("</mark>", ""))


def _terminal(snippet: str) -> str:
    import html
    import re

    return html.unescape(re.sub(r"<mark>(.*?)</mark>", lambda m: click.style(m.group(1), fg="yellow", bold=True), snippet))


@main.command()
@click.argument("slug")
@click.option("--json", "as_json", is_flag=True, help="Print the entry as JSON.")
@pass_ctx
def show(c: Context, slug: str, as_json: bool) -> None:
    """Show one entry: its summary, risks by score, and the measures for each."""
    from kb.entry import entry_to_dict, read_entry
    from kb.errors import NotFound

    cfg = c.cfg
    path = cfg.entries_dir / f"{slug}.md"
    if not path.exists():
        raise NotFound(f"no entry {slug!r} (looked for {cfg.display(path)}); try kb search {slug}")
    entry, problems = read_entry(path, display=Path(cfg.display(path)))
    if entry is None:
        raise KbError("\n".join(str(p) for p in problems))
    if as_json:
        click.echo(json.dumps(entry_to_dict(entry), indent=2))
        return
    e = entry
    click.echo(click.style(e.title, bold=True) + f"  [{tx.TLP[e.tlp]}, {tx.STATUS[e.status]}]")
    click.echo(f"{tx.CATEGORY[e.category]} · horizon {tx.HORIZON[e.horizon]} · {tx.MATURITY[e.maturity]} · "
               f"score {e.score}/25 · reviewed {e.reviewed}"
               + ("  (review overdue)" if e.is_overdue(cfg.review_days) else ""))
    click.echo("\n" + click.wrap_text(e.summary, 88) + "\n")
    for r in sorted(e.risks, key=lambda r: -r.score):
        click.echo(click.style(f"{r.title}", bold=True) + f"  L{r.likelihood} x I{r.impact} = {r.score}, {r.trend}, {tx.ROLE[r.role].lower()}")
        for m in r.measures:
            click.echo(f"  - {tx.ACTORS[m.actor]}: {m.measure} ({tx.MEASURE_STATUS[m.status].lower()})")
    if e.related:
        click.echo("\nRelated: " + ", ".join(e.related))


from kb.cli_users import register as _register_users  # noqa: E402

_register_users(main)


from kb.cli_web import register as _register_web  # noqa: E402  (kept last: `kb serve` lives in kb/cli_web.py)

_register_web(main)


# The feeds side (kb feeds, kb poll, kb scheduler, kb suggestions) lives in kb/cli_feeds.py.
from kb.cli_feeds import register as _register_feeds  # noqa: E402

_register_feeds(main)
