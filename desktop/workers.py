"""The only place the GUI starts threads: a ``Worker`` runs one engine call off the UI thread.

The engine reports progress through a plain callback; here it becomes a Qt signal,
delivered on the UI thread. A cancel ``Event`` is handed to engine calls that accept one.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

log = logging.getLogger(__name__)


class WorkerSignals(QObject):
    progress = Signal(object)
    result = Signal(object)
    error = Signal(str)
    finished = Signal()


class Worker(QRunnable):
    """Runs ``fn(*args, on_progress=..., cancel=...)`` (those two only if ``reports``)."""

    def __init__(self, fn: Callable[..., Any], *args: Any, reports: bool = False) -> None:
        super().__init__()
        self.fn, self.args, self.reports = fn, args, reports
        self.signals = WorkerSignals()
        self.cancel = threading.Event()
        self.setAutoDelete(False)  # Python owns it: see ``start``

    def run(self) -> None:
        try:
            kwargs = {"on_progress": self.signals.progress.emit, "cancel": self.cancel} if self.reports else {}
            out = self.fn(*self.args, **kwargs)
        except Exception as e:  # shown to the user as a message, never a crash; the traceback to the log
            log.warning("%s failed: %s", getattr(self.fn, "__qualname__", self.fn), e, exc_info=True)
            self.signals.error.emit(f"{e}" if str(e) else traceback.format_exc(limit=2))
        else:
            self.signals.result.emit(out)
        finally:
            self.signals.finished.emit()


def each(items: list[Any], make: Callable[[Any], Any], on_progress: Callable[[Any], None],
         cancel: threading.Event) -> None:
    """A ``reports`` worker's loop over files: ``on_progress(make(item))`` for each until cancelled; an
    item whose ``make`` fails (a file gone, unreadable, or that crashed its decoder in the library's
    worker process) is skipped and keeps what the window showed for it — one bad file never stops the others."""
    for item in items:
        if cancel.is_set():
            return
        try:
            on_progress(make(item))
        except Exception:  # noqa: BLE001 - see above
            continue


_running: set[Worker] = set()


def start(worker: Worker, pool: QThreadPool | None = None) -> Worker:
    """Run ``worker``, keeping it (and its signals object) alive until it has finished.

    Without the reference, Python may collect the signals object while queued
    signals are still on their way to the UI thread, and they are silently lost.
    """
    _running.add(worker)
    worker.signals.finished.connect(lambda: _running.discard(worker))
    (pool or QThreadPool.globalInstance()).start(worker)
    return worker
