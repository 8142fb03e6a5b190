"""Pictures and folders coming into the window: pasted, dropped or picked. Folders become library
folders (indexing starts), pictures become the query."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QApplication, QFileDialog, QWidget

from desktop.indexstatus import IndexStatus
from desktop.searchbar import SearchBar
from desktop.workers import Worker, start
from indexer import PHOTO_EXTENSIONS, Library


class Incoming(QObject):
    """``search`` fires when the query's pictures changed; ``folders_added`` once new folders are in the library."""

    search = Signal()
    folders_added = Signal()

    def __init__(self, library: Library, bar: SearchBar, status: IndexStatus, parent: QWidget) -> None:
        super().__init__(parent)
        self.library, self.bar, self.status, self._parent = library, bar, status, parent

    def paste(self) -> None:
        if self.bar.search_field.hasFocus() and QApplication.clipboard().text():
            self.bar.search_field.paste()
            return
        image = QApplication.clipboard().image()
        if image.isNull():
            return
        w = Worker(_save_pasted, image, self.library.folder / "pasted")  # a big screenshot takes a while to write
        w.signals.result.connect(lambda path: self._query_images([path]))
        w.signals.error.connect(lambda e: self.status.say(f"Cannot use the pasted picture: {e}"))
        start(w)

    def drop(self, paths: list[Path]) -> None:
        """Folders become library folders; image files become the query."""
        folders = [p for p in paths if p.is_dir()]
        images = [p for p in paths if p.is_file() and p.suffix.lower() in PHOTO_EXTENSIONS]
        if folders:
            self.add_folders(folders)
        if images:
            self._query_images(images)

    def pick_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self._parent, "Add a folder to Glimpse")
        if folder:
            self.add_folders([Path(folder)])

    def add_folders(self, folders: list[Path]) -> None:
        """New library folders (in a worker), then indexing starts; a folder that cannot be added says why."""
        self.status.busy("Adding the folder…")
        w = Worker(lambda: [self.library.add_root(f) for f in folders])
        w.signals.result.connect(lambda _: self.folders_added.emit())
        w.signals.error.connect(lambda e: (self.status.idle(), self.status.say(f"Cannot add the folder: {e}")))
        start(w)

    def refresh_folders(self) -> None:
        """The search bar's folder filter lists the library's folders (read off the UI thread)."""
        w = Worker(lambda: [r.path for r in self.library.roots()])
        w.signals.result.connect(self.bar.set_folders)
        start(w)

    def _query_images(self, paths: list[Path]) -> None:
        self.bar.set_query_images(paths)
        self.search.emit()


def _save_pasted(image, folder: Path) -> Path:
    """The clipboard's picture as a PNG in the library (a QImage may be saved from any thread)."""
    folder.mkdir(exist_ok=True, mode=0o700)
    fd, name = tempfile.mkstemp(suffix=".png", dir=folder)
    os.close(fd)
    if not image.save(name):
        raise OSError(f"could not write {name}")
    return Path(name)

