"""`kb init`, `kb new`, `kb validate`, `kb index`, `kb search`, `kb show`: the entries side;
`kb backup`, `kb restore` and `kb doctor`: keeping what is under var/ safe and sound."""

from __future__ import annotations

import json
from pathlib import Path

import click

from kb.cli.context import Context, pass_ctx, progress
from kb.errors import KbError
from kb.index.search import Results
from kb.model import taxonomy as tx
from kb.sync import update_index
from kb.workspace import Workspace


def register(main: click.Group) -> None:
    """Add the entry commands to `main`."""
    for command in (init, new, validate, index, search, show, backup, restore, doctor):
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
@click.option(
    "--rebuild",
    is_flag=True,
    help="Build the search index and the cache rows again from nothing (also repairs a damaged cache or index).",
)
@pass_ctx
def index(c: Context, rebuild: bool) -> None:
    """Bring the cache database and search index up to date with entries/ (only changed files are read).

    --rebuild builds a new index beside the live one and swaps it in, then replaces the cache
    rows in one transaction; accounts, the audit log, feed items and triage decisions are kept.
    """
    ws = Workspace.open(c.root, rebuild=True) if rebuild else c.ws
    try:
        _index(ws, rebuild)
    finally:
        if rebuild:
            ws.close()


def _index(ws: Workspace, rebuild: bool) -> None:
    from kb.sync import entry_files

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
@click.option("-n", "--limit", default=10, show_default=True, type=click.IntRange(1, 200), help="How many results.")
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
                    "all_words": results.complete,  # the first this many have every word; the rest some
                    "corrected": results.corrected or None,  # searched instead: the typed query found nothing
                    "suggestion": results.suggestion or None,  # "did you mean"
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
        click.echo(
            f"no entries match {text!r}" + (f"; did you mean {results.suggestion!r}?" if results.suggestion else "")
        )
        return
    for line in _notes(text, results):
        click.echo(line)
    for h in results.hits:
        status = h.fields.get("status")
        badge = f"[{tx.TLP.get(h.fields.get('tlp', ''), '')}{'' if status == 'published' else ', ' + status}]"
        click.echo(f"\n{click.style(h.title, bold=True)}  {h.slug}  {badge}")
        click.echo("  " + _terminal(h.snippet))


def _notes(text: str, results: Results) -> list[str]:
    """What `kb search` says above the hits: how many, for what, and whether all the words matched."""
    count = f"{results.total} result{'s' * (results.total != 1)}"
    lines = [
        f"no entries match {text!r}; {count} for {results.corrected!r}"
        if results.corrected
        else f"{count} for {text!r}"
    ]
    if results.suggestion:
        lines.append(f"did you mean {results.suggestion!r}?")
    if results.partial:
        lines.append(
            "showing results for some of your words: "
            + (
                _first(results.complete) + " them all, the others only some"
                if results.complete
                else "no entry has them all"
            )
        )
    return lines


def _first(n: int) -> str:
    return "the first has" if n == 1 else f"the first {n} have"


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


@click.command()
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Replace the backup in DIRECTORY when it is not empty.")
@pass_ctx
def backup(c: Context, directory: Path, force: bool) -> None:
    """Copy what nothing else can recreate into DIRECTORY, while the site serves: the state
    database (accounts, audit log, feed state and items, triage decisions), feeds/, config.toml.

    DIRECTORY must be new or empty (or give --force). entries/ is not copied: keep it in git.
    """
    from kb.backup import backup as make

    report = make(c.cfg, directory, force=force)
    rows = report.rows
    click.echo(
        f"backed up {', '.join(report.copied)} to {report.folder}: {rows.get('users', 0)} accounts, "
        f"{rows.get('audit', 0)} audit rows, {rows.get('feed_items', 0)} feed items, "
        f"{rows.get('suggestions', 0)} suggestions"
    )


@click.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@pass_ctx
def restore(c: Context, directory: Path) -> None:
    """Put back a backup made by kb backup DIRECTORY, then rebuild the cache and index.

    Stop the site and kb scheduler first: restore refuses while the state database is open.
    What it replaces is kept in var/before-restore-STAMP/.
    """
    from kb.backup import restore as put_back

    report = put_back(c.cfg, directory)
    click.echo(
        f"restored {', '.join(report.restored)} (what they replaced is in {c.cfg.display(report.kept)}); "
        "rebuilding the cache and index, then start the site and kb scheduler again"
    )
    ws = Workspace.open(c.root, rebuild=True)
    try:
        _index(ws, rebuild=True)
    finally:
        ws.close()


@click.command()
@click.option("--thorough", is_flag=True, help="Run PRAGMA integrity_check instead of the quicker quick_check.")
@pass_ctx
def doctor(c: Context, thorough: bool) -> None:
    """Check the state and cache databases, the search index, the entry files and what killed
    processes left behind; one line per finding, with what to do. Exits 1 when something is wrong."""
    from kb.doctor import examine

    findings = examine(c.cfg, thorough=thorough)
    for finding in findings:
        click.echo(str(finding))
    problems = [f for f in findings if not f.ok]
    if problems:
        raise click.ClickException(f"{len(problems)} problem{'s' * (len(problems) != 1)} found")
    click.echo("everything is in order")
