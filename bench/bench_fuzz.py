"""A large hostile folder (default 20,000 files, tests/fuzz.py): does indexing finish, and account for every file?

Baseline in the same run: Pillow (images) and OpenCV (videos) opening each file on their
own. Glimpse should index exactly what they can open (less files refused on purpose as
decompression bombs) and record every other file once, with a reason; the run must
finish with no traceback, leave the folder byte-for-byte unchanged and stay in bounded
memory. ``python -m bench.bench_fuzz [N] [SEED]``.
"""

from __future__ import annotations

import collections
import os
import re
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

from bench.common import ROOT, report, table

MODEL = f"local-dir:{ROOT / 'tests' / 'assets' / 'tiny-clip'}"
RUNNER = ("import resource, sys\nfrom indexer.cli.main import main\ncode = main(sys.argv[1:])\n"
          "print(f'MAXRSS_KB {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}')\nsys.exit(code)\n")


def _plain_opens(paths: list[Path]) -> tuple[set[bytes], float]:
    """Which files Pillow/OpenCV open by themselves, and how long that takes."""
    from PIL import Image

    from indexer.base.config import VIDEO_EXTENSIONS
    from indexer.media.decode import MAX_PIXELS
    from indexer.media.video import open_video

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    ok: set[bytes] = set()
    t = time.perf_counter()
    for p in paths:
        try:
            if p.suffix.lower() in VIDEO_EXTENSIONS:
                cap, _ = open_video(p)
                good = bool(cap.read()[0])
                cap.release()
            else:
                with warnings.catch_warnings():
                    warnings.simplefilter("error", Image.DecompressionBombWarning)
                    warnings.filterwarnings("ignore", category=UserWarning)
                    with Image.open(p) as im:
                        im.load()
                good = True
        except Exception:  # noqa: BLE001
            good = False
        if good:
            ok.add(os.fsencode(str(p)))
    return ok, time.perf_counter() - t


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 7
    from indexer import Library
    from indexer.model.openclip import Embedder
    from tests.fuzz import snapshot, write_fuzz_corpus

    Embedder(MODEL, precision="int8")  # export outside the measured run
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        t = time.perf_counter()
        files = write_fuzz_corpus(corpus, n, seed)
        gen_s = time.perf_counter() - t
        before = snapshot(corpus)
        plain_ok, plain_s = _plain_opens(files)
        cmd = [sys.executable, "-c", RUNNER, "--library", str(Path(tmp) / "lib"), "--model", MODEL, "index",
               str(corpus), "-q"]
        t = time.perf_counter()
        res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, errors="replace")
        wall = time.perf_counter() - t
        rss = int(res.stdout.split("MAXRSS_KB ")[1]) / 1024 if "MAXRSS_KB" in res.stdout else float("nan")
        unchanged = snapshot(corpus) == before
        with Library.open(Path(tmp) / "lib") as lib:
            rows = lib.store.files()
        ok = {os.fsencode(r.path) for r in rows if r.status == "ok"}
        errs = [r for r in rows if r.status == "error"]
        bombs = {os.fsencode(r.path) for r in errs if "megapixels" in (r.error or "")}
        reasons = collections.Counter(re.sub(r"\d+", "N", (r.error or "").split(":")[0]) for r in errs)
    recorded = len({os.fsencode(r.path) for r in rows})
    missed = len(plain_ok - ok - bombs)
    extra = len(ok - plain_ok)
    rows_out = [[n, recorded, len(ok), len(errs), missed, extra, res.returncode, "traceback" in res.stderr.lower(),
                 unchanged, round(wall, 1), round(n / wall, 1), round(rss), round(plain_s, 1), len(plain_ok)]]
    text = table(["files", "recorded once", "indexed", "errors", "openable but not indexed", "indexed but not openable",
                  "exit", "traceback", "folder unchanged", "wall s", "files/s", "peak RSS MB",
                  "plain open s", "plain openable"], rows_out)
    text += "\n\n" + table(["reason (errors)", "files"], reasons.most_common(12))
    report(f"Hostile folder ({n:,} files, seed {seed})", text,
           f"Corpus generated in {gen_s:.0f}s (tests/fuzz.py). Baseline: Pillow/OpenCV opening each file alone, same run. "
           "'indexed but not openable' are pictures Glimpse reads where plain Pillow refuses (e.g. a RAW name on "
           "an ordinary picture is handled the same way; decompression bombs refused on purpose are not counted). "
           "Exit 3 = finished with some files recorded as errors.")


if __name__ == "__main__":
    main()
