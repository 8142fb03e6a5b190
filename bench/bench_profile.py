"""Where indexing time goes: py-spy samples of a real `glimpse index` run, by pipeline stage.

The corpus is ../shared/data/photos when present (real, mostly small JPEGs), else the
generated 12 MP JPEGs. py-spy samples every thread of the child process (native frames
included, so time inside ONNX Runtime/OpenVINO and libjpeg counts); each sample is put
in the first stage whose function appears on its stack. Threads with no Python frames
are the inference engine's own workers. Samples of threads blocked on a queue or lock
are listed as waiting and left out of the busy shares.
"""

from __future__ import annotations

import collections
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import ROOT, report, table

SHARED = ROOT.parent / "shared" / "data" / "photos"
# (stage, what its frames look like on a py-spy stack), checked in this order
STAGES = [
    ("model inference (encode_pixels)", ("encode_pixels (",)),
    ("image decode (PIL/libjpeg, EXIF, upright)", ("load_image (",)),
    ("preprocessing (resize, crop, normalise)", ("indexer/model/runtime.py",)),  # only the Preprocessor runs there now
    ("content hash + stat", ("quick_hash (",)),
    ("SQLite writer", ("_writer (",)),
    ("crawl", ("indexer/media/crawl.py",)),
]


WAITING = "waiting (idle threads blocked on a queue or lock; not CPU)"


def stage_of(stack: str) -> str:
    if ".py:" not in stack:  # a thread with no Python on it: the engine's own worker pool
        return "model inference (engine worker threads)"
    for name, marks in STAGES:
        if any(m in stack for m in marks):
            return name
    last = [f for f in stack.split(";") if ".py:" in f][-1]
    if any(w in last for w in ("_worker (concurrent/futures/thread.py", "Condition.wait", "Condition.__enter__",
                               "Queue.get", "Event.wait", "Thread.join")):
        return WAITING
    return "other (Python glue, start-up)"


def main() -> None:
    if shutil.which("py-spy") is None and not (Path(sys.executable).parent / "py-spy").exists():
        raise SystemExit("py-spy is not installed (make bench installs it)")
    pyspy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    from bench.bench_index import big_jpegs
    from bench.bench_video import random_mobileclip_dir

    model = random_mobileclip_dir()
    corpus = SHARED if SHARED.is_dir() else big_jpegs(60)
    with tempfile.TemporaryDirectory() as tmp:
        lib = Path(tmp) / "lib"
        warm = [sys.executable, "-m", "indexer.cli.main", "--library", str(Path(tmp) / "warm"), "--model", model,
                "search", "warm-up"]
        subprocess.run(warm, cwd=ROOT, capture_output=True)  # the one-time export, not profiled
        out = Path(tmp) / "profile.txt"
        cmd = [sys.executable, "-m", "indexer.cli.main", "--library", str(lib), "--model", model, "index", str(corpus), "-q",
               "--no-text"]  # the embedding pass only: reading text (OCR) runs after it and has its own bench
        subprocess.run([pyspy, "record", "--native", "--threads", "--format", "raw", "--rate", "100", "-o", str(out),
                        "--", *cmd], cwd=ROOT, check=True, capture_output=True)
        counts: collections.Counter[str] = collections.Counter()
        for line in out.read_text().splitlines():
            stack, _, n = line.rpartition(" ")
            if stack and n.isdigit():
                counts[stage_of(stack)] += int(n)
    busy = sum(n for name, n in counts.items() if name != WAITING) or 1
    rows = [[name, n, 100 * n / busy if name != WAITING else "-"] for name, n in counts.most_common()]
    report("Where indexing time goes (py-spy, busy samples of all threads)",
           table(["stage", "samples", "% of busy time"], rows),
           f"Corpus: {corpus.name}; MobileCLIP2-S0 (random weights), default settings.")


if __name__ == "__main__":
    main()
