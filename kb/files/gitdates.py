"""When each entry file's content last changed, from git, where `entries/` is in a git repository.

A note's "last changed" date (and its feed item's `updated`) is when its content last changed,
never when an index happened to be built: on a fresh install of a knowledge base kept in git,
each note is dated by its last commit, not all by the day of the first `kb index`. Only files
that match their last commit are dated this way; a file edited since (a save in the browser,
say) is dated by the moment the knowledge base first sees that content. Without git, or if git
fails, nothing is returned and that rule applies to every file.
"""

from __future__ import annotations

import datetime as dt
import logging
import subprocess
from pathlib import Path

log = logging.getLogger(__name__)
GIT_SECONDS = 10.0
FEW = 50  # file names passed to git one by one; more, and the folder is asked about as a whole


def _git(folder: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=GIT_SECONDS, check=True
    )
    return done.stdout


def committed_dates(folder: Path, names: list[str] | None = None) -> dict[str, str]:
    """File name -> the date (UTC, ISO 8601 to the second) of the last commit that touched it, for
    each file in `folder` (or only `names`) that git tracks and that has not changed since then.
    A few names (a save) ask git about those files alone, not the folder's whole history."""
    paths = names if names is not None and len(names) <= FEW else ["."]
    try:
        prefix = _git(folder, "rev-parse", "--show-prefix").strip()
        history = _git(folder, "log", "--format=%x00%cI", "--name-only", "--relative", "--", *paths)
        status = _git(folder, "status", "--porcelain", "-z", "--untracked-files=all", "--", *paths)
    except (OSError, subprocess.SubprocessError) as exc:
        log.debug("no git dates for %s: %s", folder, exc)
        return {}
    dates: dict[str, str] = {}
    when = ""
    for line in history.splitlines():
        if line.startswith("\x00"):
            moment = dt.datetime.fromisoformat(line[1:])
            when = moment.astimezone(dt.UTC).isoformat(timespec="seconds")
        elif line and when and line not in dates:  # newest commit first
            dates[line] = when
    for record in status.split("\x00"):
        changed = record[3:]
        if changed.startswith(prefix):
            dates.pop(changed[len(prefix) :], None)
    return dates
