"""What every `kb` command shares: the knowledge base it works on, progress bars, and the
rule that a user's mistake is one line on stderr and exit status 1, never a traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

from kb import config as _config
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
