"""Glimpse's engine: index photo and video folders and search them by meaning.

No Qt here: the CLI (``indexer.cli``) and the desktop app (``desktop``) are thin
shells over ``Library``.
"""

from indexer.config import Settings
from indexer.library import Library, LibraryError, ModelMismatch, Status
from indexer.pipeline import IndexReport, Progress
from indexer.query import Hit, Query

__all__ = ["Hit", "IndexReport", "Library", "LibraryError", "ModelMismatch", "Progress", "Query", "Settings",
           "Status"]
