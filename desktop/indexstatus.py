"""The status bar: what the background work is doing (indexing, re-embedding, reading text),
with a progress bar, rate and ETA, and Pause / Stop."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar, QToolButton

from desktop.files import name_of
from indexer import Phase, Progress


class IndexStatus(QObject):
    """The status line and the progress controls of one window's status bar."""

    pause_toggled = Signal(bool)
    stop_clicked = Signal()
    everything_clicked = Signal()

    def __init__(self, bar: QStatusBar) -> None:
        super().__init__(bar)
        self.text = QLabel()
        self.progress = QProgressBar(maximumWidth=220, visible=False)
        self.cancel_button = QToolButton(text="Stop", visible=False)
        self.cancel_button.clicked.connect(self.stop_clicked)
        self.pause_button = QToolButton(text="Pause", checkable=True, visible=False)
        self.pause_button.toggled.connect(self._paused)
        self.switch_target = "the new model"  # named once a switch is started from this window
        # After results the relevance bar cut short: the rest, one click away (search/relevance.py)
        self.everything_button = QToolButton(text="Show everything", visible=False)
        self.everything_button.setToolTip("Also show the photos and moments below the relevance bar, best first")
        self.everything_button.clicked.connect(self.everything_clicked)
        bar.addWidget(self.text, 1)
        bar.addPermanentWidget(self.everything_button)
        for w in (self.progress, self.pause_button, self.cancel_button):
            bar.addPermanentWidget(w)

    def say(self, text: str) -> None:
        self.text.setText(text)

    def offer_everything(self, offer: bool) -> None:
        self.everything_button.setVisible(offer)

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
        busy = p.phase.counted or p.phase is Phase.SCANNING
        self.progress.setVisible(busy)
        for w in (self.pause_button, self.cancel_button):  # they control the watcher's passes
            w.setVisible(p.phase.stoppable or p.phase is Phase.SCANNING)
        if p.phase is Phase.SCANNING:
            self.progress.setRange(0, 0)
            self.say(f"{p.phase.label} {p.done} found")
            return
        if not busy:
            return
        self.say(self._line(p))
        self.progress.setRange(0, max(p.total, 1))  # after the words: the bar and its line always agree
        self.progress.setValue(p.done)

    def _line(self, p: Progress) -> str:
        """The status line for a counted phase: its label, counts, rate and ETA, and what still works."""
        eta = p.eta_text
        if p.phase is Phase.INDEXING:
            return (f"{p.phase.label} {p.done}/{p.total} · {p.rate:.1f} files/s · {eta} · {name_of(p.current or '')}"
                    + (f" · {p.errors} errors" if p.errors else ""))
        if p.phase is Phase.EXPORTING:
            return f"{p.phase.label} {p.done + 1}/{p.total} · {name_of(p.current or '')}"
        label = f"Re-embedding for {self.switch_target}:" if p.phase is Phase.REEMBEDDING else p.phase.label
        return f"{label} {p.done}/{p.total} · {p.rate:.1f}/s · {eta} ({p.phase.note})"

    def _paused(self, paused: bool) -> None:
        self.pause_button.setText("Resume" if paused else "Pause")
        if paused:
            self.say("Paused")
        self.pause_toggled.emit(paused)
