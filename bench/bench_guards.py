"""What crash containment costs indexing's decode (base/isolation.py): the shared photos decoded for
the model as the pipeline does — two decode threads — directly, under the CLI's journal
(indexing/inflight.py) and in the app's two worker processes (``Isolated``), same run, alternating
rounds after one warm-up round (the workers start once per app). Target: within 5 % of the direct
decode (the issue's bound). The decode is what indexing spends per file besides the model, so the
cost on end-to-end indexing is smaller still.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.common import SHARED, report, table

TARGET = 0.05


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", type=int, default=120)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    from indexer import Settings
    from indexer.base.isolation import Direct, Isolated
    from indexer.indexing.inflight import InFlight
    from indexer.indexing.pictures import decode_pictures

    photos = sorted(p for p in (SHARED / "photos").rglob("*.jpg"))[: args.photos]
    if not photos:
        raise SystemExit(f"no photos under {SHARED / 'photos'}")
    settings = Settings()
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(2) as threads:
        guards = {"direct (no containment)": Direct(), "journal (the CLI)": InFlight(Path(tmp)),
                  "2 worker processes (the app)": Isolated(2)}
        times: dict[str, list[float]] = {name: [] for name in guards}
        for round_ in range(args.rounds + 1):
            for name, guard in guards.items():
                t = time.perf_counter()
                list(threads.map(lambda p, g=guard: g.run(p, decode_pictures, "photo", settings, 256, 256, False),
                                 photos))
                if round_:  # the first round warms up (workers started, files in the page cache)
                    times[name].append(time.perf_counter() - t)
        for guard in guards.values():
            guard.close()
    base = statistics.median(times["direct (no containment)"])
    rows = [[name, len(photos) / statistics.median(ts), statistics.median(ts) / base - 1] for name, ts in times.items()]
    report("Crash containment: its cost on indexing's decode (shared photos)",
           table(["decode", "photos/s (median of rounds)", "cost vs direct"], rows),
           f"{len(photos)} shared photos, {args.rounds} alternating rounds after a warm-up, decoded at 256 px in two "
           f"threads as the pipeline does. Target: cost <= {TARGET:.0%}.")


if __name__ == "__main__":
    main()
