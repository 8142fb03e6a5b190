"""Thumbnails: made in a thread pool, cached on disk inside the library.

A video moment's thumbnail is the frame at its timestamp (its poster).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from PySide6.QtGui import QImage

SIZE = 192


def cache_path(folder: Path, path: str, mtime: float | None, ts: float | None) -> Path:
    key = hashlib.sha1(f"{path}|{mtime}|{ts}".encode()).hexdigest()
    return folder / key[:2] / f"{key}.jpg"


def make_thumbnail(path: str, ts: float | None, dest: Path) -> Path:
    """Write a JPEG thumbnail for a photo or a video frame; returns ``dest``."""
    if dest.exists():
        return dest
    if ts is not None:
        from indexer.video import frame_at

        img = frame_at(Path(path), ts, SIZE * 2)
    else:
        from indexer.decode import load_image

        img = load_image(Path(path), SIZE).image
    img.thumbnail((SIZE, SIZE))
    dest.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = dest.with_suffix(".tmp")
    img.save(tmp, "JPEG", quality=85)
    tmp.replace(dest)
    return dest


class _Signals(QObject):
    ready = Signal(str, QImage)


class _Job(QRunnable):
    def __init__(self, key: str, path: str, ts: float | None, dest: Path, signals: _Signals) -> None:
        super().__init__()
        self.key, self.path, self.ts, self.dest, self.signals = key, path, ts, dest, signals

    def run(self) -> None:
        try:
            out = make_thumbnail(self.path, self.ts, self.dest)
            self.signals.ready.emit(self.key, QImage(str(out)))
        except Exception:  # a file that vanished or cannot be read keeps its placeholder
            pass


class ThumbnailLoader(QObject):
    """Asks for thumbnails by key; ``ready(key, image)`` fires when one is available."""

    ready = Signal(str, QImage)

    def __init__(self, cache: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.cache = cache
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(2)
        self._signals = _Signals()
        self._signals.ready.connect(self.ready)

    def request(self, key: str, path: str, mtime: float | None, ts: float | None) -> None:
        dest = cache_path(self.cache, path, mtime, ts)
        self.pool.start(_Job(key, path, ts, dest, self._signals))
