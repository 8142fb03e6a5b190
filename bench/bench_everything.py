"""Everything searchable (#37): how long until the picture search and the text search are each
complete on a new library, with today's defaults and with the ones before this round, same run.

Corpus: the shared photos (when present) plus generated 12 MP JPEGs up to ``--photos`` files.
What `glimpse index` does with default settings, timed from the first file:
* **picture search complete**: `Library.index` done;
* **text search complete**: the text pass after it done as well;
* **the one ETA**: what the status line said for everything when a tenth of the files were
  indexed (library/schedule.py; this computer's kept rates removed first, so it is a first run's
  estimate), beside the real time.
"Before this round": the image tower chosen at export only (no calibration) and RapidOCR on
ONNX Runtime. Model: MobileCLIP2-S0 architecture with random weights (speed only).

``python -m bench.bench_everything [--photos 1000] [--distinct 60] [--settings before,now]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from bench.bench_index import big_jpegs
from bench.bench_video import random_mobileclip_dir
from bench.common import OUT_DIR, SHARED, report, table


def corpus(folder: Path, n: int, distinct: int | None = None) -> int:
    """``n`` pictures in ``folder``: the shared photos (copied), then 12 MP JPEGs (hard links: the
    crawler does not follow symbolic links). ``distinct``: at most that many different 12 MP JPEGs,
    linked in turn under new names up to ``n`` (rendering one takes ~9 s, so 10k distinct ones would
    take a day; each name is still a file of its own to the library — decoded, embedded and read as
    any other; only a moved file is recognised by its hash — and 24 GiB of page cache hold them all)."""
    folder.mkdir(parents=True)
    shared = sorted(p for p in (SHARED / "photos").rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))[:n]
    for i, p in enumerate(shared):
        shutil.copyfile(p, folder / f"s{i:05d}{p.suffix.lower()}")
    want = n - len(shared)
    big = sorted(big_jpegs(min(want, distinct or want)).glob("*.jpg"))[: min(want, distinct or want)]
    for i in range(want if big else 0):
        os.link(big[i % len(big)], folder / f"b{i:05d}.jpg")
    return len(shared) + (want if big else 0)


def run(folder: Path, model: str, now: bool) -> list[object]:
    """(seconds to picture search, to text search, the first-run ETA for everything at 10 %)."""
    from indexer import Library
    from indexer.base.config import model_cache_dir
    from indexer.library.schedule import RATES_FILE, Schedule
    from indexer.media.ocr import TextReader
    from indexer.model import calibrated

    calibrated.ENABLED = now
    (model_cache_dir() / RATES_FILE).unlink(missing_ok=True)
    said: list[float | None] = []

    def watch(p) -> None:
        if p.phase == "indexing" and not said and p.done >= p.total // 10 and p.eta_all is not None:
            said.append(p.eta_all + time.perf_counter() - start)

    with tempfile.TemporaryDirectory() as tmp:
        lib = Library.open(Path(tmp) / "lib", model=model)
        if not now:
            lib._reader = TextReader(lib.settings.threads, engine="onnxruntime", readers=1)  # the text pass as it was
        plan = Schedule(lib.passes(), model_cache_dir(), watch)
        start = time.perf_counter()
        lib.index([folder], on_progress=plan)
        pictures = time.perf_counter() - start
        for after in plan.after:
            after.run(plan)
        everything = time.perf_counter() - start
        lib.close()
    return [pictures, everything, said[0] if said else None]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--photos", type=int, default=1000)
    ap.add_argument("--distinct", type=int, default=0, help="at most this many different 12 MP JPEGs (0: all different)")
    ap.add_argument("--settings", default="before,now", help="which settings to run: before, now or both")
    args = ap.parse_args()
    model = random_mobileclip_dir()
    rows = []
    with tempfile.TemporaryDirectory(dir=OUT_DIR) as tmp:  # beside the 12 MP JPEGs, for hard links
        n = corpus(Path(tmp) / "photos", args.photos, args.distinct or None)
        for label, now in (("before this round", False), ("today's defaults", True)):
            if ("now" if now else "before") not in args.settings.split(","):
                continue
            pictures, everything, eta = run(Path(tmp) / "photos", model, now)
            rows.append([label, n, pictures, n / pictures, everything, eta])
        shutil.rmtree(Path(tmp) / "photos")
    kinds = f", {args.distinct} different ones linked in turn" if args.distinct else ""
    report(f"Everything searchable: {args.photos} pictures (shared photos + generated 12 MP JPEGs{kinds})",
           table(["settings", "pictures", "picture search complete s", "photos/s", "text search complete s",
                  "the one ETA at 10 % (s from start)"], rows),
           "Default settings (regions off), one process, timed from the first file. 'Before this round': image "
           "tower as chosen at export, RapidOCR on ONNX Runtime. The ETA column is what the status line said "
           "for everything when a tenth of the pictures were indexed, on a first run (no kept rates: reading text "
           "estimated from the OCR engine's probe), converted to seconds from the start.")


if __name__ == "__main__":
    main()
