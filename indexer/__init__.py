"""Glimpse's engine: index photo and video folders and search them by meaning.

No Qt here: the CLI (``indexer.cli.main``) and the desktop app (``desktop``) are thin
shells over ``Library``.

The names below are imported when first used (PEP 562), so ``glimpse search`` loads the
search path only, not indexing, export, OCR or the watcher (bench/bench_cli.py).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from indexer.base.collector import settle as settle_collector
    from indexer.base.config import (
        PHOTO_EXTENSIONS,
        VIDEO_EXTENSIONS,
        Settings,
        format_seconds,
        library_location,
    )
    from indexer.base.environment import WATCH_POLL_S, WATCH_SETTLE_S, Env
    from indexer.base.environment import value as env_value
    from indexer.base.errors import LibraryBusy, LibraryError, ModelMismatch, WriteCancelled
    from indexer.base.filters import Filters
    from indexer.base.logs import session as log_session
    from indexer.base.paths import display as display_path
    from indexer.base.paths import is_text as path_is_text
    from indexer.base.paths import printable as printable_path
    from indexer.base.progress import Phase, Progress
    from indexer.indexing.pipeline import IndexReport
    from indexer.indexing.status import Status
    from indexer.indexing.switching import ModelState
    from indexer.indexing.text_pass import TextReport
    from indexer.library.library import Library
    from indexer.media.export import ExportReport, clip, copy_files, still
    from indexer.media.regions import region_name
    from indexer.model.catalog import download_model, import_model, list_models
    from indexer.search.explain import why_matched
    from indexer.search.ordering import by_month as month_groups
    from indexer.search.query import Query
    from indexer.search.rank import Hit, SearchOptions
    from indexer.search.saved import SavedSearch
    from indexer.store.database import FileRow, TextRow
    from indexer.upkeep.watch import Watcher

_EXPORTS: dict[str, tuple[str, str]] = {
    "download_model": ("indexer.model.catalog", "download_model"),
    "import_model": ("indexer.model.catalog", "import_model"),
    "list_models": ("indexer.model.catalog", "list_models"),
    "settle_collector": ("indexer.base.collector", "settle"),
    "PHOTO_EXTENSIONS": ("indexer.base.config", "PHOTO_EXTENSIONS"),
    "VIDEO_EXTENSIONS": ("indexer.base.config", "VIDEO_EXTENSIONS"),
    "Settings": ("indexer.base.config", "Settings"),
    "format_seconds": ("indexer.base.config", "format_seconds"),
    "library_location": ("indexer.base.config", "library_location"),
    "Env": ("indexer.base.environment", "Env"),
    "env_value": ("indexer.base.environment", "value"),
    "WATCH_POLL_S": ("indexer.base.environment", "WATCH_POLL_S"),
    "WATCH_SETTLE_S": ("indexer.base.environment", "WATCH_SETTLE_S"),
    "LibraryBusy": ("indexer.base.errors", "LibraryBusy"),
    "LibraryError": ("indexer.base.errors", "LibraryError"),
    "ModelMismatch": ("indexer.base.errors", "ModelMismatch"),
    "WriteCancelled": ("indexer.base.errors", "WriteCancelled"),
    "why_matched": ("indexer.search.explain", "why_matched"),
    "ExportReport": ("indexer.media.export", "ExportReport"),
    "clip": ("indexer.media.export", "clip"),
    "copy_files": ("indexer.media.export", "copy_files"),
    "still": ("indexer.media.export", "still"),
    "Filters": ("indexer.base.filters", "Filters"),
    "Library": ("indexer.library.library", "Library"),
    "log_session": ("indexer.base.logs", "session"),
    "month_groups": ("indexer.search.ordering", "by_month"),
    "Phase": ("indexer.base.progress", "Phase"),
    "Progress": ("indexer.base.progress", "Progress"),
    "display_path": ("indexer.base.paths", "display"),
    "path_is_text": ("indexer.base.paths", "is_text"),
    "printable_path": ("indexer.base.paths", "printable"),
    "IndexReport": ("indexer.indexing.pipeline", "IndexReport"),
    "Query": ("indexer.search.query", "Query"),
    "Hit": ("indexer.search.rank", "Hit"),
    "SearchOptions": ("indexer.search.rank", "SearchOptions"),
    "region_name": ("indexer.media.regions", "region_name"),
    "SavedSearch": ("indexer.search.saved", "SavedSearch"),
    "Status": ("indexer.indexing.status", "Status"),
    "FileRow": ("indexer.store.database", "FileRow"),
    "TextRow": ("indexer.store.database", "TextRow"),
    "ModelState": ("indexer.indexing.switching", "ModelState"),
    "TextReport": ("indexer.indexing.text_pass", "TextReport"),
    "Watcher": ("indexer.upkeep.watch", "Watcher"),
}
__all__ = [
    "Env", "WATCH_POLL_S", "WATCH_SETTLE_S", "env_value", "ExportReport", "FileRow", "Filters", "Hit", "IndexReport",
    "Library", "LibraryBusy", "LibraryError",
    "ModelMismatch", "ModelState", "PHOTO_EXTENSIONS", "Phase", "Progress", "Query", "SavedSearch", "SearchOptions", "Settings",
    "Status", "TextReport", "TextRow", "VIDEO_EXTENSIONS", "Watcher", "WriteCancelled", "clip", "copy_files",
    "display_path", "library_location", "download_model", "format_seconds", "import_model",
    "list_models", "log_session",
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
