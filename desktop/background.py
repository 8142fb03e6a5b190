"""The window's background work: one ``Watcher`` indexing, re-embedding for a new model,
finding regions in large photos and reading text, its progress in the status bar, and what each pass's end means for the window.

The watcher calls back from its own thread; ``WatchBridge``'s signals carry that to the UI
thread. ``results_stale`` tells the window that a search on screen may now answer differently.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QSettings, Signal

from desktop.files import display
from desktop.indexstatus import IndexStatus
from indexer import WATCH_POLL_S, WATCH_SETTLE_S, IndexReport, Library, Progress, TextReport, Watcher


class WatchBridge(QObject):
    """Carries the background watcher's callbacks (its own thread) to the UI thread."""

    progress = Signal(object)
    report = Signal(object)
    text = Signal(object)
    switch = Signal(object)
    regions = Signal(object)
    error = Signal(str)


class Background(QObject):
    """Starts, pauses and stops the watcher; turns its reports into status lines."""

    indexed = Signal(object)  # IndexReport
    results_stale = Signal()  # new vectors or words: a search on screen should run again
    switched = Signal()  # a new model answers from now on

    def __init__(self, library: Library, status: IndexStatus, qsettings: QSettings, parent: QObject) -> None:
        super().__init__(parent)
        self.library, self.status, self.qsettings = library, status, qsettings
        self.watcher: Watcher | None = None
        self.closing = False
        self.summary = ""  # the last indexing pass in words, shown again when the passes after it end
        self.bridge = WatchBridge(self)
        self.bridge.progress.connect(self._on_progress)
        self.bridge.report.connect(self._on_indexed)
        self.bridge.text.connect(self._on_text_read)
        self.bridge.switch.connect(self._on_switched)
        self.bridge.regions.connect(self._on_regions)
        self.bridge.error.connect(lambda e: self.status.say(f"Indexing problem: {e}"))
        status.pause_toggled.connect(self.set_paused)
        status.stop_clicked.connect(self.stop)

    def start(self) -> None:
        """Index now; the watcher (started once) keeps the library current after."""
        if self.watcher is None:
            b = self.bridge
            self.watcher = Watcher(self.library, poll_interval=self.qsettings.value("poll", WATCH_POLL_S, type=float),
                                   use_events=self.qsettings.value("watch", True, type=bool), settle=WATCH_SETTLE_S,
                                   on_progress=b.progress.emit, on_report=b.report.emit, on_error=b.error.emit,
                                   on_text=b.text.emit, on_switch=b.switch.emit, on_regions=b.regions.emit)
            self.watcher.start()
        else:
            self.watcher.refresh_roots()
        self.status.busy("Looking for photos and videos…")

    def set_paused(self, paused: bool) -> None:
        if self.watcher is not None:
            (self.watcher.pause if paused else self.watcher.resume)()

    def stop(self, wait: bool = False) -> None:
        """Stop button: returns at once; the watcher finishes its current file by itself."""
        if self.watcher is not None:
            self.status.say("Stopping… (everything indexed so far is kept)")
            self.watcher.stop(wait=wait)
            self.watcher = None

    def _on_progress(self, p: Progress) -> None:
        if not self.closing:
            self.status.show_progress(p)

    def _on_indexed(self, r: IndexReport) -> None:
        if self.closing:
            return
        self.status.idle()
        changed = bool(r.added or r.updated or r.removed or r.moved)
        said = (f"Indexed: {r.added} new, {r.updated} changed, {r.moved} moved, {r.removed} removed, "
                f"{r.errors} could not be read" if changed or r.errors else "Library is up to date")
        for root in r.offline_roots:
            said = f"{display(root)} is offline; its photos are kept until it returns"
        for root in r.held_back:
            said = f"Most of {display(root)} vanished at once; nothing was deleted"
        self.summary = said
        self.status.say(said)
        self.indexed.emit(r)
        if changed:  # a pass that found nothing new (the watcher's, every few minutes) leaves the results as they are
            self.results_stale.emit()

    def _on_switched(self, report) -> None:
        if self.closing:
            return
        self.status.idle()
        if report.remaining == 0 and not report.cancelled:
            self.summary = f"Now using {self.library.settings.model}"
            self.status.say(self.summary)
            self.switched.emit()
            self.results_stale.emit()  # the same words, answered by the new model

    def _on_regions(self, report) -> None:
        if self.closing:
            return
        self.status.idle()
        if report.done:
            self.summary = f"{self.summary} · looked closer at {report.done} large photos"
            self.results_stale.emit()  # small things in them can now be found
        self.status.say(self.summary)

    def _on_text_read(self, report: TextReport) -> None:
        if self.closing:
            return
        self.status.idle()
        self.status.say(f"{self.summary} · read the text in {report.read} pictures, words in {report.with_text}"
                        if report.with_text else self.summary)
        if report.with_text:
            self.results_stale.emit()  # newly read words can change the results
