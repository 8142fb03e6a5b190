"""Timing on this machine, the one way every per-machine choice does (model/quantize.py, model/calibrated.py,
media/ocr_engine.py)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def best_seconds(run: Callable[[Any], Any], x: Any, reps: int = 5) -> float:
    """Best of ``reps`` after a warm-up: the least disturbed by whatever else the machine is doing."""
    run(x)
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        run(x)
        best = min(best, time.perf_counter() - t)
    return best
