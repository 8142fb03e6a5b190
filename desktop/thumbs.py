"""Thumbnails, made off the UI thread by ``Library.thumbnail`` (cached in the library).

A video moment's thumbnail is the frame at its timestamp (its poster).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from PySide6.QtGui import QImage

from indexer import Hit, Library


class _Signals(QObject):
    ready = Signal(str, QImage)


class _Job(QRunnable):
    def __init__(self, library: Library, key: str, hit: Hit, signals: _Signals) -> None:
        super().__init__()
        self.library, self.key, self.hit, self.signals = library, key, hit, signals

    def run(self) -> None:
        try:
            out = self.library.thumbnail(self.hit)
            self.signals.ready.emit(self.key, QImage(str(out)))
        except Exception:  # a file that vanished or cannot be read keeps its placeholder
            pass


class ThumbnailLoader(QObject):
    """Asks for thumbnails by key; ``ready(key, image)`` fires when one is available."""

    ready = Signal(str, QImage)

    def __init__(self, library: Library, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.library = library
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(2)
        self._signals = _Signals()
        self._signals.ready.connect(self.ready)

    def request(self, key: str, hit: Hit) -> None:
        self.pool.start(_Job(self.library, key, hit, self._signals))
