"""The engine's errors a user can act on; every message says what to do."""

from __future__ import annotations

import sqlite3
from pathlib import Path


class LibraryError(RuntimeError):
    """A problem the user can fix; the message says how."""


class ModelMismatch(LibraryError):
    """The library's vectors were made by another model than the one requested."""


class LibraryBusy(LibraryError):
    """Another process (or thread) is writing to this library."""


class WriteCancelled(LibraryBusy):
    """The caller cancelled while waiting for the write lock."""


class ExportFailed(LibraryError):
    """A result could not be written where the user asked (nothing is left behind); the message says why."""


class StoreError(RuntimeError):
    """The database cannot be opened or written; the message says why in plain words."""


def explain_sqlite(e: sqlite3.OperationalError, path: Path) -> str:
    msg = str(e)
    if "full" in msg:
        return f"the disk holding {path.parent} is full; free some space and run again (nothing was lost)"
    if "readonly" in msg or "read-only" in msg:
        return f"the library at {path.parent} is read-only; choose another with --library"
    if "locked" in msg:
        return f"another Glimpse process is writing to {path.parent}; try again when it finishes"
    return f"database error in {path}: {msg}"
