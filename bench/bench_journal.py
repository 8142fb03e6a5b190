"""What the decoding journal (indexing/inflight.py) costs indexing: the shared photos decoded for the
model as the pipeline does, with and without a journal line before and after each file, same run,
alternating rounds. Target: within 5 % of the decode without it (the issue's bound for crash containment).
The journal's own cost per file is printed too; the decode is what indexing spends per file besides the model.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time
from pathlib import Path

from bench.common import SHARED, report, table

TARGET = 0.05


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", type=int, default=120)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    from indexer import Settings
    from indexer.indexing.inflight import InFlight
    from indexer.indexing.pictures import decode_pictures

    photos = sorted(p for p in (SHARED / "photos").rglob("*.jpg"))[: args.photos]
    if not photos:
        raise SystemExit(f"no photos under {SHARED / 'photos'}")
    settings = Settings()
    times: dict[str, list[float]] = {"without the journal": [], "with the journal": []}
    with tempfile.TemporaryDirectory() as tmp:
        journal = InFlight(Path(tmp))
        for _ in range(args.rounds):
            for name, journalled in (("without the journal", False), ("with the journal", True)):
                t = time.perf_counter()
                for p in photos:
                    with journal.decoding(str(p)) if journalled else contextlib.nullcontext():
                        decode_pictures(p, "photo", settings, 256, 256, regions=False)
                times[name].append(time.perf_counter() - t)
                journal.clear()
    base = statistics.median(times["without the journal"])
    rows = [[name, len(photos) / statistics.median(ts), statistics.median(ts) / base - 1] for name, ts in times.items()]
    report("Decoding journal: its cost on indexing's decode (shared photos)",
           table(["decode", "photos/s (median of rounds)", "cost vs without"], rows),
           f"{len(photos)} shared photos, {args.rounds} alternating rounds, decoded at 256 px as the pipeline does "
           f"(one thread). Target: cost <= {TARGET:.0%}.")


if __name__ == "__main__":
    main()
