"""Polling helper for tests of background work (watcher, GUI workers)."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(cond: Callable[[], object], timeout: float = 30.0) -> bool:
    """True as soon as ``cond()`` is truthy; its last value after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.1)
    return bool(cond())
