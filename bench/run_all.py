"""`make bench`: every benchmark, one after the other; each prints a table and appends to RESULTS.md."""

from __future__ import annotations

import importlib
import sys
import time

SUITE = ["bench.bench_precision", "bench.bench_index", "bench.bench_profile", "bench.bench_video", "bench.bench_memory",
         "bench.bench_retrieval", "bench.bench_startup", "bench.bench_query", "bench.bench_grow", "bench.bench_fuzz",
         "bench.bench_ocr", "bench.bench_switch", "bench.bench_cli", "bench.bench_gui", "bench.bench_ann",
         "bench.bench_responsive", "bench.bench_guards", "bench.bench_soak"]


def main() -> int:
    failed = []
    for name in sys.argv[1:] or SUITE:
        t = time.perf_counter()
        print(f"=== {name}", flush=True)
        sys.argv = [name]
        try:
            importlib.import_module(name).main()
        except Exception as e:  # keep going: one broken benchmark should not hide the others
            print(f"{name} failed: {e!r}", file=sys.stderr)
            failed.append(name)
        print(f"=== {name}: {time.perf_counter() - t:.0f}s", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
