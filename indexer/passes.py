"""Progress events, and what every pass over a library's files shares (pause, cancel, yield)."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


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

    def _in_chunks(self, todo: Sequence[Any], read: Callable[[Any], T | None], workers: int, name: str,
                   start: float, chunk: int = 16) -> Iterator[tuple[list[T], int]]:
        """``todo`` read ``chunk`` at a time in a small pool ahead of the encoder, with progress and a
        stop between chunks: (what could be read, how many could not). A kill loses one chunk."""
        with ThreadPoolExecutor(max(1, workers), thread_name_prefix=name) as pool:
            for i in range(0, len(todo), chunk):
                if self._stopping():
                    return
                self._progress(i, len(todo), start, getattr(todo[i], "path", None))
                got = list(pool.map(read, todo[i:i + chunk]))
                ok = [g for g in got if g is not None]
                yield ok, len(got) - len(ok)
