"""The results: a grid of tiles (thumbnail, score, name), or a message page when there are none.

Thumbnails are made by ``Library.thumbnail`` in ``Worker``s on a small pool of their own
(so a page of them never queues behind a search); each carries the generation of the
results it was asked for, and one that arrives after newer results were shown is dropped.
"""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import QItemSelectionModel, QMimeData, QSize, Qt, QThreadPool, Signal
from PySide6.QtGui import QColor, QDesktopServices, QIcon, QImage, QPixmap, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QApplication, QLabel, QListView, QMenu, QPushButton, QStackedWidget, QVBoxLayout, QWidget

from desktop.files import display, file_url, folder_url, name_of
from desktop.workers import Worker, each, start
from indexer import Hit, Library, format_seconds, month_groups

HIT_ROLE = Qt.ItemDataRole.UserRole + 1
THUMB_THREADS = 2
ADD_FOLDER = "Add a folder of photos…"


class HitModel(QStandardItemModel):
    """Tiles that drag out as files: the selection becomes ``file://`` URLs (each file once)."""

    def mimeTypes(self) -> list[str]:  # noqa: N802 (Qt naming)
        return ["text/uri-list"]

    def mimeData(self, indexes) -> QMimeData:  # noqa: N802
        data = QMimeData()
        paths = dict.fromkeys(h.path for i in indexes if (h := i.data(HIT_ROLE)) is not None)
        data.setUrls([file_url(p) for p in paths])
        data.setText("\n".join(display(p) for p in paths))
        return data

    def supportedDragActions(self):  # noqa: N802
        return Qt.DropAction.CopyAction


