"""The window's longest freeze while a library is indexed and searched (the responsiveness watchdog).

A timer on the UI thread ticks every 10 ms; every gap between ticks is recorded while
2,000 small photos are indexed by the background watcher, words are typed meanwhile, and
then the full library is searched (the scenario of tests/desktop/test_responsive.py, with
the committed tiny model and a fresh model cache, as on a first start). Baseline in the
same run: the same window and timer, idle, for as long (the timer's own jitter on this
machine). Target: worst gap <= 100 ms. The test holds a looser bound a loaded machine
still meets (it once failed 5 of 5 runs at 100 ms on a slower day); this is the figure.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

from bench.bench_gui import wait
from bench.common import report, table
from tests.desktop.test_responsive import gaps_while

TARGET_MS = 100
WORDS = ["a red star", "a blue circle on a striped background", "a small green square", "a yellow triangle"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", type=int, default=2000)
    args = ap.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from desktop.window import MainWindow
    from indexer import Library
    from tests import world
    from tests.conftest import MODEL_SPEC

    app = QApplication.instance() or QApplication([])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        os.environ["GLIMPSE_MODELS"] = str(tmp_path / "models")  # a first start's fresh cache
        rng = random.Random(81)
        world.write_corpus(tmp_path / "many", [world.random_scene(rng) for _ in range(args.photos)], seed=81, size=64)
        # as desktop/app.py opens it (isolated: decoding in worker processes, the int8 tower decided in
        # a child process); until 2026-12-07 19:45 this bench opened it as the CLI does, so the runs
        # after the int8 decision came (#39) counted a decision made on the UI's process: 0.6-0.9 s
        lib = Library.open(tmp_path / "lib", model=MODEL_SPEC, read_text=False, isolated=True)
        win = MainWindow(lib)
        win.show()
        while not win.model_ready:
            wait(50)
        added: list[int] = []
        win.indexed.connect(lambda r: added.append(r.added))

        def index_and_search() -> None:
            win.add_folders([tmp_path / "many"])
            t0, i = time.monotonic(), 0
            while sum(added) < args.photos and time.monotonic() - t0 < 600:
                win.bar.search_field.setText(WORDS[i % len(WORDS)])  # typing while it indexes
                i += 1
                wait(150)
            for w in WORDS:  # and searching the full library
                win.bar.search_field.setText("")
                wait(100)
                win.bar.search_field.setText(w)
                wait(1000)
                win.results.select_row(0)
                wait(100)

        t0 = time.monotonic()
        busy = gaps_while(index_and_search)
        seconds = time.monotonic() - t0
        idle = gaps_while(lambda: wait(int(seconds * 1000)))
        for name, gaps in (("idle window (baseline)", idle), ("indexing 2,000 photos and searching", busy)):
            ordered = sorted(gaps)
            rows.append([name, len(gaps), statistics.median(gaps), ordered[int(0.99 * (len(gaps) - 1))], ordered[-1]])
        win.close()
        lib.close()
    del app
    report("Window: the UI thread's longest freeze while indexing and searching",
           table(["window", "ticks", "gap p50 ms", "gap p99 ms", "worst gap ms"], rows),
           f"{args.photos} photos of 64 px, the committed tiny model, a fresh model cache; a 10 ms timer on the UI "
           f"thread. Target: worst gap <= {TARGET_MS} ms.")


if __name__ == "__main__":
    main()
