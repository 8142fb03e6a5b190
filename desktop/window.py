"""The main window: search bar, results grid, preview, library status.

It talks to the engine only through ``indexer.Library`` and runs every engine call
in a ``Worker``; results and progress arrive as signals.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from PySide6.QtCore import QDate, QItemSelectionModel, QObject, QSettings, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QDesktopServices,
    QIcon,
    QImage,
    QKeySequence,
    QPixmap,
    QStandardItem,
    QStandardItemModel,
)
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QMainWindow,
    QMenu,
    QProgressBar,
    QPushButton,
    QSlider,
    QSplitter,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop.dialogs import LibraryDialog, SettingsDialog
from desktop.files import display, file_url, folder_url, load_pixmap, name_of
from desktop.preview import Preview
from desktop.thumbs import ThumbnailLoader
from desktop.workers import Worker, start
from indexer import (
    PHOTO_EXTENSIONS,
    Filters,
    Hit,
    Library,
    Progress,
    Query,
    TextReport,
    Watcher,
    download_model,
    format_seconds,
    import_model,
)

HIT_ROLE = Qt.ItemDataRole.UserRole + 1
DEBOUNCE_MS = 300


class WatchBridge(QObject):
    """Carries the background watcher's callbacks (its own thread) to the UI thread."""

    progress = Signal(object)
    report = Signal(object)
    text = Signal(object)
    switch = Signal(object)
    error = Signal(str)


