"""Progress events, and what every pass over a library's files shares (pause, cancel, yield)."""

from __future__ import annotations

import dataclasses
import enum
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from indexer.base.config import format_seconds
from indexer.base.isolation import Direct, Guard

T = TypeVar("T")


class Phase(enum.StrEnum):
    """What a pass is doing. Each member carries what the CLI and the app show for it, so no client
    keeps its own list of names in step (the CLI once showed nothing while regions were found)."""

    SCANNING = "scanning"
    INDEXING = "indexing"
    REEMBEDDING = "re-embedding"
    REGIONS = "finding regions"
    TEXT = "reading text"
    EXPORTING = "exporting"
    SAVING = "saving"
    DONE = "done"

    @property
    def counted(self) -> bool:
        """Work with a known total: a bar, a rate and an ETA."""
        return self in _COUNTED

    @property
    def stoppable(self) -> bool:
        """A pass the user can pause and stop (the watcher's work; not a copy of results)."""
        return self in _COUNTED and self is not Phase.EXPORTING

    @property
    def label(self) -> str:
        """The words a person reads for this phase, before its counts."""
        return _LABELS[self]

    @property
    def note(self) -> str:
        """What the user may still do meanwhile (shown after the counts), or nothing."""
        return _NOTES.get(self, "")


_COUNTED = frozenset({Phase.INDEXING, Phase.REEMBEDDING, Phase.REGIONS, Phase.TEXT, Phase.EXPORTING})
_LABELS = {
    Phase.SCANNING: "Looking for photos and videos…", Phase.INDEXING: "Indexing",
    Phase.REEMBEDDING: "Re-embedding for the new model", Phase.REGIONS: "Looking closer at large photos",
    Phase.TEXT: "Reading text in pictures", Phase.EXPORTING: "Copying", Phase.SAVING: "Saving the index…",
    Phase.DONE: "Done",
}
_NOTES = {
    Phase.REEMBEDDING: "search uses the current model until then",
    Phase.REGIONS: "for small things in them; search already works",
    Phase.TEXT: "search already works",
}


@dataclasses.dataclass(frozen=True)
class Progress:
    """What the indexer is doing, for a progress bar (CLI) or status bar (GUI)."""

    phase: Phase
    done: int = 0
    total: int = 0
    current: str | None = None
    rate: float = 0.0  # files per second
    eta: float | None = None  # seconds
    errors: int = 0
    eta_all: float | None = None  # seconds until the passes after this one are done too (library/schedule.py)

    def __post_init__(self) -> None:
        object.__setattr__(self, "phase", Phase(self.phase))  # a name given as a string is checked here

    @property
    def eta_text(self) -> str:
        """One ETA for all the work left: "ETA 3:12", "ETA 9:40 for everything" when passes after this
        one are counted in, "ETA ?" before a rate is known. What the CLI and the app both show."""
        if self.eta_all is not None and self.eta is not None and self.eta_all > self.eta + 1:
            return f"ETA {format_seconds(self.eta_all)} for everything"
        return f"ETA {format_seconds(self.eta)}" if self.eta is not None else "ETA ?"


ProgressFn = Callable[[Progress], None]


def hold(pause: threading.Event, cancel: threading.Event) -> None:
    """Between files of any pass: wait while paused; at once when cancelled."""
    while pause.is_set() and not cancel.is_set():
        cancel.wait(0.1)


def progress_at(phase: Phase, done: int, total: int, start: float, current: str | None = None,
                errors: int = 0) -> Progress:
    """A pass's progress with its rate and ETA since ``start`` (``time.monotonic()``): every pass counts one way."""
    elapsed = time.monotonic() - start
    rate = done / elapsed if elapsed > 0 and done else 0.0
    return Progress(phase, done, total, current, rate, (total - done) / rate if rate else None, errors)


@dataclasses.dataclass(frozen=True)
class AfterPass:
    """One pass that follows indexing. ``run(on_progress, cancel, pause, wait=, should_yield=)``
    resumes where an earlier run stopped and returns its report, whose ``summary()`` says what it did."""

    phase: Phase
    run: Callable[..., Any]
    pending: Callable[[], int] | None = None  # files it has to do, where counting them is cheap


@dataclasses.dataclass(kw_only=True)
class BackgroundPass:
    """What the passes after indexing share (text reading, a model switch's re-embedding):
    progress with rate and ETA, pause, cancel, and yielding to the embedding pass when new
    files arrive (the watcher's ``should_yield``). Subclasses implement ``run``."""

    phase = Phase.INDEXING
    on_progress: ProgressFn | None = None
    cancel: threading.Event = dataclasses.field(default_factory=threading.Event)
    pause: threading.Event = dataclasses.field(default_factory=threading.Event)
    should_yield: Callable[[], bool] = lambda: False
    guard: Guard = dataclasses.field(default_factory=Direct)  # how files are decoded (base/isolation.py)

    def _stopping(self) -> bool:
        """Between files: wait while paused; True when cancelled or asked to yield."""
        hold(self.pause, self.cancel)
        return self.cancel.is_set() or self.should_yield()

    def _progress(self, done: int, total: int, start: float, current: str | None, phase: Phase | None = None) -> None:
        if self.on_progress is not None:
            self.on_progress(progress_at(phase or self.phase, done, total, start, current))

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
