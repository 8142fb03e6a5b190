"""Glimpse's engine: index photo and video folders and search them by meaning.

No Qt here: the CLI (``indexer.cli``) and the desktop app (``desktop``) are thin
shells over ``Library``.
"""

from indexer.catalog import download_model, import_model, list_models
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

__all__ = ["PHOTO_EXTENSIONS", "VIDEO_EXTENSIONS", "ExportReport", "FileRow", "Filters", "Hit", "IndexReport", "Library",
           "LibraryBusy", "LibraryError", "ModelMismatch", "ModelState", "Progress", "Query", "SavedSearch", "Settings", "Status",
           "TextReport", "TextRow", "Watcher", "WriteCancelled", "clip", "copy_files", "display_path", "download_model",
           "format_seconds", "import_model", "list_models", "log_session", "month_groups", "path_is_text",
           "printable_path", "region_name", "still", "why_matched"]
