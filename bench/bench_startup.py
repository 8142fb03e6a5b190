"""Time until the window is on screen: Glimpse (heavy imports deferred) vs importing them first.

Each is a fresh process, timed from launch until the window has been shown and the
event loop has run once (offscreen Qt). Baseline in the same run: the same start-up
after importing torch and open_clip up front, as an app that loads its model before
showing anything would.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time

from bench.common import ROOT, report, table

LAUNCH = "import sys; sys.argv = ['glimpse-gui']; from desktop.app import main; sys.exit(main())"
EAGER = "import torch, open_clip; " + LAUNCH


def timed(code: str, lib: str) -> float:
    """Seconds from launching the process to the window's first event-loop turn."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "GLIMPSE_STARTUP_PROBE": "1", "GLIMPSE_LIBRARY": lib}
    t = time.time()
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    shown = float(next(line for line in out.stdout.splitlines() if line.startswith("shown ")).split()[1])
    return shown - t


def main() -> None:
    with tempfile.TemporaryDirectory() as lib:
        timed(LAUNCH, lib)  # warm the OS file cache for both
        glimpse = [timed(LAUNCH, lib) for _ in range(5)]
        eager = [timed(EAGER, lib) for _ in range(5)]
    rows = [["Glimpse (model loads in the background)", statistics.median(glimpse), max(glimpse)],
            ["baseline: torch + open_clip imported first", statistics.median(eager), max(eager)]]
    report("Time to window", table(["start-up", "median s", "worst of 5 s"], rows), "Target: <= 1 s.")


if __name__ == "__main__":
    main()
