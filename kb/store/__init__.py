"""The databases: SQLite through sqlite-utils (`db`), state and cache in two files behind one
`Store`; every table, and the file it lives in, defined in `migrations`."""

from kb.store.db import ENTRY_TABLES, Store

__all__ = ["ENTRY_TABLES", "Store"]
