"""Keeping a library current in the background: folder events plus a polling rescan.

Events (watchdog) only say *that* something changed; the indexing run itself
re-crawls the roots and diffs sizes and mtimes, so a missed or duplicated event can
never leave the library wrong, and polling is a complete fallback for network drives
and filesystems without notifications. A file still being written (modified within
the last ``settle`` seconds) is left for a later run, so a half-copied photo is
indexed once, whole.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from indexer.base.config import model_cache_dir
from indexer.base.environment import WATCH_POLL_S, WATCH_SETTLE_S
from indexer.base.errors import WriteCancelled
from indexer.base.progress import AfterPass, Phase, Progress, ProgressFn
from indexer.indexing.pipeline import IndexReport
from indexer.indexing.reembed import ReembedReport
from indexer.indexing.region_pass import RegionReport
from indexer.indexing.text_pass import TextReport
from indexer.library.library import Library
from indexer.library.schedule import Schedule

READ_ONLY_EVENTS = frozenset({"opened", "closed_no_write"})  # watchdog's names for a file being read


class Watcher:
    """Runs incremental index passes when folders change, and every ``poll_interval`` s.

    ``on_progress`` and ``on_report`` are called from the watcher's thread.
    """

    def __init__(self, library: Library, poll_interval: float = WATCH_POLL_S, use_events: bool = True,
                 settle: float = WATCH_SETTLE_S, on_progress: Callable[[Progress], None] | None = None,
                 on_report: Callable[[IndexReport], None] | None = None,
                 on_error: Callable[[str], None] | None = None,
                 on_text: Callable[[TextReport], None] | None = None,
                 on_switch: Callable[[ReembedReport], None] | None = None,
                 on_regions: Callable[[RegionReport], None] | None = None) -> None:
        self.library = library
        self.poll_interval = poll_interval
        self.use_events = use_events
        self.settle = settle
        self.on_progress = on_progress
        self.on_report = on_report or (lambda r: None)
        self.on_error = on_error or (lambda e: None)
        self.on_text = on_text or (lambda r: None)
        self.on_switch = on_switch or (lambda r: None)
        self.on_regions = on_regions or (lambda r: None)
        self.cancel = threading.Event()
        self.paused = threading.Event()
        self._wake = threading.Event()
        self._last_event = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._observer = None
        self._observe_again = threading.Event()  # the roots changed: the loop's thread sets up folder events again
        self.runs = 0

    # control ------------------------------------------------------------------------------------
    def start(self) -> Watcher:
        """Returns at once: the folder events are set up in the watcher's thread (watchdog walks every
        folder it watches as it starts, which froze the window on a large folder or a NAS)."""
        self._observe_again.set()
        self._thread = threading.Thread(target=self._loop, name="glimpse-watch", daemon=True)
        self._thread.start()
        return self

    def stop(self, wait: bool = True) -> None:
        """Stop after the current file; what was committed stays.

        ``wait=False`` returns at once (a window's Stop button must never freeze while a
        long video finishes decoding); the thread ends by itself moments later.
        """
        self._stop.set()
        self.cancel.set()
        self.paused.clear()
        self._wake.set()
        if self._thread is not None and wait:
            self._thread.join(timeout=60)
            self._stop_observer(wait)

    def pause(self) -> None:
        self.paused.set()

    def resume(self) -> None:
        self.paused.clear()
        self._wake.set()

    def poke(self) -> None:
        """Something changed (or the user asked): run a pass soon."""
        self._last_event = time.monotonic()
        self._wake.set()

    def refresh_roots(self) -> None:
        """Watch newly added roots too (set up in the watcher's thread, like ``start``)."""
        self._observe_again.set()
        self.poke()

    # internals ----------------------------------------------------------------------------------
    def _observe(self) -> None:
        """In the loop's thread: folder events for the current roots, when they changed."""
        if not self._observe_again.is_set():
            return
        self._observe_again.clear()
        self._stop_observer(wait=False)
        if self.use_events and not self._stop.is_set():
            self._start_observer()

    def _stop_observer(self, wait: bool) -> None:
        obs, self._observer = self._observer, None
        if obs is not None:
            obs.stop()
            if wait:
                obs.join(timeout=5)

    def _start_observer(self) -> None:
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer

        watcher = self
        library_dir = str(self.library.folder.resolve())

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event) -> None:  # noqa: D401 (watchdog's name)
                # inotify also reports files being opened and read: by the indexer and the text
                # pass themselves, which would wake the watcher again after every pass
                if event.event_type in READ_ONLY_EVENTS or str(event.src_path).startswith(library_dir):
                    return
                watcher.poke()

        obs = Observer()
        for root in self.library.roots():
            if Path(root.path).is_dir():
                obs.schedule(Handler(), root.path, recursive=True)
        obs.daemon = True
        obs.start()
        self._observer = obs

    def _loop(self) -> None:
        _lower_priority()
        next_poll = time.monotonic()  # one pass at start: catch up with what changed while closed
        try:
            self._watch(next_poll)
        finally:
            self._stop_observer(wait=False)

    def _watch(self, next_poll: float) -> None:
        while not self._stop.is_set():
            self._observe()
            now = time.monotonic()
            timeout = max(0.0, next_poll - now)
            if self._last_event and now - self._last_event < self.settle:
                timeout = min(timeout, self.settle - (now - self._last_event) + 0.05)
            self._wake.wait(timeout)
            self._wake.clear()
            if self._stop.is_set():
                return
            quiet = time.monotonic() - self._last_event >= self.settle
            due = time.monotonic() >= next_poll or (self._last_event and quiet)
            if not due or self.paused.is_set():
                continue
            self._last_event = 0.0
            report = self._run_once()
            next_poll = time.monotonic() + self.poll_interval
            if report is not None and report.deferred:
                self._last_event = time.monotonic()  # files still being written: look again soon

    def _run_once(self) -> IndexReport | None:
        self.cancel.clear()
        plan = Schedule(self.library.passes(), model_cache_dir(), self.on_progress)  # one ETA for the whole run
        try:
            report = self.library.index(on_progress=plan, cancel=self.cancel, pause=self.paused,
                                        settle=self.settle, wait=True)
        except WriteCancelled:
            return None  # stopped while another update of the library was running: nothing to say
        except Exception as e:  # reported, and the watcher keeps going
            self.on_error(str(e))
            return None
        self.on_report(report)
        if not report.cancelled:
            done = {Phase.REEMBEDDING: self.on_switch, Phase.REGIONS: self.on_regions, Phase.TEXT: self.on_text}
            for after in self.library.passes():  # after indexing: a switch started meanwhile runs now too
                self._after_pass(after, plan, done.get(after.phase, lambda _report: None))
        self.runs += 1
        return report

    def _after_pass(self, after: AfterPass, progress: ProgressFn, done: Callable) -> None:
        """Run one of the passes that follow indexing. It stops between files when something changed
        on disk (the embedding pass goes first); the pending event runs the next pass, which resumes it."""
        try:
            report = after.run(progress, self.cancel, self.paused, wait=True,
                          should_yield=lambda: bool(self._last_event) or self._stop.is_set())
        except WriteCancelled:
            return
        except Exception as e:  # reported (a model or the OCR missing...), and the watcher keeps going
            self.on_error(f"{after.phase} failed: {e}")
            return
        if report is not None:
            done(report)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """For tests and scripts: wait until no pass is pending or running."""
        end = time.monotonic() + timeout
        runs = self.runs
        while time.monotonic() < end:
            if self.runs > runs and not self._last_event and not self._wake.is_set():
                return True
            time.sleep(0.05)
        return False


def _lower_priority() -> None:
    """Background work yields the CPU to what the user is doing (threads it starts inherit this)."""
    import os

    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)  # Linux: per thread
    except (AttributeError, OSError):
        pass
