"""What every `kb` command shares: the knowledge base it works on, progress bars, and the
rule that a user's mistake is one line on stderr and exit status 1, never a traceback.

Any other error (a bug) is one line too, naming the log file that holds its traceback:
`var/log/kb-errors.log` in the knowledge base, or a new file in the temporary folder when
there is no usable var folder.
"""

from __future__ import annotations

import errno
import os
import shlex
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from kb import clock
from kb import config as _config
from kb.errors import KbError
from kb.workspace import Workspace

ERROR_LOG = "kb-errors.log"  # in var/log/
ERROR_LOG_MAX = 1024 * 1024  # bytes; a bigger log is moved to kb-errors.log.1 first


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

    def close(self) -> None:
        """Close the workspace, if a command opened it (its database and index files)."""
        if self._ws is not None:
            self._ws.close()
            self._ws = None


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
    """Turns user-fixable errors into a message and exit 1, and any other error into one line
    naming the log file that holds its traceback, and exit 1. Never a traceback on the terminal."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta["kb.args"] = list(args)  # for the error log
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KbError as exc:
            raise click.ClickException(str(exc)) from exc
        except (click.ClickException, click.exceptions.Exit, click.Abort, EOFError):
            raise  # click's own: usage errors, --help, Ctrl-C and Ctrl-D
        except OSError as exc:
            if exc.errno == errno.EPIPE:
                raise  # output piped to a program that stopped reading: click exits quietly
            raise unexpected(ctx, exc) from exc
        except Exception as exc:
            raise unexpected(ctx, exc) from exc


def unexpected(ctx: click.Context, exc: Exception) -> click.ClickException:
    """One line for an error nobody foresaw; its traceback goes to the error log."""
    header = f"{clock.now()} {ctx.command_path} {shlex.join(ctx.meta.get('kb.args', []))}\n"
    where = _save(header + "".join(traceback.format_exception(exc)) + "\n", _log_dir(ctx))
    text = "".join(ch if ch.isprintable() else "?" for ch in " ".join(str(exc).split()))
    text = text if len(text) <= 200 else text[:197] + "..."
    return click.ClickException(f"unexpected {type(exc).__name__}: {text or '(no message)'}; {where}")


def _log_dir(ctx: click.Context) -> Path | None:
    """`var/log` of the knowledge base, when its settings can be read."""
    obj = ctx.find_object(Context)
    try:
        return obj.cfg.var_dir / "log" if obj else None
    except Exception:  # the settings are broken too: the temporary folder will do
        return None


def _save(text: str, folder: Path | None) -> str:
    """Append `text` to the error log in `folder`, else write it to a new temporary file; say where."""
    for write in ([lambda: _append(folder, text)] if folder else []) + [lambda: _temporary(text)]:
        try:
            path = write()
        except OSError:
            continue
        try:
            return f"details in {path.relative_to(Path.cwd())}"
        except (OSError, ValueError):
            return f"details in {path}"
    return "the details could not be saved"


def _append(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / ERROR_LOG
    if path.is_file() and path.stat().st_size > ERROR_LOG_MAX:
        path.replace(path.with_name(ERROR_LOG + ".1"))
    with path.open("a", encoding="utf-8", errors="backslashreplace") as f:
        f.write(text)
    return path


def _temporary(text: str) -> Path:
    fd, name = tempfile.mkstemp(prefix="kb-error-", suffix=".log")  # a new file only this user can read
    with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as f:
        f.write(text)
    return Path(name)
