"""The main window: wires the search bar, the results, the preview and the status bar.

Every engine call runs in a ``Worker`` (``workers.py``); a search's results carry its
generation and are dropped when a newer search has started. The background watcher's
callbacks are handled by ``background.py``.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import QApplication, QFileDialog, QMainWindow, QSplitter, QVBoxLayout, QWidget

from desktop.background import Background
from desktop.dialogs import LibraryDialog, SettingsDialog
from desktop.exporting import Exporter
from desktop.files import file_url, load_image
from desktop.indexstatus import IndexStatus
from desktop.modelsetup import ModelSetup
from desktop.preview import PREVIEW_SIDE, Preview
from desktop.results import ResultsView
from desktop.savedpanel import SavedPanel, SavedSearches
from desktop.searchbar import SearchBar
from desktop.workers import Worker, start
from indexer import PHOTO_EXTENSIONS, Hit, Library, Watcher


class MainWindow(QMainWindow):
    """Glimpse's window. ``searched`` fires with the hits shown after every search."""

    searched = Signal(list)
    indexed = Signal(object)

    def __init__(self, library: Library) -> None:
        super().__init__()
        self.library = library
        self.model_ready = False
        self._closing = False  # late results from background work are dropped once closing
        self._generation = 0  # of searches
        self._searching = self._search_again = False  # a search is running / another was asked for meanwhile
        self.last_search_ms = 0.0  # the last search's time in the engine (the typing pause follows it)
        self._preview_gen = 0
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
        self._show_start_page()
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
        self.bar.search_requested.connect(self.run_search)
        self.bar.threshold_changed.connect(self.results.apply_threshold)
        self.bar.add_folder.connect(self._pick_folder)
        self.results.current_hit.connect(self._preview)
        self.results.open_requested.connect(self.open_hit)
        self.results.more_like_this.connect(self.more_like_this)
        self.results.add_folder.connect(self._pick_folder)
        self.results.show_everything.connect(self.show_everything)
        self.results.selection_changed.connect(lambda n: n > 1 and self.status.say(f"{n} selected"))
        self.exporter = Exporter(self, self.status)
        self.results.export_requested.connect(self.export_files)
        self.results.moment_requested.connect(self.export_moment)
        self.preview.more_like_this.connect(self.more_like_this)
        self.saved_searches = SavedSearches(self)
        self.saved.open_requested.connect(self.open_saved)
        self.saved.save_requested.connect(self.save_search)
        self._menu_and_keys()
        self._expose()
        self._refresh_folders()

    def _menu_and_keys(self) -> None:
        menu = self.menuBar().addMenu("&Glimpse")
        menu.addAction("Add folder…", self._pick_folder)
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

    def _expose(self) -> None:
        """The parts scripts and tests drive, under the names they had when the window built them."""
        b, r, s = self.bar, self.results, self.status
        self.search_field, self.strength, self.kind, self.threshold = b.search_field, b.strength, b.kind, b.threshold
        self.chips, self.filters_button, self.text_filter = b.chips, b.filters_button, b.text_filter
        self.model, self.grid, self.pages, self.message = r.model, r.grid, r, r.message
        self.start_button, self.everything_button = r.start_button, r.everything_button
        self.status_text, self.progress, self.cancel_button, self.pause_button = (s.text, s.progress, s.cancel_button,
                                                                                  s.pause_button)

    @property
    def query_images(self) -> list[Path]:
        return self.bar.query_images

    @property
    def hits(self) -> list[Hit]:
        return self.results.hits

    def set_query_images(self, paths: list[Path]) -> None:
        self.bar.set_query_images(paths)

    def visible_hits(self) -> list[Hit]:
        return self.results.visible_hits()

    def select_row(self, row: int) -> None:
        self.results.select_row(row)

    def show_message(self, html: str, button: bool = False, everything: bool = False) -> None:
        self.results.show_message(html, button, everything)

    def import_model(self, folder: Path) -> None:
        self.setup.import_model(folder)

    # searching -------------------------------------------------------------------------------
    def _show_start_page(self) -> None:
        self.preview.hide()
        w = Worker(lambda: (self.library.roots(), self.library.status()))  # counts are SQL: off the UI thread
        w.signals.result.connect(lambda got: self._start_page(*got))
        start(w)

    def _start_page(self, roots: list, st) -> None:
        """The welcome or the library's counts; never over the model's failure, which says what to do
        first (the two are made in workers started together: the later used to win)."""
        if self._closing or self.bar.has_query() or self.setup.failed:
            return
        if not roots:
            self.show_message("<h2>Welcome to Glimpse</h2><p>Add a folder of photos or videos. Glimpse indexes it "
                              "in the background on this computer — nothing leaves it.</p>", button=True)
        else:
            self.show_message(f"<h3>{st.photos} photos and {st.videos} videos indexed</h3>"
                              "<p>Type what you are looking for, or drop an example image.</p>")

    def run_search(self) -> None:
        self.bar.stop_pending()
        self.bar.update_strength_visibility()
        q = self.bar.current_query()
        if q.is_empty():
            self._show_start_page()
            return
        if not self.model_ready:
            self.status.say("Loading model… your search will run when it is ready")
            return
        self._generation += 1
        if self._searching:  # one search at a time: the newest query runs when this one ends
            self._search_again = True
            return
        gen = self._generation
        self._searching, self._search_again = True, False
        w = Worker(self._search_and_remember, q)
        w.signals.result.connect(lambda got: self._searched(*got) if gen == self._generation else None)
        w.signals.error.connect(lambda e: self.status.say(f"Search failed: {e}"))
        w.signals.finished.connect(self._search_ended)
        start(w)

    def _search_ended(self) -> None:
        """Searches typed meanwhile are one: the field as it is now runs next (searches queued
        behind each other made typing at 100,000 items slower: bench/bench_gui.py)."""
        self._searching = False
        if self._search_again and not self._closing:
            self._search_again = False
            self.run_search()

    def _search_and_remember(self, q):
        """Off the UI thread: the search, then it joins the recent ones (kept in the library)."""
        t = time.perf_counter()
        hits = self.library.search(q)
        ms = (time.perf_counter() - t) * 1000
        self.library.searches.remember(q)
        return hits, self.library.searches.recent(), ms

    def _searched(self, hits, recent, ms: float) -> None:
        self.last_search_ms = ms
        self.bar.fit_pause(None if not self.status.cancel_button.isHidden() else ms)  # indexing: the full pause
        self.bar.set_recent(recent)
        self._show_hits(hits)

    # saved searches (the panel's own module) ------------------------------------------------------
    def refresh_saved(self) -> None:
        self.saved_searches.refresh()

    def save_search(self, name: str) -> None:
        self.saved_searches.save(name)

    def open_saved(self, name: str) -> None:
        self._generation += 1  # like a search: a late older result is dropped
        self.saved_searches.open(name, self._generation)

    def show_everything(self) -> None:
        """One click past "no good matches": the same query with no cutoff at all."""
        self.bar.show_all = True
        self.run_search()

    def more_like_this(self, hit: Hit) -> None:
        if hit.kind == "photo":
            self.bar.set_query_images([Path(hit.path)])
            self.bar.search_field.clear()
            self.run_search()

    def _show_hits(self, hits: list[Hit]) -> None:
        if self._closing:
            return
        nothing = getattr(hits, "no_good_matches", False)
        self.results.show_hits(hits, self.bar.threshold.value() / 100, months=self.bar.sort.currentIndex() > 0)
        if not hits:
            self.preview.hide()
            self.show_message("<h3>No good matches</h3><p>Nothing in your library stands out for these words more "
                              "than it would for made-up words.</p>" if nothing else
                              "<h3>Nothing found</h3><p>Try other words, or lower the minimum score.</p>",
                              everything=nothing)
        self.status.say("No good matches" if nothing else f"{len(hits)} results")
        self.searched.emit(hits)

    # the preview -----------------------------------------------------------------------------
    def _preview(self, hit: Hit) -> None:
        """The file's details and text are read off the UI thread; a newer selection wins."""
        others = [h for h in self.hits if h.path == hit.path and h.kind == "video"]
        self._preview_gen += 1
        gen = self._preview_gen
        still = hit.kind == "video" and not self.preview.plays_video()  # the moment's frame, where videos cannot play
        w = Worker(lambda: (self.library.file_info(hit.path), self.library.text_of(hit.path),
                            load_image(hit.path, PREVIEW_SIDE) if hit.kind == "photo" else
                            load_image(str(self.library.thumbnail(hit)), PREVIEW_SIDE) if still else None))
        w.signals.result.connect(lambda got: self._show_preview(hit, others, *got) if gen == self._preview_gen else None)
        w.signals.error.connect(lambda _e: self._show_preview(hit, others, None, None, None)
                                if gen == self._preview_gen else None)
        start(w)

    def _show_preview(self, hit: Hit, others: list[Hit], row, lines, image) -> None:
        if not self._closing:
            self.preview.show()
            self.preview.show_hit(hit, row, others, lines, image)

    def _show_scores(self, on: bool) -> None:
        self.qsettings.setValue("show_scores", on)
        self.results.show_scores = on
        self.results.show_hits(self.hits, self.bar.threshold.value() / 100, months=self.bar.sort.currentIndex() > 0)

    def _toggle_preview(self) -> None:
        self.preview.setVisible(not self.preview.isVisible())

    def open_hit(self, hit: Hit | None) -> None:
        if hit is not None:
            QDesktopServices.openUrl(file_url(hit.path))

    # taking results elsewhere (exporting.py) ------------------------------------------------------
    def export_files(self, paths: list[str], dest: Path | None = None) -> None:
        self.exporter.files(paths, dest)

    def export_moment(self, hit: Hit, as_clip: bool, dest: Path | None = None) -> None:
        self.exporter.moment(hit, as_clip, dest)

    # pictures and folders coming in ------------------------------------------------------------
    def paste_image(self) -> None:
        if self.bar.search_field.hasFocus() and QApplication.clipboard().text():
            self.bar.search_field.paste()
            return
        image = QApplication.clipboard().image()
        if image.isNull():
            return
        w = Worker(_save_pasted, image, self.library.folder / "pasted")  # a big screenshot takes a while to write
        w.signals.result.connect(lambda path: (self.bar.set_query_images([path]), self.run_search()))
        w.signals.error.connect(lambda e: self.status.say(f"Cannot use the pasted picture: {e}"))
        start(w)

    def dragEnterEvent(self, event) -> None:  # noqa: N802 (Qt naming)
        if event.mimeData().hasUrls() or event.mimeData().hasImage():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        self.handle_drop([Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()])
        event.acceptProposedAction()

    def handle_drop(self, paths: list[Path]) -> None:
        """Folders become library folders; image files become the query."""
        folders = [p for p in paths if p.is_dir()]
        images = [p for p in paths if p.is_file() and p.suffix.lower() in PHOTO_EXTENSIONS]
        if folders:
            self.add_folders(folders)
        if images:
            self.bar.set_query_images(images)
            self.run_search()

    def _pick_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder to Glimpse")
        if folder:
            self.add_folders([Path(folder)])

    def add_folders(self, folders: list[Path]) -> None:
        """New library folders (in a worker), then indexing starts; a folder that cannot be added says why."""
        self.status.busy("Adding the folder…")
        w = Worker(lambda: [self.library.add_root(f) for f in folders])
        w.signals.result.connect(lambda _: (self._refresh_folders(), self.start_indexing()))
        w.signals.error.connect(lambda e: (self.status.idle(), self.status.say(f"Cannot add the folder: {e}")))
        start(w)

    def _refresh_folders(self) -> None:
        w = Worker(lambda: [r.path for r in self.library.roots()])
        w.signals.result.connect(self.bar.set_folders)
        start(w)

    # background work (background.py) ------------------------------------------------------------
    def start_indexing(self) -> None:
        self.background.start()

    def stop_indexing(self, wait: bool = False) -> None:
        self.background.stop(wait)

    @property
    def watcher(self) -> Watcher | None:
        return self.background.watcher

    @property
    def _index_summary(self) -> str:
        return self.background.summary

    def _load_recent(self) -> None:
        w = Worker(self.library.searches.recent)
        w.signals.result.connect(lambda recent: not self._closing and self.bar.set_recent(recent))
        start(w)

    def _results_stale(self) -> None:
        """Something the results depend on changed: the search on screen runs again (or the start page)."""
        self.refresh_saved()  # new files can be new matches of saved searches
        if self.bar.has_query():
            self.run_search()
        elif self.results.currentIndex() == 1:
            self._show_start_page()

    # dialogs and persistence ------------------------------------------------------------------
    def show_library_dialog(self) -> LibraryDialog:
        dlg = LibraryDialog(self.library, self)
        dlg.folders_changed.connect(self._refresh_folders)
        dlg.folders_changed.connect(self.start_indexing)
        dlg.retry_requested.connect(self.start_indexing)
        dlg.show()
        return dlg

    def show_settings(self) -> None:
        dlg = SettingsDialog(self.library.settings, self.qsettings.value("watch", True, type=bool),
                             self.qsettings.value("poll", 300.0, type=float), self)
        if dlg.exec():
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
        self._closing = self.background.closing = True
        self._generation += 1
        self.results.close_down()
        self.qsettings.setValue("geometry", self.saveGeometry())
        self.qsettings.setValue("splitter", self.splitter.saveState())
        self.stop_indexing(wait=True)  # closing: let the current file's write finish before the library closes
        event.accept()


def _save_pasted(image, folder: Path) -> Path:
    """The clipboard's picture as a PNG in the library (a QImage may be saved from any thread)."""
    folder.mkdir(exist_ok=True, mode=0o700)
    fd, name = tempfile.mkstemp(suffix=".png", dir=folder)
    os.close(fd)
    if not image.save(name):
        raise OSError(f"could not write {name}")
    return Path(name)