class ResultsView(QStackedWidget):
    """Page 0: the grid; page 1: a message (welcome, nothing found, no good matches)."""

    current_hit = Signal(object)  # the selected tile's Hit
    selection_changed = Signal(int)  # how many tiles are selected
    export_requested = Signal(list)  # paths to copy to a folder
    moment_requested = Signal(object, bool)  # a video Hit; True: as a clip, False: its frame
    open_requested = Signal(object)
    more_like_this = Signal(object)
    add_folder = Signal()
    show_everything = Signal()

    def __init__(self, library: Library, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.library = library
        self.hits: list[Hit] = []
        self.generation = 0
        self.show_scores = True  # on each tile, or only in its tooltip (View menu)
        self.thumb_pool = QThreadPool(self)
        self.thumb_pool.setMaxThreadCount(THUMB_THREADS)
        self._thumb_workers: list = []  # loading the current list's thumbnails (cancelled by the next list)
        blank = QPixmap(176, 176)
        blank.fill(QColor(230, 230, 230))  # a QPixmap starts as whatever memory held: fill it
        self.placeholder = QIcon(blank)
        self.model = HitModel(self)
        self.grid = QListView(viewMode=QListView.ViewMode.IconMode, resizeMode=QListView.ResizeMode.Adjust,
                              movement=QListView.Movement.Static, uniformItemSizes=True, wordWrap=True)
        # click, shift-click, ctrl-click, ctrl-A, rubber band; the selection drags out as files
        self.grid.setSelectionMode(QListView.SelectionMode.ExtendedSelection)
        self.grid.setDragEnabled(True)
        self.grid.setDragDropMode(QListView.DragDropMode.DragOnly)
        self.grid.setDefaultDropAction(Qt.DropAction.CopyAction)
        self.grid.setIconSize(QSize(176, 176))
        self.grid.setGridSize(QSize(196, 224))
        self.grid.setSpacing(6)
        self.grid.setModel(self.model)
        self.grid.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.grid.customContextMenuRequested.connect(self._context_menu)
        self._filling = False  # the tiles are being replaced: the current tile moving meanwhile is no choice
        self.grid.selectionModel().currentChanged.connect(self._current_changed)
        self.grid.selectionModel().selectionChanged.connect(
            lambda *_: self.selection_changed.emit(len(self.selected_hits())))
        self.grid.activated.connect(lambda idx: self.open_requested.emit(idx.data(HIT_ROLE)))
        self.addWidget(self.grid)
        self.addWidget(self._message_page())

    def _message_page(self) -> QWidget:
        self.message = QLabel(alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True)
        self.message.setTextFormat(Qt.TextFormat.RichText)
        self.message.setOpenExternalLinks(False)
        self.start_button = QPushButton(ADD_FOLDER)
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

    def _current_changed(self, cur, _previous) -> None:
        if not self._filling and cur.isValid() and cur.data(HIT_ROLE) is not None:
            self.current_hit.emit(cur.data(HIT_ROLE))

    # showing -----------------------------------------------------------------------------------
    def show_hits(self, hits: list[Hit], threshold: float, months: bool = False) -> None:
        """Replace the tiles; thumbnails of earlier results still on their way are dropped.

        ``months``: the hits are in date order; each month starts with a header tile
        ("March 2024 · 14") that cannot be selected or dragged."""
        self.generation += 1
        self.thumb_pool.clear()
        for w in self._thumb_workers:
            w.cancel.set()
        jobs: list[tuple[int, Hit]] = []
        self.hits = hits
        # Clearing moved the current tile through every old row, each a preview started and
        # dropped: ~15 ms of the UI thread per search as typed (bench/bench_gui.py, cProfile).
        self._filling = True
        try:
            self.model.clear()
            self.model.invisibleRootItem().appendRows(self._tiles(hits, months, jobs))  # one insertion, not one per tile
        finally:
            self._filling = False
        self._request_thumbnails(jobs)
        self.apply_threshold(threshold)
        if hits:
            self.setCurrentIndex(0)
            first = next(r for r in range(self.model.rowCount()) if self.model.item(r).data(HIT_ROLE) is not None)
            self.grid.setCurrentIndex(self.model.index(first, 0))

    def _tiles(self, hits: list[Hit], months: bool, jobs: list[tuple[int, Hit]]) -> list[QStandardItem]:
        """One tile per hit (and a header per month); ``jobs`` gets (row, hit) for the thumbnails."""
        tiles: list[QStandardItem] = []
        for label, group in month_groups(hits) if months else [("", hits)]:
            if label:
                tiles.append(_header(label))
            for h in group:
                item = QStandardItem(self.placeholder, self._label(h))
                item.setData(h, HIT_ROLE)
                item.setToolTip(display(h.path) + _date_line(h) + f"\nscore {h.score:.3f}")
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled)
                jobs.append((len(tiles), h))
                tiles.append(item)
        return tiles

    def _label(self, h: Hit) -> str:
        """Two lines: [score] name [@ moment] / date (taken, or the file's, marked) [· "text"]."""
        first = (f"{h.score:.2f}  " if self.show_scores else "") + name_of(h.path)
        if h.kind == "video":
            first += f"  ▶ {format_seconds(h.timestamp)}"
        second = _short_date(h)
        if h.text:
            second += f"  · “{h.text[:18]}”"
        return f"{first}\n{second}" if second else first

    def _request_thumbnails(self, jobs: list[tuple[int, Hit]]) -> None:
        """Thumbnails for these rows, in ``THUMB_THREADS`` workers, top rows first.

        A few workers per result list, not one per tile: making 60 workers and their signal
        objects on the UI thread for every search blocked it for over 100 ms while a library
        was indexing and the words were searched as typed (tests/desktop/test_responsive.py).
        """
        gen = self.generation
        self._thumb_workers = []
        for part in (jobs[i::THUMB_THREADS] for i in range(THUMB_THREADS)):
            if part:
                w = Worker(each, part, self._thumbnail, reports=True)
                w.signals.progress.connect(lambda got: self._set_thumbnail(gen, *got))
                self._thumb_workers.append(start(w, self.thumb_pool))

    def _thumbnail(self, job: tuple[int, Hit]) -> tuple[int, QImage]:
        """Off the UI thread (``each``: a file that cannot be shown keeps its placeholder)."""
        row, hit = job
        return row, QImage(str(self.library.views.thumbnail(hit)))

    def _set_thumbnail(self, gen: int, row: int, image: QImage) -> None:
        if gen == self.generation and row < self.model.rowCount() and not image.isNull():
            self.model.item(row).setIcon(QIcon(QPixmap.fromImage(image)))

    def set_start_button(self, text: str, action) -> None:
        """The message page's button does something else (import a model while none can be loaded)."""
        self.start_button.setText(text)
        self.start_button.clicked.disconnect()
        self.start_button.clicked.connect(action)

    def reset_start_button(self) -> None:
        """The button adds a folder again, as on a first start."""
        if self.start_button.text() != ADD_FOLDER:
            self.set_start_button(ADD_FOLDER, self.add_folder)

    def show_message(self, html: str, button: bool = False, everything: bool = False) -> None:
        self.message.setText(html)
        self.start_button.setVisible(button)
        self.everything_button.setVisible(everything)
        self.setCurrentIndex(1)

    def apply_threshold(self, threshold: float) -> None:
        for r in range(self.model.rowCount()):
            h = self.model.item(r).data(HIT_ROLE)
            self.grid.setRowHidden(r, h is not None and threshold > 0 and h.score < threshold)

    def visible_hits(self) -> list[Hit]:
        return [h for r in range(self.model.rowCount())
                if not self.grid.isRowHidden(r) and (h := self.model.item(r).data(HIT_ROLE)) is not None]

    def selected_hits(self) -> list[Hit]:
        rows = sorted(i.row() for i in self.grid.selectionModel().selectedIndexes())
        return [h for r in rows if (h := self.model.item(r).data(HIT_ROLE)) is not None]

    def select_row(self, row: int) -> None:
        """Select the ``row``-th result (header tiles not counted)."""
        rows = [r for r in range(self.model.rowCount()) if self.model.item(r).data(HIT_ROLE) is not None]
        self.grid.selectionModel().setCurrentIndex(self.model.index(rows[row], 0),
                                                   QItemSelectionModel.SelectionFlag.ClearAndSelect)

    def close_down(self) -> None:
        """Closing: no thumbnail that is still being made lands after this."""
        self.generation += 1
        self.thumb_pool.clear()

    def _context_menu(self, pos) -> None:
        idx = self.grid.indexAt(pos)
        if not idx.isValid():
            return
        hit: Hit | None = idx.data(HIT_ROLE)
        if hit is None:
            return
        chosen = self.selected_hits() if hit in self.selected_hits() else [hit]
        paths = list(dict.fromkeys(h.path for h in chosen))
        menu = QMenu(self)
        menu.addAction("Open", lambda: self.open_requested.emit(hit))
        menu.addAction("Show in folder", lambda: QDesktopServices.openUrl(folder_url(hit.path)))
        menu.addAction("Copy path" if len(paths) == 1 else f"Copy {len(paths)} paths",
                       lambda: QApplication.clipboard().setText("\n".join(display(p) for p in paths)))
        menu.addAction("Export…" if len(paths) == 1 else f"Export {len(paths)} files…",
                       lambda: self.export_requested.emit(paths))
        if hit.kind == "video":
            menu.addAction("Export this moment as a clip…", lambda: self.moment_requested.emit(hit, True))
            menu.addAction("Save this frame…", lambda: self.moment_requested.emit(hit, False))
        if hit.kind == "photo":
            menu.addAction("More like this", lambda: self.more_like_this.emit(hit))
        menu.exec(self.grid.viewport().mapToGlobal(pos))


def _header(label: str) -> QStandardItem:
    """A month's header tile in date order: text only, not selectable, not draggable."""
    item = QStandardItem(label)
    item.setFlags(Qt.ItemFlag.ItemIsEnabled)
    font = item.font()
    font.setBold(True)
    font.setPointSizeF(font.pointSizeF() * 1.2)
    item.setFont(font)
    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
    return item


def _short_date(h: Hit) -> str:
    day = _when(h, "%Y-%m-%d")
    return f"{day} (file)" if day and h.date_is_file_date else day


def _date_line(h: Hit) -> str:
    """"taken 2024-03-05 14:02", or "file date …" when the picture carries no date of its own."""
    when = _when(h, "%Y-%m-%d %H:%M")
    return f"\n{'file date' if h.date_is_file_date else 'taken'} {when}" if when else ""


def _when(h: Hit, fmt: str) -> str:
    return dt.datetime.fromtimestamp(h.when).strftime(fmt) if h.when is not None else ""
