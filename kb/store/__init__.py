"""The database: SQLite through sqlite-utils (`db`), every table defined in `migrations`."""

from kb.store.db import ENTRY_TABLES, Store

__all__ = ["ENTRY_TABLES", "Store"]
