"""`kb init`, `kb new`, `kb validate`, `kb index`, `kb search`, `kb show`: the entries side."""

from __future__ import annotations

import json
from pathlib import Path

import click

from kb.cli.context import Context, pass_ctx, progress
from kb.errors import KbError
from kb.model import taxonomy as tx
from kb.sync import update_index
from kb.workspace import Workspace


def register(main: click.Group) -> None:
    """Add the entry commands to `main`."""
    for command in (init, new, validate, index, search, show):
        main.add_command(command)


@click.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def init(directory: Path) -> None:
    """Create a new knowledge base in DIRECTORY with a config and a sample entry."""
    from kb.files.scaffold import init as make

    for path in make(directory):
        click.echo(f"created {path}")
    click.echo(f"Next: cd {directory} && kb validate && kb index")


@click.command()
@click.argument("title")
@pass_ctx
def new(c: Context, title: str) -> None:
    """Create a draft entry for TITLE in entries/ from the template."""
    from kb.files.scaffold import new_entry

    path = new_entry(c.cfg.entries_dir, title)
    click.echo(f"created {c.cfg.display(path)} (status: draft); edit it, then run kb validate")


@click.command()
@pass_ctx
def validate(c: Context) -> None:
    """Check every entry: YAML, required fields, allowed values, ranges, links, URLs, dates.

    Prints one line per problem (FILE:LINE: message) and exits 1 if any is an error.
    """
    from kb.sync import entry_files
    from kb.sync import validate as check

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


@click.command()
@click.option("--rebuild", is_flag=True, help="Start over: drop the derived rows and the search index.")
@pass_ctx
def index(c: Context, rebuild: bool) -> None:
    """Bring the database and search index up to date with entries/ (only changed files are read)."""
    from kb.sync import entry_files

    ws = c.ws
    files = entry_files(ws.cfg.entries_dir)
    with progress(len(files), "Indexing") as step:
        report = update_index(ws, rebuild=rebuild, on_file=lambda _p: step(1))
    for p in report.problems:
        click.echo(str(p), err=True)
    if report.read:
        listing = ", ".join(report.read[:10]) + (f" and {len(report.read) - 10} more" if len(report.read) > 10 else "")
        click.echo(f"read {len(report.read)} changed file{'s' * (len(report.read) != 1)}: {listing}")
    click.echo(
        f"{len(report.read)} read, {report.unchanged} unchanged, {len(report.removed)} removed, "
        f"{len(report.skipped)} skipped with errors; {ws.index.doc_count()} documents in the index"
    )
    if report.skipped:
        raise click.ClickException(
            f"{len(report.skipped)} entr{'ies' if len(report.skipped) != 1 else 'y'} skipped: fix the problems above and run kb index again"
        )


@click.command()
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
    from kb.model.access import PUBLIC

    ws = c.ws
    text = " ".join(query)
    results = ws.index.search(
        text, audience=PUBLIC if public else None, per_page=limit, snippet_text=lambda hit: _body(ws, hit.slug)
    )
    if as_json:
        click.echo(
            json.dumps(
                {
                    "query": text,
                    "total": results.total,
                    "results": [
                        {
                            "slug": h.slug,
                            "title": h.title,
                            "score": round(h.score, 3),
                            "status": h.fields.get("status"),
                            "tlp": h.fields.get("tlp"),
                            "snippet": _plain(h.snippet),
                        }
                        for h in results.hits
                    ],
                },
                indent=2,
            )
        )
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

    return html.unescape(
        re.sub(r"<mark>(.*?)</mark>", lambda m: click.style(m.group(1), fg="yellow", bold=True), snippet)
    )


@click.command()
@click.argument("slug")
@click.option("--json", "as_json", is_flag=True, help="Print the entry as JSON.")
@pass_ctx
def show(c: Context, slug: str, as_json: bool) -> None:
    """Show one entry: its summary, risks by score, and the measures for each."""
    from kb.errors import NotFound
    from kb.model.entry import read_entry
    from kb.model.serial import entry_to_dict

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
    click.echo(
        f"{tx.CATEGORY[e.category]} · horizon {tx.HORIZON[e.horizon]} · {tx.MATURITY[e.maturity]} · "
        f"score {e.score}/25 · reviewed {e.reviewed}" + ("  (review overdue)" if e.is_overdue(cfg.review_days) else "")
    )
    click.echo("\n" + click.wrap_text(e.summary, 88) + "\n")
    for r in sorted(e.risks, key=lambda r: -r.score):
        click.echo(
            click.style(f"{r.title}", bold=True)
            + f"  L{r.likelihood} x I{r.impact} = {r.score}, {r.trend}, {tx.ROLE[r.role].lower()}"
        )
        for m in r.measures:
            click.echo(f"  - {tx.ACTORS[m.actor]}: {m.measure} ({tx.MEASURE_STATUS[m.status].lower()})")
    if e.related:
        click.echo("\nRelated: " + ", ".join(e.related))