class MainWindow(QMainWindow):
    """Glimpse's window. ``searched`` fires with the hits shown after every search."""

    searched = Signal(list)
    indexed = Signal(object)

    def __init__(self, library: Library) -> None:
        super().__init__()
        self.library = library
        self.query_images: list[Path] = []
        self.hits: list[Hit] = []
        self._generation = 0
        self.watcher = None
        self._preview_gen = 0
        self._index_summary = ""
        self.bridge = WatchBridge(self)
        self.bridge.progress.connect(self._on_progress)
        self.bridge.report.connect(self._on_indexed)
        self.bridge.text.connect(self._on_text_read)
        self.bridge.switch.connect(self._on_switched)
        self.bridge.error.connect(lambda e: self.status_text.setText(f"Indexing problem: {e}"))
        self.qsettings = QSettings("Glimpse", "Glimpse")
        self.model_ready = False
        self._closing = False  # late results from background work are dropped once closing
        self.setWindowTitle("Glimpse")
        self.setAcceptDrops(True)
        self.resize(1200, 780)
        self.thumbs = ThumbnailLoader(library, self)
        self.thumbs.ready.connect(self._on_thumb)
        self._build()
        self._debounce = QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self._debounce.timeout.connect(self.run_search)
        self._restore_geometry()
        self._show_start_page()
        self._load_model()

    # layout -------------------------------------------------------------------------------
    def _build(self) -> None:
        self.search_field = QLineEdit(placeholderText="Describe a photo or moment — or drop an image here")
        self.search_field.setClearButtonEnabled(True)
        self.search_field.textChanged.connect(self._on_text_changed)
        self.search_field.returnPressed.connect(self.run_search)
        self.chips = QHBoxLayout()
        self.chips.setSpacing(4)
        self.kind = QComboBox()
        self.kind.addItems(["All", "Photos", "Videos"])
        self.kind.currentIndexChanged.connect(lambda _: self.run_search())
        self.strength = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=100, value=50)
        self.strength.setToolTip("How much the text changes the example image")
        self.strength.setFixedWidth(110)
        self.strength.valueChanged.connect(lambda _: self._debounce.start())
        self.strength_label = QLabel("Change strength")
        self.threshold = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=100, value=0)
        self.threshold.setFixedWidth(110)
        self.threshold.setToolTip("Hide results scoring below this")
        self.threshold.valueChanged.connect(self._apply_threshold)
        self.threshold_label = QLabel("Min score 0.00")
        pick = QToolButton(text="Image…")
        pick.setToolTip("Search with an example image")
        pick.clicked.connect(self._pick_image)
        add = QPushButton("Add folder…")
        add.clicked.connect(self._pick_folder)

        bar = QHBoxLayout()
        bar.addLayout(self.chips)
        bar.addWidget(self.search_field, 1)
        bar.addWidget(pick)
        bar.addWidget(self.strength_label)
        bar.addWidget(self.strength)
        bar.addWidget(self.kind)
        bar.addWidget(self.threshold_label)
        bar.addWidget(self.threshold)
        bar.addWidget(add)

        self.minus_field = QLineEdit(placeholderText="but not… (comma-separated)")
        self.minus_field.setToolTip("Steer away from these words, e.g. 'people, text'")
        self.minus_field.textChanged.connect(lambda _: self._debounce.start())
        self.filters_button = QToolButton(text="Filters", checkable=True)
        self.filters_row = QWidget(visible=False)
        self.filters_button.toggled.connect(self.filters_row.setVisible)
        fl = QHBoxLayout(self.filters_row)
        fl.setContentsMargins(0, 0, 0, 0)
        self.date_from, self.date_to = QDateEdit(calendarPopup=True), QDateEdit(calendarPopup=True)
        for d, default in ((self.date_from, QDate(1990, 1, 1)), (self.date_to, QDate.currentDate().addDays(1))):
            d.setDisplayFormat("yyyy-MM-dd")
            d.setDate(default)
            d.dateChanged.connect(lambda _: self._debounce.start())
        self.use_dates = QCheckBox("Taken between")
        self.use_dates.toggled.connect(lambda _: self._debounce.start())
        self.folder_filter = QComboBox()
        self.folder_filter.currentIndexChanged.connect(lambda _: self._debounce.start())
        self.camera_filter = QLineEdit(placeholderText="camera")
        self.camera_filter.setFixedWidth(120)
        self.camera_filter.textChanged.connect(lambda _: self._debounce.start())
        self.gps_filter = QCheckBox("Has location")
        self.gps_filter.toggled.connect(lambda _: self._debounce.start())
        self.text_filter = QCheckBox("Text in image")
        self.text_filter.setToolTip("Only pictures where Glimpse read some text")
        self.text_filter.toggled.connect(lambda _: self._debounce.start())
        for w in (self.use_dates, self.date_from, QLabel("and"), self.date_to, QLabel("Folder"), self.folder_filter,
                  self.camera_filter, self.gps_filter, self.text_filter):
            fl.addWidget(w)
        fl.addStretch(1)
        bar2 = QHBoxLayout()
        bar2.addWidget(QLabel("Not:"))
        bar2.addWidget(self.minus_field, 1)
        bar2.addWidget(self.filters_button)
        self._refresh_folder_filter()

        self.model = QStandardItemModel(self)
        self.grid = QListView(viewMode=QListView.ViewMode.IconMode, resizeMode=QListView.ResizeMode.Adjust,
                              movement=QListView.Movement.Static, uniformItemSizes=True, wordWrap=True)
        self.grid.setIconSize(QSize(176, 176))
        self.grid.setGridSize(QSize(196, 224))
        self.grid.setSpacing(6)
        self.grid.setModel(self.model)
        self.grid.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.grid.customContextMenuRequested.connect(self._context_menu)
        self.grid.selectionModel().currentChanged.connect(lambda cur, _: self._preview(cur))
        self.grid.activated.connect(lambda idx: self.open_hit(idx.data(HIT_ROLE)))
        self.message = QLabel(alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True)
        self.message.setTextFormat(Qt.TextFormat.RichText)
        self.message.setOpenExternalLinks(False)
        self.start_button = QPushButton("Add a folder of photos…")
        self.start_button.clicked.connect(self._pick_folder)
        self.everything_button = QPushButton("Show everything")
        self.everything_button.setToolTip("Show the closest photos and moments anyway, best first")
        self.everything_button.clicked.connect(self.show_everything)
        self._show_all = False
        msg_page = QWidget()
        lay = QVBoxLayout(msg_page)
        lay.addStretch(1)
        lay.addWidget(self.message)
        lay.addWidget(self.start_button, 0, Qt.AlignmentFlag.AlignHCenter)
        lay.addWidget(self.everything_button, 0, Qt.AlignmentFlag.AlignHCenter)
        lay.addStretch(2)
        self.pages = QStackedWidget()
        self.pages.addWidget(self.grid)
        self.pages.addWidget(msg_page)
        self.preview = Preview(self)
        self.preview.more_like_this.connect(self.more_like_this)
        self.splitter = QSplitter()
        self.splitter.addWidget(self.pages)
        self.splitter.addWidget(self.preview)
        self.splitter.setSizes([820, 380])

        central = QWidget()
        v = QVBoxLayout(central)
        v.addLayout(bar)
        v.addLayout(bar2)
        v.addWidget(self.filters_row)
        v.addWidget(self.splitter, 1)
        self.setCentralWidget(central)

        self.status_text = QLabel()
        self.progress = QProgressBar(maximumWidth=220, visible=False)
        self.cancel_button = QToolButton(text="Stop", visible=False)
        self.cancel_button.clicked.connect(self.stop_indexing)
        self.pause_button = QToolButton(text="Pause", checkable=True, visible=False)
        self.pause_button.toggled.connect(self.set_paused)
        self.statusBar().addWidget(self.status_text, 1)
        self.statusBar().addPermanentWidget(self.progress)
        self.statusBar().addPermanentWidget(self.pause_button)
        self.statusBar().addPermanentWidget(self.cancel_button)
        menu = self.menuBar().addMenu("&Glimpse")
        menu.addAction("Add folder…", self._pick_folder)
        menu.addAction("Library and errors…", self.show_library_dialog)
        menu.addAction("Settings…", self.show_settings)
        menu.addAction("Import a downloaded model…", self._import_model)
        menu.addAction("Download the model", self.download_model)
        menu.addSeparator()
        menu.addAction("Quit", QKeySequence.StandardKey.Quit, self.close)
        self._update_strength_visibility()

        focus = QAction(self, shortcut=QKeySequence.StandardKey.Find, triggered=self.search_field.setFocus)
        paste = QAction(self, shortcut=QKeySequence.StandardKey.Paste, triggered=self.paste_image)
        space = QAction(self, shortcut=QKeySequence(Qt.Key.Key_Space), triggered=self._toggle_preview)
        for a in (focus, paste, space):
            self.addAction(a)
        space.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.grid.addAction(space)

    # start-up --------------------------------------------------------------------------------
    def _show_start_page(self) -> None:
        self.preview.hide()
        if not self.library.roots():
            self.show_message("<h2>Welcome to Glimpse</h2><p>Add a folder of photos or videos. Glimpse indexes it "
                              "in the background on this computer — nothing leaves it.</p>", button=True)
        else:
            st = self.library.status()
            self.show_message(f"<h3>{st.photos} photos and {st.videos} videos indexed</h3>"
                              "<p>Type what you are looking for, or drop an example image.</p>")

    def _load_model(self) -> None:
        self.status_text.setText(f"Loading model {self.library.settings.model}…")
        # everything the first search needs, so that it answers at once
        w = Worker(lambda: (self.library.embedder, self.library.ann, self.library.query_bank()))
        w.signals.result.connect(self._model_loaded)
        w.signals.error.connect(self._model_failed)
        start(w)

    def _model_loaded(self, _: object) -> None:
        if self._closing:
            return
        self.model_ready = True
        self.status_text.setText("Ready")
        if self.library.roots():
            self.start_indexing()  # catch up with changes made while closed, then keep watching
        if self.search_field.text() or self.query_images:
            self.run_search()

    def _model_failed(self, err: str) -> None:
        if self._closing:
            return
        self.status_text.setText("The model could not be loaded")
        self.show_message(f"<h3>The model is not available</h3><p>{_html(err)}</p>"
                          "<p>Import a model folder (open_clip_config.json + weights) to continue.</p>")
        self.start_button.setText("Import a model folder…")
        self.start_button.show()
        self.start_button.clicked.disconnect()
        self.start_button.clicked.connect(self._import_model)
        self.message.setText(self.message.text() + "<p>Or, when online, use <i>Glimpse → Download the model</i>.</p>")

    def _import_model(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a downloaded open_clip model folder")
        if folder:
            self.import_model(Path(folder))

    def import_model(self, folder: Path) -> None:
        """Copy a downloaded model into the model cache and use it (in the background)."""
        self.status_text.setText(f"Importing the model in {folder}…")
        w = Worker(import_model, folder)
        w.signals.result.connect(self._use_model)
        w.signals.error.connect(lambda e: self.show_message(f"<h3>That model could not be imported</h3><p>{_html(e)}</p>"))
        start(w)

    def download_model(self) -> None:
        """Fetch this library's model (progress is busy-only: the hub reports to a terminal)."""
        spec = self.library.settings.model
        self.status_text.setText(f"Downloading {spec}… (once; after that Glimpse works offline)")
        self.progress.setRange(0, 0)
        self.progress.show()
        w = Worker(download_model, spec)
        w.signals.result.connect(lambda _: (self.progress.hide(), self._load_model()))
        w.signals.error.connect(lambda e: (self.progress.hide(), self._model_failed(e)))
        start(w)

    def _use_model(self, spec: str) -> None:
        w = Worker(lambda: self.library.update_settings(model=spec))  # waits its turn behind indexing
        w.signals.error.connect(lambda e: self.show_message(f"<h3>Model imported</h3><p>{_html(e)}</p>"))
        w.signals.result.connect(lambda _: (setattr(self, "model_ready", False), self._show_start_page(),
                                            self._load_model()))
        start(w)

    def show_message(self, html: str, button: bool = False, everything: bool = False) -> None:
        self.message.setText(html)
        self.start_button.setVisible(button)
        self.everything_button.setVisible(everything)
        self.pages.setCurrentIndex(1)

    def show_everything(self) -> None:
        """One click past "no good matches": the same query with no cutoff at all."""
        self._show_all = True
        self.run_search()

    # searching -------------------------------------------------------------------------------
    def current_filters(self) -> Filters:
        kind = ["all", "photo", "video"][self.kind.currentIndex()]
        if not self.filters_row.isVisible() and not self.filters_button.isChecked():
            return Filters(kind)
        after = before = None
        if self.use_dates.isChecked():
            after = self.date_from.dateTime().toSecsSinceEpoch()
            before = self.date_to.dateTime().toSecsSinceEpoch()
        choice = self.folder_filter.currentData()
        folder = self._folder_choices[choice] if choice is not None else None
        return Filters(kind, after, before, folder, self.camera_filter.text().strip() or None,
                       True if self.gps_filter.isChecked() else None,
                       has_text=True if self.text_filter.isChecked() else None)

    def current_query(self) -> Query:
        minus = tuple(t.strip() for t in self.minus_field.text().split(",") if t.strip())
        return Query(self.search_field.text().strip() or None, tuple(self.query_images), minus, 60, "all",
                     self.strength.value() / 100, min_score=0.0 if self._show_all else None,
                     filters=self.current_filters())

    def run_search(self) -> None:
        self._debounce.stop()
        self._update_strength_visibility()
        q = self.current_query()
        if q.is_empty():
            self._show_start_page()
            return
        if not self.model_ready:
            self.status_text.setText("Loading model… your search will run when it is ready")
            return
        self._generation += 1
        gen = self._generation
        w = Worker(self.library.search, q)
        w.signals.result.connect(lambda hits: self._show_hits(hits) if gen == self._generation else None)
        w.signals.error.connect(lambda e: self.status_text.setText(f"Search failed: {e}"))
        start(w)

    def more_like_this(self, hit: Hit) -> None:
        if hit.kind == "photo":
            self.set_query_images([Path(hit.path)])
            self.search_field.clear()
            self.run_search()

    def _show_hits(self, hits: list[Hit]) -> None:
        if self._closing:
            return
        self.hits = hits
        self.model.clear()
        placeholder = QIcon(QPixmap(176, 176))
        for i, h in enumerate(hits):
            label = f"{h.score:.2f}  {name_of(h.path)}"
            if h.kind == "video":
                label += f" @ {format_seconds(h.timestamp)}"
            item = QStandardItem(placeholder, label)
            item.setData(h, HIT_ROLE)
            item.setToolTip(display(h.path))
            item.setEditable(False)
            self.model.appendRow(item)
            self.thumbs.request(str(i), h)
        self.pages.setCurrentIndex(0 if hits else 1)
        if not hits and getattr(hits, "no_good_matches", False):
            self.preview.hide()
            self.show_message("<h3>No good matches</h3><p>Nothing in your library stands out for these words "
                              "more than it would for made-up words.</p>", everything=True)
        elif not hits:
            self.preview.hide()
            self.show_message("<h3>Nothing found</h3><p>Try other words, or lower the minimum score.</p>")
        self._apply_threshold()
        self.status_text.setText("No good matches" if getattr(hits, "no_good_matches", False) else f"{len(hits)} results")
        if hits:
            self.grid.setCurrentIndex(self.model.index(0, 0))
        self.searched.emit(hits)

    def visible_hits(self) -> list[Hit]:
        return [self.model.item(r).data(HIT_ROLE) for r in range(self.model.rowCount()) if not self.grid.isRowHidden(r)]

    def _apply_threshold(self) -> None:
        thr = self.threshold.value() / 100
        self.threshold_label.setText(f"Min score {thr:.2f}")
        for r in range(self.model.rowCount()):
            self.grid.setRowHidden(r, thr > 0 and self.model.item(r).data(HIT_ROLE).score < thr)

    def _on_thumb(self, key: str, image: QImage) -> None:
        if self._closing:
            return
        row = int(key)
        if row < self.model.rowCount() and not image.isNull():
            self.model.item(row).setIcon(QIcon(QPixmap.fromImage(image)))

    def _on_text_changed(self, _text: str) -> None:
        self._show_all = False
        self._update_strength_visibility()  # the slider appears as the words are typed, not after the search
        self._debounce.start()

    def _update_strength_visibility(self) -> None:
        composed = bool(self.query_images) and bool(self.search_field.text().strip())
        self.strength.setVisible(composed)
        self.strength_label.setVisible(composed)

    # query images -------------------------------------------------------------------------------
    def set_query_images(self, paths: list[Path]) -> None:
        self.query_images = paths
        while self.chips.count():
            self.chips.takeAt(0).widget().deleteLater()
        for p in paths:
            chip = QToolButton()
            chip.setIcon(QIcon(load_pixmap(str(p))))
            chip.setIconSize(QSize(28, 28))
            chip.setText(" ×")
            chip.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            chip.setToolTip(f"{display(str(p))}\nClick to remove")
            chip.clicked.connect(lambda _=False, p=p: self._remove_chip(p))
            self.chips.addWidget(chip)
        self._update_strength_visibility()

    def _remove_chip(self, p: Path) -> None:
        self.set_query_images([q for q in self.query_images if q != p])
        self.run_search()

    def _pick_image(self) -> None:
        exts = " ".join(f"*{e}" for e in sorted(PHOTO_EXTENSIONS))
        files, _ = QFileDialog.getOpenFileNames(self, "Search with an example image", "", f"Images ({exts})")
        if files:
            self.set_query_images([Path(f) for f in files])
            self.run_search()

    def paste_image(self) -> None:
        if self.search_field.hasFocus() and QApplication.clipboard().text():
            self.search_field.paste()
            return
        image = QApplication.clipboard().image()
        if image.isNull():
            return
        folder = self.library.folder / "pasted"
        folder.mkdir(exist_ok=True, mode=0o700)
        path = Path(tempfile.mkstemp(suffix=".png", dir=folder)[1])
        image.save(str(path))
        self.set_query_images([path])
        self.run_search()

    # drag and drop ------------------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:  # noqa: N802 (Qt naming)
        if event.mimeData().hasUrls() or event.mimeData().hasImage():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        self.handle_drop(paths)
        event.acceptProposedAction()

    def handle_drop(self, paths: list[Path]) -> None:
        """Folders become library folders; image files become the query."""
        folders = [p for p in paths if p.is_dir()]
        images = [p for p in paths if p.is_file() and p.suffix.lower() in PHOTO_EXTENSIONS]
        if folders:
            self.add_folders(folders)
        if images:
            self.set_query_images(images)
            self.run_search()

    # library ----------------------------------------------------------------------------------
    def _pick_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder to Glimpse")
        if folder:
            self.add_folders([Path(folder)])

    def add_folders(self, folders: list[Path]) -> None:
        for f in folders:
            self.library.add_root(f)
        self._refresh_folder_filter()
        self.start_indexing()

    def start_indexing(self) -> None:
        """Index now; the background watcher (started once) keeps the library current after."""
        if self.watcher is None:
            watch = self.qsettings.value("watch", True, type=bool)
            poll = self.qsettings.value("poll", 300.0, type=float)
            self.watcher = Watcher(self.library, poll_interval=poll, use_events=watch, settle=2.0,
                                                on_progress=self.bridge.progress.emit,
                                                on_report=self.bridge.report.emit, on_error=self.bridge.error.emit,
                                                on_text=self.bridge.text.emit, on_switch=self.bridge.switch.emit)
            self.watcher.start()
        else:
            self.watcher.refresh_roots()
        self.status_text.setText("Looking for photos and videos…")
        self.progress.setRange(0, 0)  # busy until the first progress event says more
        for w in (self.progress, self.pause_button, self.cancel_button):
            w.show()

    def set_paused(self, paused: bool) -> None:
        if self.watcher is None:
            return
        if paused:
            self.watcher.pause()
            self.pause_button.setText("Resume")
            self.status_text.setText("Indexing paused")
        else:
            self.watcher.resume()
            self.pause_button.setText("Pause")

    def stop_indexing(self, wait: bool = False) -> None:
        """Stop button: returns at once; the watcher finishes its current file by itself."""
        if self.watcher is not None:
            self.status_text.setText("Stopping… (everything indexed so far is kept)")
            self.watcher.stop(wait=wait)
            self.watcher = None

    def _on_progress(self, p: Progress) -> None:
        if self._closing:
            return
        busy = p.phase in ("scanning", "indexing", "re-embedding", "reading text")
        self.progress.setVisible(busy)
        self.pause_button.setVisible(busy)
        self.cancel_button.setVisible(busy)
        if p.phase == "scanning":
            self.progress.setRange(0, 0)
            self.status_text.setText(f"Looking for photos and videos… {p.done} found")
        elif p.phase == "indexing":
            self.progress.setRange(0, max(p.total, 1))
            self.progress.setValue(p.done)
            self.status_text.setText(f"Indexing {p.done}/{p.total} · {p.rate:.1f} files/s · ETA {format_seconds(p.eta)}"
                                     f" · {name_of(p.current or '')}"
                                     + (f" · {p.errors} errors" if p.errors else ""))
        elif p.phase == "re-embedding":
            self.progress.setRange(0, max(p.total, 1))
            self.progress.setValue(p.done)
            self.status_text.setText(f"Re-embedding for the new model {p.done}/{p.total} · {p.rate:.1f}/s · "
                                     f"ETA {format_seconds(p.eta)} (search uses the current model until then)")
        elif p.phase == "reading text":
            self.progress.setRange(0, max(p.total, 1))
            self.progress.setValue(p.done)
            self.status_text.setText(f"Reading text in pictures {p.done}/{p.total} · {p.rate:.1f}/s · "
                                     f"ETA {format_seconds(p.eta)} (search already works)")

    def _on_switched(self, report) -> None:
        if self._closing:
            return
        self._index_finished()
        if report.remaining == 0 and not report.cancelled:
            self._index_summary = f"Now using {self.library.settings.model}"
            self.status_text.setText(self._index_summary)
            if self.search_field.text() or self.query_images:
                self.run_search()  # the same words, answered by the new model

    def _on_text_read(self, report: TextReport) -> None:
        if self._closing:
            return
        self._index_finished()
        if report.with_text:
            self.status_text.setText(f"{self._index_summary} · read the text in {report.read} pictures, "
                                     f"words in {report.with_text}")
        else:
            self.status_text.setText(self._index_summary)
        if report.with_text and (self.search_field.text() or self.query_images):
            self.run_search()  # newly read words can change the results

    def _on_indexed(self, report: object) -> None:
        if self._closing:
            return
        r = report
        self._index_finished()
        if r.added or r.updated or r.removed or r.moved or r.errors:
            self.status_text.setText(f"Indexed: {r.added} new, {r.updated} changed, {r.moved} moved, "
                                     f"{r.removed} removed, {r.errors} could not be read")
        else:
            self.status_text.setText("Library is up to date")
        for root in r.offline_roots:
            self.status_text.setText(f"{display(root)} is offline; its photos are kept until it returns")
        for root in r.held_back:
            self.status_text.setText(f"Most of {display(root)} vanished at once; nothing was deleted")
        self._index_summary = self.status_text.text()  # shown again when the text pass ends
        self.indexed.emit(report)
        if self.search_field.text() or self.query_images:
            self.run_search()
        elif self.pages.currentIndex() == 1:
            self._show_start_page()

    def _index_finished(self) -> None:
        self.progress.hide()
        self.cancel_button.hide()
        self.pause_button.hide()

    # dialogs and persistence ------------------------------------------------------------------
    def _refresh_folder_filter(self) -> None:
        self.folder_filter.blockSignals(True)
        self.folder_filter.clear()
        self._folder_choices: list[str] = []  # exact paths; Qt only holds their index (names may not be text)
        self.folder_filter.addItem("Any folder", None)
        for r in self.library.roots():
            self.folder_filter.addItem(display(r.path), len(self._folder_choices))
            self._folder_choices.append(r.path)
        self.folder_filter.blockSignals(False)

    def show_library_dialog(self) -> LibraryDialog:
        dlg = LibraryDialog(self.library, self)
        dlg.folders_changed.connect(self._refresh_folder_filter)
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
            values = dlg.values()
            model = str(values.pop("model"))
            w = Worker(self._apply_settings, values, model)  # waits its turn behind indexing
            w.signals.error.connect(self.status_text.setText)
            w.signals.result.connect(self._settings_applied)
            start(w)

    def _apply_settings(self, values: dict, model: str):
        """Off the UI thread: settings, then a model change (a switch when the library has vectors)."""
        self.library.update_settings(**values)
        return self.library.change_model(model, wait=True) if model != self.library.settings.model else None

    def _settings_applied(self, state) -> None:
        if state is not None and state.target is not None:  # a switch: the watcher re-embeds, search goes on
            self.status_text.setText(f"Switching to {state.target_spec}: re-embedding in the background; "
                                     "search keeps using the current model until it is done")
            self.start_indexing()
            return
        self.model_ready = False
        self._load_model()  # the model reloads; its start catches up with indexing and reads text if now asked

    def _restore_geometry(self) -> None:
        geo = self.qsettings.value("geometry")
        if geo is not None:
            self.restoreGeometry(geo)
        split = self.qsettings.value("splitter")
        if split is not None:
            self.splitter.restoreState(split)

    # results ------------------------------------------------------------------------------------
    def _preview(self, index) -> None:
        """The file's details and text are read off the UI thread; a newer selection wins."""
        hit = index.data(HIT_ROLE) if index.isValid() else None
        if hit is None:
            return
        others = [h for h in self.hits if h.path == hit.path and h.kind == "video"]
        self._preview_gen += 1
        gen = self._preview_gen
        w = Worker(lambda: (self.library.file_info(hit.path), self.library.text_of(hit.path)))
        w.signals.result.connect(lambda got: self._show_preview(hit, others, *got) if gen == self._preview_gen else None)
        w.signals.error.connect(lambda _e: self._show_preview(hit, others, None, None) if gen == self._preview_gen else None)
        start(w)

    def _show_preview(self, hit: Hit, others: list[Hit], row, lines) -> None:
        if self._closing:
            return
        self.preview.show()
        self.preview.show_hit(hit, row, others, lines)

    def _toggle_preview(self) -> None:
        self.preview.setVisible(not self.preview.isVisible())

    def open_hit(self, hit: Hit | None) -> None:
        if hit is not None:
            QDesktopServices.openUrl(file_url(hit.path))

    def _context_menu(self, pos) -> None:
        idx = self.grid.indexAt(pos)
        if not idx.isValid():
            return
        hit: Hit = idx.data(HIT_ROLE)
        menu = QMenu(self)
        menu.addAction("Open", lambda: self.open_hit(hit))
        menu.addAction("Show in folder", lambda: QDesktopServices.openUrl(folder_url(hit.path)))
        menu.addAction("Copy path", lambda: QApplication.clipboard().setText(display(hit.path)))
        if hit.kind == "photo":
            menu.addAction("More like this", lambda: self.more_like_this(hit))
        menu.exec(self.grid.viewport().mapToGlobal(pos))

    def select_row(self, row: int) -> None:
        self.grid.selectionModel().setCurrentIndex(self.model.index(row, 0),
                                                   QItemSelectionModel.SelectionFlag.ClearAndSelect)

    def closeEvent(self, event) -> None:  # noqa: N802
        self._closing = True
        self._generation += 1
        self.thumbs.pool.clear()
        self.qsettings.setValue("geometry", self.saveGeometry())
        self.qsettings.setValue("splitter", self.splitter.saveState())
        self.stop_indexing(wait=True)  # closing: let the current file's write finish before the library closes
        event.accept()


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\n", "<br>")


