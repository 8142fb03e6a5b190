"""Progress events, and what every pass over a library's files shares (pause, cancel, yield)."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable


@dataclasses.dataclass(frozen=True)
class Progress:
    """What the indexer is doing, for a progress bar (CLI) or status bar (GUI)."""

    phase: str  # "scanning" | "indexing" | "saving" | "done"
    done: int = 0
    total: int = 0
    current: str | None = None
    rate: float = 0.0  # files per second
    eta: float | None = None  # seconds
    errors: int = 0


ProgressFn = Callable[[Progress], None]


@dataclasses.dataclass(kw_only=True)
class BackgroundPass:
    """What the passes after indexing share (text reading, a model switch's re-embedding):
    progress with rate and ETA, pause, cancel, and yielding to the embedding pass when new
    files arrive (the watcher's ``should_yield``). Subclasses implement ``run``."""

    phase = "working"
    on_progress: ProgressFn | None = None
    cancel: threading.Event = dataclasses.field(default_factory=threading.Event)
    pause: threading.Event = dataclasses.field(default_factory=threading.Event)
    should_yield: Callable[[], bool] = lambda: False

    def _stopping(self) -> bool:
        """Between files: wait while paused; True when cancelled or asked to yield."""
        while self.pause.is_set() and not self.cancel.is_set():
            time.sleep(0.1)
        return self.cancel.is_set() or self.should_yield()

    def _progress(self, done: int, total: int, start: float, current: str | None, phase: str | None = None) -> None:
        if self.on_progress is None:
            return
        elapsed = time.monotonic() - start
        rate = done / elapsed if elapsed > 0 and done else 0.0
        self.on_progress(Progress(phase or self.phase, done, total, current, rate,
                                  (total - done) / rate if rate else None))
