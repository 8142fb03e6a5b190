"""The search bar: words, example images, strength, kind, minimum score, "not" words and filters.

It holds no engine state: ``current_query()`` builds the ``Query`` the window runs, and
``search_requested`` fires when one should run (debounced while typing, at once for a
click). Example images are chips that a click removes.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QDate, QDateTime, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QSlider,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop.files import display
from indexer import PHOTO_EXTENSIONS, Filters, Query

DEBOUNCE_MS = 300  # the longest typing pause before a search runs
CHIP_SIDE = 28  # px: an example image in the search bar
# The pause follows how long the library's searches take: on a fast library a search runs
# almost as the keys are typed (stale results are dropped by generation), on a slow one
# keystrokes do not queue searches behind each other. Chosen with bench/bench_gui.py at
# 100,000 items (AMD EPYC, 2 cores; 12 queries each): a pause of 1.5 / 1.0 / 0.5 / 0 times
# the search time gave last key -> painted p50 97 / 73 / 72 / 83 ms (worst 195 / 206 / 89 / 91)
# typing a key every 120 ms, and 132 / 78 / 84 / 85 (worst 173 / 324 / 117 / 114) every 70 ms.
ADAPTIVE = True
PAUSE_PER_SEARCH = 0.5
MIN_PAUSE_MS = 30
RESULTS = 60


class SearchBar(QWidget):
    """Two rows of query controls and a hidden row of filters."""

    search_requested = Signal()
    threshold_changed = Signal(float)
    add_folder = Signal()
    chip_pictures_wanted = Signal(list)  # example images whose chips wait for their picture (decoded off the UI thread)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.query_images: list[Path] = []
        self._chip_of: dict[Path, QToolButton] = {}
        self.show_all = False  # "Show everything" after "No good matches": no cutoff for this query
        self._folders: list[str] = []  # exact paths; the combo box only holds their index
        self._debounce = QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self._debounce.timeout.connect(self.search_requested)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(self._first_row())
        lay.addLayout(self._second_row())
        lay.addWidget(self._filters())
        self.update_strength_visibility()

    # layout -------------------------------------------------------------------------------
    def _first_row(self) -> QHBoxLayout:
        self.search_field = QLineEdit(placeholderText="Describe a photo or moment — or drop an image here")
        self.search_field.setClearButtonEnabled(True)
        self.search_field.textChanged.connect(self._on_text_changed)
        self.search_field.returnPressed.connect(self.search_requested)
        self.chips = QHBoxLayout()
        self.chips.setSpacing(4)
        self.kind = QComboBox()
        self.kind.addItems(["All", "Photos", "Videos"])
        self.kind.currentIndexChanged.connect(lambda _: self.search_requested.emit())
        self.sort = QComboBox()
        self.sort.addItems(["Relevance", "Newest", "Oldest"])
        self.sort.setToolTip("The same results, best first or by date (taken, else the file's date)")
        self.sort.currentIndexChanged.connect(lambda _: self.search_requested.emit())
        self.strength = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=100, value=50)
        self.strength.setToolTip("How much the text changes the example image")
        self.strength.setFixedWidth(110)
        self.strength.valueChanged.connect(lambda _: self.request())
        self.strength_label = QLabel("Change strength")
        self.threshold = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=100, value=0)
        self.threshold.setFixedWidth(110)
        self.threshold.setToolTip("Hide results scoring below this")
        self.threshold.valueChanged.connect(self._on_threshold)
        self.threshold_label = QLabel("Min score 0.00")
        pick = QToolButton(text="Image…")
        pick.setToolTip("Search with an example image")
        pick.clicked.connect(self._pick_image)
        add = QPushButton("Add folder…")
        add.clicked.connect(self.add_folder)
        self.recent_button = QToolButton(text="Recent", popupMode=QToolButton.ToolButtonPopupMode.InstantPopup)
        self.recent_button.setToolTip("Your last searches: words, example images, strength and filters")
        self.recent_menu = QMenu(self.recent_button)
        self.recent_button.setMenu(self.recent_menu)
        self.recent: list[Query] = []  # filled by the window after each search (from the library)
        row = QHBoxLayout()
        row.addWidget(self.recent_button)
        row.addLayout(self.chips)
        row.addWidget(self.search_field, 1)
        for w in (pick, self.strength_label, self.strength, self.kind, self.sort, self.threshold_label, self.threshold,
                  add):
            row.addWidget(w)
        return row

    def _second_row(self) -> QHBoxLayout:
        self.minus_field = QLineEdit(placeholderText="but not… (comma-separated)")
        self.minus_field.setToolTip("Steer away from these words, e.g. 'people, text'")
        self.minus_field.textChanged.connect(lambda _: self.request())
        self.filters_button = QToolButton(text="Filters", checkable=True)
        row = QHBoxLayout()
        row.addWidget(QLabel("Not:"))
        row.addWidget(self.minus_field, 1)
        row.addWidget(self.filters_button)
        return row

    def _filters(self) -> QWidget:
        self.filters_row = QWidget(visible=False)
        self.filters_button.toggled.connect(self.filters_row.setVisible)
        self.date_from, self.date_to = QDateEdit(calendarPopup=True), QDateEdit(calendarPopup=True)
        for d, default in ((self.date_from, QDate(1990, 1, 1)), (self.date_to, QDate.currentDate().addDays(1))):
            d.setDisplayFormat("yyyy-MM-dd")
            d.setDate(default)
            d.dateChanged.connect(lambda _: self.request())
        self.use_dates = QCheckBox("Taken between")
        self.folder_filter = QComboBox()
        self.folder_filter.addItem("Any folder", None)
        self.camera_filter = QLineEdit(placeholderText="camera")
        self.camera_filter.setFixedWidth(120)
        self.camera_filter.textChanged.connect(lambda _: self.request())
        self.gps_filter = QCheckBox("Has location")
        self.text_filter = QCheckBox("Text in image")
        self.text_filter.setToolTip("Only pictures where Glimpse read some text")
        for box in (self.use_dates, self.gps_filter, self.text_filter):
            box.toggled.connect(lambda _: self.request())
        self.folder_filter.currentIndexChanged.connect(lambda _: self.request())
        fl = QHBoxLayout(self.filters_row)
        fl.setContentsMargins(0, 0, 0, 0)
        for w in (self.use_dates, self.date_from, QLabel("and"), self.date_to, QLabel("Folder"), self.folder_filter,
                  self.camera_filter, self.gps_filter, self.text_filter):
            fl.addWidget(w)
        fl.addStretch(1)
        return self.filters_row

    # the query ------------------------------------------------------------------------------
    def request(self) -> None:
        """A search soon (typing goes on): the debounce restarts."""
        self._debounce.start()

    def fit_pause(self, search_ms: float | None) -> None:
        """The typing pause after a search that took ``search_ms`` in the engine; None while the
        library indexes: the full pause, since searches as typed then slow the indexing and
        the window (the responsive-window test saw the UI thread held for 116 ms)."""
        if ADAPTIVE:
            ms = DEBOUNCE_MS if search_ms is None else PAUSE_PER_SEARCH * search_ms
            self._debounce.setInterval(int(min(DEBOUNCE_MS, max(MIN_PAUSE_MS, ms))))

    def stop_pending(self) -> None:
        self._debounce.stop()

    def current_filters(self) -> Filters:
        kind = ["all", "photo", "video"][self.kind.currentIndex()]
        if not self.filters_row.isVisible() and not self.filters_button.isChecked():
            return Filters(kind)
        after = before = None
        if self.use_dates.isChecked():
            after = self.date_from.dateTime().toSecsSinceEpoch()
            before = self.date_to.dateTime().toSecsSinceEpoch()
        choice = self.folder_filter.currentData()
        folder = self._folders[choice] if choice is not None else None
        return Filters(kind, after, before, folder, self.camera_filter.text().strip() or None,
                       True if self.gps_filter.isChecked() else None,
                       has_text=True if self.text_filter.isChecked() else None)

    def current_query(self) -> Query:
        minus = tuple(t.strip() for t in self.minus_field.text().split(",") if t.strip())
        return Query(self.search_field.text().strip() or None, images=tuple(self.query_images), minus=minus,
                     limit=RESULTS, strength=self.strength.value() / 100, min_score=0.0 if self.show_all else None,
                     filters=self.current_filters(), sort=self.sort.currentText().lower())

    def has_query(self) -> bool:
        return bool(self.search_field.text() or self.query_images)

    def set_folders(self, roots: list[str]) -> None:
        """The library's folders, for the folder filter (shown readable, kept exact)."""
        self.folder_filter.blockSignals(True)
        self.folder_filter.clear()
        self._folders = list(roots)
        self.folder_filter.addItem("Any folder", None)
        for i, r in enumerate(self._folders):
            self.folder_filter.addItem(display(r), i)
        self.folder_filter.blockSignals(False)

    def set_recent(self, queries: list[Query]) -> None:
        self.recent = queries
        self.recent_menu.clear()
        for q in queries:
            self.recent_menu.addAction(q.describe(), lambda q=q: (self.set_query(q), self.search_requested.emit()))
        self.recent_button.setEnabled(bool(queries))

    def set_query(self, q: Query) -> None:
        """Put a query back in the bar (a recent or saved search), without searching meanwhile."""
        widgets = (self.search_field, self.minus_field, self.strength, self.kind, self.sort, self.use_dates,
                   self.date_from, self.date_to, self.folder_filter, self.camera_filter, self.gps_filter,
                   self.text_filter, self.filters_button)
        for w in widgets:
            w.blockSignals(True)
        try:
            f = q.effective_filters()
            self.search_field.setText(q.text or "")
            self.minus_field.setText(", ".join(q.minus))
            self.strength.setValue(round(q.strength * 100))
            self.kind.setCurrentIndex(["all", "photo", "video"].index(f.kind))
            self.sort.setCurrentIndex(["relevance", "newest", "oldest"].index(q.sort))
            self.use_dates.setChecked(f.after is not None)
            if f.after is not None:
                self.date_from.setDateTime(QDateTime.fromSecsSinceEpoch(int(f.after)))
            if f.before is not None:
                self.date_to.setDateTime(QDateTime.fromSecsSinceEpoch(int(f.before)))
            self.folder_filter.setCurrentIndex(self._folders.index(f.folder) + 1 if f.folder in self._folders else 0)
            self.camera_filter.setText(f.camera or "")
            self.gps_filter.setChecked(bool(f.has_gps))
            self.text_filter.setChecked(bool(f.has_text))
            filtered = Filters(f.kind) != f
            self.filters_button.setChecked(filtered)
            self.filters_row.setVisible(filtered)
        finally:
            for w in widgets:
                w.blockSignals(False)
        self.set_query_images([Path(str(p)) for p in q.images])

    # example images -------------------------------------------------------------------------
    def set_query_images(self, paths: list[Path]) -> None:
        self.query_images = paths
        while self.chips.count():
            self.chips.takeAt(0).widget().deleteLater()
        self._chip_of = {}
        for p in paths:
            chip = self._chip_of[p] = QToolButton()
            chip.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_FileIcon))  # until its picture comes
            chip.setIconSize(QSize(CHIP_SIDE, CHIP_SIDE))
            chip.setText(" ×")
            chip.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            chip.setToolTip(f"{display(str(p))}\nClick to remove")
            chip.clicked.connect(lambda _=False, p=p: self._remove_chip(p))
            self.chips.addWidget(chip)
        self.update_strength_visibility()
        if paths:
            self.chip_pictures_wanted.emit(list(paths))

    def set_chip_picture(self, path: Path, image: QImage) -> None:
        """An example's picture, decoded off the UI thread by the library (a file that crashes its decoder
        crashes a worker process, never the window) at chip size (HiDPI: twice)."""
        chip = self._chip_of.get(path)
        if chip is not None and not image.isNull():
            chip.setIcon(QIcon(QPixmap.fromImage(image)))

    def _remove_chip(self, p: Path) -> None:
        self.set_query_images([q for q in self.query_images if q != p])
        self.search_requested.emit()

    def _pick_image(self) -> None:
        exts = " ".join(f"*{e}" for e in sorted(PHOTO_EXTENSIONS))
        files, _ = QFileDialog.getOpenFileNames(self, "Search with an example image", "", f"Images ({exts})")
        if files:
            self.set_query_images([Path(f) for f in files])
            self.search_requested.emit()

    # reactions ------------------------------------------------------------------------------
    def _on_text_changed(self, _text: str) -> None:
        self.show_all = False
        self.update_strength_visibility()  # the slider appears as the words are typed, not after the search
        self.request()

    def _on_threshold(self, value: int) -> None:
        self.threshold_label.setText(f"Min score {value / 100:.2f}")
        self.threshold_changed.emit(value / 100)

    def update_strength_visibility(self) -> None:
        composed = bool(self.query_images) and bool(self.search_field.text().strip())
        self.strength.setVisible(composed)
        self.strength_label.setVisible(composed)
