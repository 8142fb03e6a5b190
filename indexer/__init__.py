"""Glimpse's engine: index photo and video folders and search them by meaning.

No Qt here: the CLI (``indexer.cli``) and the desktop app (``desktop``) are thin
shells over ``Library``.

The names below are imported when first used (PEP 562), so ``glimpse search`` loads the
search path only, not indexing, export, OCR or the watcher (bench/bench_cli.py).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from indexer.catalog import download_model, import_model, list_models
    from indexer.collector import settle as settle_collector
    from indexer.config import PHOTO_EXTENSIONS, VIDEO_EXTENSIONS, Settings, format_seconds
    from indexer.errors import LibraryBusy, LibraryError, ModelMismatch, WriteCancelled
    from indexer.explain import why_matched
    from indexer.export import ExportReport, clip, copy_files, still
    from indexer.filters import Filters
    from indexer.library import Library
    from indexer.logs import session as log_session
    from indexer.ordering import by_month as month_groups
    from indexer.passes import Progress
    from indexer.paths import display as display_path
    from indexer.paths import is_text as path_is_text
    from indexer.paths import printable as printable_path
    from indexer.pipeline import IndexReport
    from indexer.query import Query
    from indexer.rank import Hit
    from indexer.regions import region_name
    from indexer.saved import SavedSearch
    from indexer.status import Status
    from indexer.store import FileRow, TextRow
    from indexer.switching import ModelState
    from indexer.textpass import TextReport
    from indexer.watch import Watcher

_EXPORTS: dict[str, tuple[str, str]] = {
    "download_model": ("indexer.catalog", "download_model"),
    "import_model": ("indexer.catalog", "import_model"),
    "list_models": ("indexer.catalog", "list_models"),
    "settle_collector": ("indexer.collector", "settle"),
    "PHOTO_EXTENSIONS": ("indexer.config", "PHOTO_EXTENSIONS"),
    "VIDEO_EXTENSIONS": ("indexer.config", "VIDEO_EXTENSIONS"),
    "Settings": ("indexer.config", "Settings"),
    "format_seconds": ("indexer.config", "format_seconds"),
    "LibraryBusy": ("indexer.errors", "LibraryBusy"),
    "LibraryError": ("indexer.errors", "LibraryError"),
    "ModelMismatch": ("indexer.errors", "ModelMismatch"),
    "WriteCancelled": ("indexer.errors", "WriteCancelled"),
    "why_matched": ("indexer.explain", "why_matched"),
    "ExportReport": ("indexer.export", "ExportReport"),
    "clip": ("indexer.export", "clip"),
    "copy_files": ("indexer.export", "copy_files"),
    "still": ("indexer.export", "still"),
    "Filters": ("indexer.filters", "Filters"),
    "Library": ("indexer.library", "Library"),
    "log_session": ("indexer.logs", "session"),
    "month_groups": ("indexer.ordering", "by_month"),
    "Progress": ("indexer.passes", "Progress"),
    "display_path": ("indexer.paths", "display"),
    "path_is_text": ("indexer.paths", "is_text"),
    "printable_path": ("indexer.paths", "printable"),
    "IndexReport": ("indexer.pipeline", "IndexReport"),
    "Query": ("indexer.query", "Query"),
    "Hit": ("indexer.rank", "Hit"),
    "region_name": ("indexer.regions", "region_name"),
    "SavedSearch": ("indexer.saved", "SavedSearch"),
    "Status": ("indexer.status", "Status"),
    "FileRow": ("indexer.store", "FileRow"),
    "TextRow": ("indexer.store", "TextRow"),
    "ModelState": ("indexer.switching", "ModelState"),
    "TextReport": ("indexer.textpass", "TextReport"),
    "Watcher": ("indexer.watch", "Watcher"),
}
__all__ = [
    "ExportReport", "FileRow", "Filters", "Hit", "IndexReport", "Library", "LibraryBusy", "LibraryError",
    "ModelMismatch", "ModelState", "PHOTO_EXTENSIONS", "Progress", "Query", "SavedSearch", "Settings",
    "Status", "TextReport", "TextRow", "VIDEO_EXTENSIONS", "Watcher", "WriteCancelled", "clip", "copy_files",
    "display_path", "download_model", "format_seconds", "import_model", "list_models", "log_session",
    "month_groups", "path_is_text", "printable_path", "region_name", "settle_collector", "still", "why_matched",
]


def __getattr__(name: str) -> Any:
    """Import an exported name on first use."""
    try:
        module, attr = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'indexer' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value
