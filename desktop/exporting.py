"""Taking results elsewhere from the window: files copied to a folder, a video moment saved as a
clip or a still; the work in a ``Worker``, its progress and outcome in the status bar."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QWidget

from desktop.files import display
from desktop.indexstatus import IndexStatus
from desktop.workers import Worker, start
from indexer import Hit, Library, copy_files


class Exporter:
    def __init__(self, parent: QWidget, status: IndexStatus, library: Library) -> None:
        self.parent, self.status, self.library = parent, status, library
        self.running: Worker | None = None

    def files(self, paths: list[str], dest: Path | None = None) -> None:
        """Copy files into a folder (never overwriting), with progress; ``dest`` asked when not given."""
        dest = dest or self._ask(f"Copy {len(paths)} files to…")
        if dest is None:
            return
        w = Worker(copy_files, paths, dest, reports=True)
        w.signals.progress.connect(self.status.show_progress)
        w.signals.result.connect(lambda r: self._done(f"Copied {len(r.copied)} files to {display(str(dest))}" + (
            f"; {len(r.failed)} could not be copied: {r.failed[0][1]}" if r.failed else "")))
        w.signals.error.connect(lambda e: self._done(f"Export failed: {e}"))
        self.running = start(w)

    def moment(self, hit: Hit, as_clip: bool, dest: Path | None = None) -> None:
        """A video moment as a short clip (± 1 s) or its best frame as a JPEG."""
        dest = dest or self._ask("Save the moment to…")
        if dest is None:
            return
        w = Worker(self.library.views.moment, hit, as_clip, dest)  # the video decoded in a worker process
        self.status.busy("Saving the moment…")
        w.signals.result.connect(lambda out: self._done(f"Saved {display(str(out))}"))
        w.signals.error.connect(lambda e: self._done(f"Could not save the moment: {e}"))
        self.running = start(w)

    def _done(self, said: str) -> None:
        self.status.idle()
        self.status.say(said)

    def _ask(self, title: str) -> Path | None:
        folder = QFileDialog.getExistingDirectory(self.parent, title)
        return Path(folder) if folder else None
