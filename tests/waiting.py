"""Polling helper for tests of background work (watcher, GUI workers)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path


def wait_until(cond: Callable[[], object], timeout: float = 30.0) -> bool:
    """True as soon as ``cond()`` is truthy; its last value after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.1)
    return bool(cond())


def lock_is_free(libdir: Path) -> bool:
    """No process holds the library's write lock (a killed `glimpse index` and the run it supervised are gone)."""
    from indexer.base.errors import LibraryBusy
    from indexer.store.writelock import WriteLock

    lock = WriteLock(libdir / "write.lock")
    try:
        lock.acquire()
    except LibraryBusy:
        return False
    lock.release()
    return True
