"""Searching while a library grows into its projection: how long a search waits during the rebuild.

From ``projection.PROJECT_MIN`` (200k) items a library whose vectors lie near a subspace is
searched through inverted lists over a projection (``indexer/ann/index.py``). Crossing that size
rebuilds the index: the writer builds the new one beside the graph and swaps it in, so
searches go on. Same run, same data, baseline: the same rebuild done holding the index's
lock, as Glimpse did before, so every search waits for it.

A library of PROJECT_MIN - 1,000 clustered CLIP-like vectors (``bench/vectors.clustered``) is
indexed as a graph; 2,000 more are committed and added to the graph, then the writer catches up
(which rebuilds) while another thread searches one query after another.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench.bench_query import build, insert_photos
from bench.common import report, table
from bench.vectors import clustered


def searching_during(ann, queries: np.ndarray, work: Callable[[], None]) -> tuple[float, list[float]]:
    """Run ``work`` in a thread while this one searches; (its seconds, each search's seconds)."""
    took: list[float] = []
    done = threading.Event()

    def run() -> None:
        t = time.perf_counter()
        work()
        took.append(time.perf_counter() - t)
        done.set()

    thread = threading.Thread(target=run)
    thread.start()
    waits, i = [], 0
    while not done.is_set():
        t = time.perf_counter()
        ann.search(queries[i % len(queries)], 10)
        waits.append(time.perf_counter() - t)
        i += 1
        time.sleep(0.005)  # someone typing, not a tight loop starving the writer of the GIL
    thread.join()
    return took[0], waits


def ms(waits: list[float], pct: float) -> str:
    return f"{np.percentile(np.array(waits) * 1000, pct):.2f}"


def main() -> None:
    from indexer.ann import projection

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--items", type=int, default=projection.PROJECT_MIN - 1000)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    vecs, more, queries = clustered(args.items, rng), clustered(2000, rng), clustered(50, rng)
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        store, ann, _, _ = build(Path(tmp), vecs)
        graph_s = time.perf_counter() - t
        assert not ann.probed
        insert_photos(store, more, first_id=args.items + 1)
        ann.catch_up(store, rebuild=False)  # as a search would: the 2,000 enter the graph (not measured)
        beside_s, beside = searching_during(ann, queries, lambda: ann.catch_up(store))
        assert ann.probed, "the library did not grow into a projection"

        def locked() -> None:
            with ann._lock:  # the old way: the whole rebuild under the lock searches take
                ann.rebuild(store)

        locked_s, held = searching_during(ann, queries, locked)
    rows = [[name, f"{secs:.1f}", len(w), ms(w, 50), ms(w, 99), f"{max(w) * 1000:.0f}"]
            for name, secs, w in (("Glimpse: built beside the graph, swapped in", beside_s, beside),
                                  ("baseline: rebuilt holding the index lock", locked_s, held))]
    report(f"Searching while {args.items:,} + 2,000 items grow into a projection",
           table(["rebuild", "writer s", "searches meanwhile", "p50 ms", "p99 ms", "longest ms"], rows),
           f"Graph over {args.items:,} built first in {graph_s:.0f} s (not part of the figures). "
           "Searches are ANN only (no text encoding), one every ~5 ms from a second thread.")


if __name__ == "__main__":
    main()
