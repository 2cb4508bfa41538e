"""What staff views do after a change: record it in the audit log, and bring the database,
the search index and the catalogue up to date at once."""

from __future__ import annotations

import logging
from typing import Any

from kb.accounts import Accounts
from kb.sync import update_index
from kb.web.auth import signed_in_user
from kb.web.state import state

log = logging.getLogger(__name__)


def actor() -> str:
    user = signed_in_user()
    return user.email if user else "unknown"


def audit(action: str, target: str, **detail: Any) -> None:
    Accounts(state().workspace.store, state().cfg.accounts).log(actor(), action, target, detail)


def index_after_write() -> str | None:
    """Bring the database and index up to date after a file was written. The file is the truth
    and is saved already: if the index cannot be updated now (busy, a damaged index, a full
    disk), the save still stands and the next index update catches up, because the file's
    size, time and hash changed. Returns a note for the user in that case."""
    try:
        update_index(state().workspace)
    except Exception:  # noqa: BLE001 - logged; the save itself succeeded
        log.exception("the search index could not be updated after a save")
        return (
            "The file is saved. The search index could not be updated just now, so search and feeds "
            "will show the change after the next index update (kb index, or the next save)."
        )
    return None
