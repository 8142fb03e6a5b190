"""The results: a grid of tiles (thumbnail, score, name), or a message page when there are none.

Thumbnails are made by ``Library.thumbnail`` in ``Worker``s on a small pool of their own
(so a page of them never queues behind a search); each carries the generation of the
results it was asked for, and one that arrives after newer results were shown is dropped.
"""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, QSize, Qt, QThreadPool, Signal
from PySide6.QtGui import QColor, QDesktopServices, QIcon, QImage, QPixmap, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QApplication, QLabel, QListView, QMenu, QPushButton, QStackedWidget, QVBoxLayout, QWidget

from desktop.files import display, folder_url, name_of
from desktop.workers import Worker, start
from indexer import Hit, Library, format_seconds

HIT_ROLE = Qt.ItemDataRole.UserRole + 1
THUMB_THREADS = 2


class ResultsView(QStackedWidget):
    """Page 0: the grid; page 1: a message (welcome, nothing found, no good matches)."""

    current_hit = Signal(object)  # the selected tile's Hit
    open_requested = Signal(object)
    more_like_this = Signal(object)
    add_folder = Signal()
    show_everything = Signal()

    def __init__(self, library: Library, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.library = library
        self.hits: list[Hit] = []
        self.generation = 0
        self.thumb_pool = QThreadPool(self)
        self.thumb_pool.setMaxThreadCount(THUMB_THREADS)
        blank = QPixmap(176, 176)
        blank.fill(QColor(230, 230, 230))  # a QPixmap starts as whatever memory held: fill it
        self.placeholder = QIcon(blank)
        self.model = QStandardItemModel(self)
        self.grid = QListView(viewMode=QListView.ViewMode.IconMode, resizeMode=QListView.ResizeMode.Adjust,
                              movement=QListView.Movement.Static, uniformItemSizes=True, wordWrap=True)
        self.grid.setIconSize(QSize(176, 176))
        self.grid.setGridSize(QSize(196, 224))
        self.grid.setSpacing(6)
        self.grid.setModel(self.model)
        self.grid.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.grid.customContextMenuRequested.connect(self._context_menu)
        self.grid.selectionModel().currentChanged.connect(
            lambda cur, _: cur.isValid() and self.current_hit.emit(cur.data(HIT_ROLE)))
        self.grid.activated.connect(lambda idx: self.open_requested.emit(idx.data(HIT_ROLE)))
        self.addWidget(self.grid)
        self.addWidget(self._message_page())

    def _message_page(self) -> QWidget:
        self.message = QLabel(alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True)
        self.message.setTextFormat(Qt.TextFormat.RichText)
        self.message.setOpenExternalLinks(False)
        self.start_button = QPushButton("Add a folder of photos…")
        self.start_button.clicked.connect(self.add_folder)
        self.everything_button = QPushButton("Show everything")
        self.everything_button.setToolTip("Show the closest photos and moments anyway, best first")
        self.everything_button.clicked.connect(self.show_everything)
        page = QWidget()
        lay = QVBoxLayout(page)
        lay.addStretch(1)
        lay.addWidget(self.message)
        lay.addWidget(self.start_button, 0, Qt.AlignmentFlag.AlignHCenter)
        lay.addWidget(self.everything_button, 0, Qt.AlignmentFlag.AlignHCenter)
        lay.addStretch(2)
        return page

    # showing -----------------------------------------------------------------------------------
    def show_hits(self, hits: list[Hit], threshold: float) -> None:
        """Replace the tiles; thumbnails of earlier results still on their way are dropped."""
        self.generation += 1
        self.thumb_pool.clear()
        self.hits = hits
        self.model.clear()
        placeholder = self.placeholder
        for i, h in enumerate(hits):
            label = f"{h.score:.2f}  {name_of(h.path)}"
            if h.kind == "video":
                label += f" @ {format_seconds(h.timestamp)}"
            item = QStandardItem(placeholder, label)
            item.setData(h, HIT_ROLE)
            item.setToolTip(display(h.path) + _date_line(h))
            item.setEditable(False)
            self.model.appendRow(item)
            self._request_thumbnail(i, h)
        self.apply_threshold(threshold)
        if hits:
            self.setCurrentIndex(0)
            self.grid.setCurrentIndex(self.model.index(0, 0))

    def _request_thumbnail(self, row: int, hit: Hit) -> None:
        gen = self.generation
        w = Worker(lambda: QImage(str(self.library.thumbnail(hit))))
        w.signals.result.connect(lambda image: self._set_thumbnail(gen, row, image))
        start(w, self.thumb_pool)  # errors (a file that vanished) keep the placeholder

    def _set_thumbnail(self, gen: int, row: int, image: QImage) -> None:
        if gen == self.generation and row < self.model.rowCount() and not image.isNull():
            self.model.item(row).setIcon(QIcon(QPixmap.fromImage(image)))

    def show_message(self, html: str, button: bool = False, everything: bool = False) -> None:
        self.message.setText(html)
        self.start_button.setVisible(button)
        self.everything_button.setVisible(everything)
        self.setCurrentIndex(1)

    def apply_threshold(self, threshold: float) -> None:
        for r in range(self.model.rowCount()):
            self.grid.setRowHidden(r, threshold > 0 and self.model.item(r).data(HIT_ROLE).score < threshold)

    def visible_hits(self) -> list[Hit]:
        return [self.model.item(r).data(HIT_ROLE) for r in range(self.model.rowCount()) if not self.grid.isRowHidden(r)]

    def select_row(self, row: int) -> None:
        self.grid.selectionModel().setCurrentIndex(self.model.index(row, 0),
                                                   QItemSelectionModel.SelectionFlag.ClearAndSelect)

    def close_down(self) -> None:
        """Closing: no thumbnail that is still being made lands after this."""
        self.generation += 1
        self.thumb_pool.clear()

    def _context_menu(self, pos) -> None:
        idx = self.grid.indexAt(pos)
        if not idx.isValid():
            return
        hit: Hit = idx.data(HIT_ROLE)
        menu = QMenu(self)
        menu.addAction("Open", lambda: self.open_requested.emit(hit))
        menu.addAction("Show in folder", lambda: QDesktopServices.openUrl(folder_url(hit.path)))
        menu.addAction("Copy path", lambda: QApplication.clipboard().setText(display(hit.path)))
        if hit.kind == "photo":
            menu.addAction("More like this", lambda: self.more_like_this.emit(hit))
        menu.exec(self.grid.viewport().mapToGlobal(pos))


def _date_line(h: Hit) -> str:
    """"taken 2024-03-05 14:02", or "file date …" when the picture carries no date of its own."""
    if h.when is None:
        return ""
    import datetime as dt

    when = dt.datetime.fromtimestamp(h.when).strftime("%Y-%m-%d %H:%M")
    return f"\n{'file date' if h.date_is_file_date else 'taken'} {when}"
