"""The engine's errors a user can act on; every message says what to do."""

from __future__ import annotations


class LibraryError(RuntimeError):
    """A problem the user can fix; the message says how."""


class ModelMismatch(LibraryError):
    """The library's vectors were made by another model than the one requested."""


class LibraryBusy(LibraryError):
    """Another process (or thread) is writing to this library."""


class WriteCancelled(LibraryBusy):
    """The caller cancelled while waiting for the write lock."""
