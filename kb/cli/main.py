"""The `kb` command: one group, its commands registered from one module per command group.

Thin: each command reads its arguments, calls one function below, prints. A `KbError` becomes
a one-line message and exit status 1, never a traceback; so does any other error, whose
traceback goes to `var/log/kb-errors.log` (see `KbGroup` in `kb.cli.context`).
"""

from __future__ import annotations

import logging

import click

from kb.cli import entries, feeds, mail, users, web
from kb.cli.context import Context, KbGroup


@click.group(cls=KbGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--root",
    envvar="KB_ROOT",
    type=click.Path(file_okay=False),
    default=None,
    help="The knowledge base folder (holding config.toml). Default: $KB_ROOT or the current folder.",
)
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
    ctx.call_on_close(ctx.obj.close)


entries.register(main)
users.register(main)
web.register(main)
feeds.register(main)
mail.register(main)
