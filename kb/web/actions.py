"""What staff views do after a change: record it in the audit log, and bring the database,
the search index and the catalogue up to date at once."""

from __future__ import annotations

from typing import Any

from kb.accounts import Accounts
from kb.files.lock import write_lock
from kb.sync import update_index
from kb.web.auth import signed_in_user
from kb.web.state import catalog, state


def actor() -> str:
    user = signed_in_user()
    return user.email if user else "unknown"


def audit(action: str, target: str, **detail: Any) -> None:
    Accounts(state().workspace.store, state().cfg.accounts).log(actor(), action, target, detail)


def reindex() -> None:
    """Bring the database and search index up to date at once, then let the catalogue notice."""
    with write_lock(state().cfg.entries_dir):
        update_index(state().workspace)
    catalog().refresh()
