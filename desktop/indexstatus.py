"""The status bar: what the background work is doing (indexing, re-embedding, reading text),
with a progress bar, rate and ETA, and Pause / Stop."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar, QToolButton

from desktop.files import name_of
from indexer import Progress, format_seconds

BUSY_PHASES = ("scanning", "indexing", "re-embedding", "finding regions", "reading text", "exporting")


class IndexStatus(QObject):
    """The status line and the progress controls of one window's status bar."""

    pause_toggled = Signal(bool)
    stop_clicked = Signal()

    def __init__(self, bar: QStatusBar) -> None:
        super().__init__(bar)
        self.text = QLabel()
        self.progress = QProgressBar(maximumWidth=220, visible=False)
        self.cancel_button = QToolButton(text="Stop", visible=False)
        self.cancel_button.clicked.connect(self.stop_clicked)
        self.pause_button = QToolButton(text="Pause", checkable=True, visible=False)
        self.pause_button.toggled.connect(self._paused)
        self.switch_target = "the new model"  # named once a switch is started from this window
        bar.addWidget(self.text, 1)
        for w in (self.progress, self.pause_button, self.cancel_button):
            bar.addPermanentWidget(w)

    def say(self, text: str) -> None:
        self.text.setText(text)

    def busy(self, text: str) -> None:
        """Work started that reports later: a busy bar with Pause and Stop until it does."""
        self.say(text)
        self.progress.setRange(0, 0)
        for w in (self.progress, self.pause_button, self.cancel_button):
            w.show()

    def idle(self) -> None:
        for w in (self.progress, self.pause_button, self.cancel_button):
            w.hide()

    def show_progress(self, p: Progress) -> None:
        busy = p.phase in BUSY_PHASES
        self.progress.setVisible(busy)
        for w in (self.pause_button, self.cancel_button):  # they control the watcher's passes
            w.setVisible(busy and p.phase != "exporting")
        if p.phase == "scanning":
            self.progress.setRange(0, 0)
            self.say(f"Looking for photos and videos… {p.done} found")
            return
        if not busy:
            return
        eta = f"ETA {format_seconds(p.eta)}"
        if p.phase == "indexing":
            self.say(f"Indexing {p.done}/{p.total} · {p.rate:.1f} files/s · {eta} · {name_of(p.current or '')}"
                     + (f" · {p.errors} errors" if p.errors else ""))
        elif p.phase == "exporting":
            self.say(f"Copying {p.done + 1}/{p.total} · {name_of(p.current or '')}")
        elif p.phase == "re-embedding":
            self.say(f"Re-embedding for {self.switch_target}: {p.done}/{p.total} · {p.rate:.1f}/s · {eta} "
                     "(search uses the current model until then)")
        elif p.phase == "finding regions":
            self.say(f"Looking closer at large photos {p.done}/{p.total} · {p.rate:.1f}/s · {eta} "
                     "(for small things in them; search already works)")
        else:
            self.say(f"Reading text in pictures {p.done}/{p.total} · {p.rate:.1f}/s · {eta} (search already works)")
        self.progress.setRange(0, max(p.total, 1))  # after the words: the bar and its line always agree
        self.progress.setValue(p.done)

    def _paused(self, paused: bool) -> None:
        self.pause_button.setText("Resume" if paused else "Pause")
        if paused:
            self.say("Paused")
        self.pause_toggled.emit(paused)
