"""Changing the model of an indexed library: re-embedding rate, and search latency meanwhile.

The library is indexed with model A (tests/assets/tiny-clip), then switched to B
(tiny-clip-gap) the way the app does it: the background watcher's thread, at lowered
priority, runs the re-embedding pass while the foreground searches. Same-run baseline:
the same searches on the same library before the switch started (idle).
Target (issue #19): foreground search latency during the switch within 1.5x of idle.

``python -m bench.bench_switch [COPIES]`` (the shared photos, copied COPIES times; default 4)
"""

from __future__ import annotations

import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.common import ROOT, report, table

A = f"local-dir:{ROOT / 'tests' / 'assets' / 'tiny-clip'}"
B = f"local-dir:{ROOT / 'tests' / 'assets' / 'tiny-clip-gap'}"
SHARED = ROOT.parent / "shared" / "data" / "photos"
WORDS = "a dog on a beach at sunset, a red car, two people smiling, a bird in a tree, mountains and snow".split(",")


def corpus(folder: Path, copies: int) -> int:
    """The shared real photos (copied ``copies`` times) or, without them, generated scenes."""
    if SHARED.is_dir():
        for i in range(copies):
            shutil.copytree(SHARED, folder / f"copy{i}", ignore=shutil.ignore_patterns("*.tsv", "*.md"))
    else:
        from tests import world

        rng = random.Random(5)
        world.write_corpus(folder, [world.random_scene(rng) for _ in range(300 * copies)], seed=5)
    return sum(1 for _ in folder.rglob("*.*"))


def latencies(lib, n: int, stop=None) -> list[float]:
    from indexer import Query

    out = []
    for i in range(n):
        if stop is not None and stop():
            break
        q = Query(f"{WORDS[i % len(WORDS)].strip()} {i}", min_score=0.0)
        t = time.perf_counter()
        lib.search(q)
        out.append((time.perf_counter() - t) * 1000)
    return out


def main() -> None:
    copies = int(sys.argv[1]) if len(sys.argv) > 1 else 4
    from indexer import Library, Watcher

    with tempfile.TemporaryDirectory() as tmp:
        tmp_p = Path(tmp)
        files = corpus(tmp_p / "photos", copies)
        lib = Library.open(tmp_p / "lib", model=A, read_text=False)
        lib.index([tmp_p / "photos"])
        latencies(lib, 20)  # warm: text encoder, nonsense bar, gallery sample
        idle = latencies(lib, 200)
        lib.switch.start(B)  # loads (exports) B once, outside the measured part
        watcher = Watcher(lib, poll_interval=3600, use_events=False)
        t = time.perf_counter()
        watcher.start()
        during = latencies(lib, 100_000, stop=lambda: not lib.switch.under_way)
        while lib.switch.under_way:
            time.sleep(0.05)
        switch_s = time.perf_counter() - t
        watcher.stop()
        n = lib.status().photos
        after = latencies(lib, 200)
        lib.close()
    p50 = statistics.median
    rows = [["idle (before the switch)", len(idle), round(p50(idle), 2), round(_p95(idle), 2)],
            ["during the switch", len(during), round(p50(during), 2), round(_p95(during), 2)],
            ["after (new model)", len(after), round(p50(after), 2), round(_p95(after), 2)]]
    ratio = p50(during) / p50(idle)
    text = table(["searches", "n", "p50 ms", "p95 ms"], rows)
    text += "\n\n" + table(["files", "switch wall s", "re-embed files/s", "p50 during / idle", "target ≤ 1.5x"],
                           [[n, round(switch_s, 1), round(n / switch_s, 1), round(ratio, 2),
                             "met" if ratio <= 1.5 else "not met"]])
    report("Switching an indexed library to another model", text,
           f"{'Shared real photos' if SHARED.is_dir() else 'Generated scenes'} ({files} files), A = tiny-clip, "
           "B = tiny-clip-gap. The watcher's thread (lowered priority) re-embeds; searches run in the foreground "
           "thread of the same process, as in the app. Wall time includes building B's index and the flip.")


def _p95(xs: list[float]) -> float:
    return sorted(xs)[max(0, int(0.95 * len(xs)) - 1)] if xs else float("nan")


if __name__ == "__main__":
    main()
