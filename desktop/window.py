"""The main window: wires the search bar, the results, the preview and the status bar.

Every engine call runs in a ``Worker`` (``workers.py``); a search's results carry its
generation and are dropped when a newer search has started. The background watcher's
callbacks are handled by ``background.py``.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import QMainWindow, QSplitter, QVBoxLayout, QWidget

from desktop.background import Background
from desktop.dialogs import LibraryDialog, SettingsDialog
from desktop.exporting import Exporter
from desktop.files import file_url
from desktop.incoming import Incoming
from desktop.indexstatus import IndexStatus
from desktop.modelsetup import ModelSetup
from desktop.preview import Preview, PreviewLoader
from desktop.results import ResultsView
from desktop.savedpanel import SavedPanel, SavedSearches
from desktop.searchbar import SearchBar
from desktop.searching import SearchRunner
from desktop.workers import Worker, start
from indexer import WATCH_POLL_S, Hit, Library, Watcher


class MainWindow(QMainWindow):
    """Glimpse's window. ``searched`` fires with the hits shown after every search."""

    searched = Signal(list)
    indexed = Signal(object)

    def __init__(self, library: Library) -> None:
        super().__init__()
        self.library = library
        self.qsettings = QSettings("Glimpse", "Glimpse")
        self.setWindowTitle("Glimpse")
        self.setAcceptDrops(True)
        self.resize(1200, 780)
        self._build()
        self.background = Background(self.library, self.status, self.qsettings, self)
        self.background.indexed.connect(self.indexed)
        self.background.results_stale.connect(self._results_stale)
        self.setup = ModelSetup(self)
        self._restore_geometry()
        self.runner.show_start_page()
        self.setup.load()
        self.refresh_saved()
        self._load_recent()

    # layout -------------------------------------------------------------------------------
    def _build(self) -> None:
        self.bar = SearchBar()
        self.results = ResultsView(self.library)
        self.preview = Preview(self)
        self.saved = SavedPanel()
        self.saved.hide()  # shown once there is a saved search
        self.splitter = QSplitter()
        self.splitter.addWidget(self.saved)
        self.splitter.addWidget(self.results)
        self.splitter.addWidget(self.preview)
        self.splitter.setSizes([180, 820, 380])
        central = QWidget()
        v = QVBoxLayout(central)
        v.addWidget(self.bar)
        v.addWidget(self.splitter, 1)
        self.setCentralWidget(central)
        self.status = IndexStatus(self.statusBar())
        self.runner = SearchRunner(self.library, self.bar, self.results, self.preview, self.status,
                                   lambda: self.setup.failed)
        self.runner.searched.connect(self.searched)
        self.previews = PreviewLoader(self.library, self.preview, lambda: self.hits)
        self.incoming = Incoming(self.library, self.bar, self.status, self)
        self.incoming.search.connect(self.run_search)
        self.incoming.folders_added.connect(lambda: (self.incoming.refresh_folders(), self.start_indexing()))
        self.bar.search_requested.connect(self.run_search)
        self.bar.threshold_changed.connect(self.results.apply_threshold)
        self.bar.add_folder.connect(self.incoming.pick_folder)
        self.results.current_hit.connect(self.previews.show)
        self.results.open_requested.connect(self.open_hit)
        self.results.more_like_this.connect(self.runner.more_like_this)
        self.results.add_folder.connect(self.incoming.pick_folder)
        self.results.show_everything.connect(self.runner.show_everything)
        self.status.everything_clicked.connect(self.runner.show_everything)
        self.results.selection_changed.connect(lambda n: n > 1 and self.status.say(f"{n} selected"))
        self.exporter = Exporter(self, self.status, self.library)
        self.results.export_requested.connect(self.exporter.files)
        self.results.moment_requested.connect(self.exporter.moment)
        self.preview.more_like_this.connect(self.runner.more_like_this)
        self.saved_searches = SavedSearches(self)
        self.saved.open_requested.connect(self.open_saved)
        self.saved.save_requested.connect(self.save_search)
        self._menu_and_keys()
        self.incoming.refresh_folders()

    def _menu_and_keys(self) -> None:
        menu = self.menuBar().addMenu("&Glimpse")
        menu.addAction("Add folder…", self.incoming.pick_folder)
        menu.addAction("Library and errors…", self.show_library_dialog)
        menu.addAction("Settings…", self.show_settings)
        menu.addAction("Import a downloaded model…", lambda: self.setup.pick_and_import())
        menu.addAction("Download the model", lambda: self.setup.download())
        menu.addSeparator()
        menu.addAction("Quit", QKeySequence.StandardKey.Quit, self.close)
        view = self.menuBar().addMenu("&View")
        scores = view.addAction("Scores on tiles")
        scores.setCheckable(True)
        scores.setChecked(self.qsettings.value("show_scores", True, type=bool))
        scores.toggled.connect(self._show_scores)
        self.results.show_scores = scores.isChecked()
        focus = QAction(self, shortcut=QKeySequence.StandardKey.Find, triggered=self.bar.search_field.setFocus)
        paste = QAction(self, shortcut=QKeySequence.StandardKey.Paste, triggered=self.paste_image)
        space = QAction(self, shortcut=QKeySequence(Qt.Key.Key_Space), triggered=self._toggle_preview)
        for a in (focus, paste, space):
            self.addAction(a)
        space.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.results.grid.addAction(space)

    @property
    def hits(self) -> list[Hit]:
        return self.results.hits

    def import_model(self, folder: Path) -> None:
        self.setup.import_model(folder)

    # searching (searching.py), the preview, pictures and folders coming in (incoming.py) ---------------
    @property
    def model_ready(self) -> bool:
        return self.runner.ready

    @model_ready.setter
    def model_ready(self, ready: bool) -> None:
        self.runner.ready = ready

    def run_search(self) -> None:
        self.runner.run()

    def refresh_saved(self) -> None:
        self.saved_searches.refresh()

    def save_search(self, name: str) -> None:
        self.saved_searches.save(name)

    def open_saved(self, name: str) -> None:
        self.saved_searches.open(name, self.runner.next_generation())  # like a search: a late older result is dropped

    def _show_scores(self, on: bool) -> None:
        self.qsettings.setValue("show_scores", on)
        self.results.show_scores = on
        self.results.show_hits(self.hits, self.bar.threshold.value() / 100, months=self.bar.sort.currentIndex() > 0)

    def _toggle_preview(self) -> None:
        self.preview.setVisible(not self.preview.isVisible())

    def open_hit(self, hit: Hit | None) -> None:
        if hit is not None:
            QDesktopServices.openUrl(file_url(hit.path))

    def paste_image(self) -> None:
        self.incoming.paste()

    def dragEnterEvent(self, event) -> None:  # noqa: N802 (Qt naming)
        if event.mimeData().hasUrls() or event.mimeData().hasImage():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        self.handle_drop([Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()])
        event.acceptProposedAction()

    def handle_drop(self, paths: list[Path]) -> None:
        self.incoming.drop(paths)

    def add_folders(self, folders: list[Path]) -> None:
        self.incoming.add_folders(folders)

    # background work (background.py) ------------------------------------------------------------
    def start_indexing(self) -> None:
        self.background.start()

    def stop_indexing(self, wait: bool = False) -> None:
        self.background.stop(wait)

    @property
    def watcher(self) -> Watcher | None:
        return self.background.watcher

    def _load_recent(self) -> None:
        w = Worker(self.library.searches.recent)
        w.signals.result.connect(lambda recent: not self.runner.closing and self.bar.set_recent(recent))
        start(w)

    def _results_stale(self) -> None:
        """Something the results depend on changed: the search on screen runs again (or the start page)."""
        self.refresh_saved()  # new files can be new matches of saved searches
        if self.bar.has_query():
            self.run_search()
        elif self.results.currentIndex() == 1:
            self.runner.show_start_page()

    # dialogs and persistence ------------------------------------------------------------------
    def show_library_dialog(self) -> LibraryDialog:
        dlg = LibraryDialog(self.library, self)
        dlg.folders_changed.connect(self.incoming.refresh_folders)
        dlg.folders_changed.connect(self.start_indexing)
        dlg.retry_requested.connect(self.start_indexing)
        dlg.show()
        return dlg

    def show_settings(self) -> SettingsDialog:
        """The settings, window-modal; what is chosen is applied when the person clicks OK."""
        dlg = SettingsDialog(self.library.settings, self.qsettings.value("watch", True, type=bool),
                             self.qsettings.value("poll", WATCH_POLL_S, type=float), self)
        dlg.accepted.connect(lambda: self._settings_chosen(dlg))
        dlg.open()
        return dlg

    def _settings_chosen(self, dlg: SettingsDialog) -> None:
        self.qsettings.setValue("watch", dlg.watch.isChecked())
        self.qsettings.setValue("poll", dlg.poll.value())
        self.setup.apply_settings(dlg.values())

    def _restore_geometry(self) -> None:
        geo = self.qsettings.value("geometry")
        if geo is not None:
            self.restoreGeometry(geo)
        split = self.qsettings.value("splitter")
        if split is not None:
            self.splitter.restoreState(split)

    def closeEvent(self, event) -> None:  # noqa: N802
        self.runner.closing = self.previews.closing = self.background.closing = True
        self.runner.next_generation()
        self.results.close_down()
        self.qsettings.setValue("geometry", self.saveGeometry())
        self.qsettings.setValue("splitter", self.splitter.saveState())
        self.stop_indexing(wait=True)  # closing: let the current file's write finish before the library closes
        event.accept()

