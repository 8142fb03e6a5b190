"""Shared by the benchmarks: machine facts, a table printer, and RESULTS.md appends.

Every benchmark measures Glimpse and its baseline in the same run on the same
machine and reports ratios, so numbers from different machines stay comparable.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import resource
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"
SHARED = ROOT.parent / "shared" / "data"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def machine() -> str:
    """CPU, its vector extensions (int8 speed depends on VNNI/AMX), Python and torch."""
    cpu, flags = "unknown CPU", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and cpu == "unknown CPU":
                cpu = line.split(":", 1)[1].strip()
            if line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    isa = [f for f in ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_int8", "amx_bf16") if f in flags]
    if isa:
        cpu += f" ({' '.join(isa)})"
    import torch

    return (f"{cpu}, {os.cpu_count()} logical CPUs, Python {platform.python_version()}, "
            f"torch {torch.__version__} ({torch.get_num_threads()} threads)")


def encoder_paths() -> str:
    """The engine and precision each tower of the last model exported here runs in (choice.json): the
    path this machine took, printed with every result (they differ between AVX2, AVX-512 and AMX CPUs)."""
    import json
    import tempfile

    models = Path(os.environ.get("GLIMPSE_MODELS") or Path(tempfile.gettempdir()) / "glimpse-bench-models")
    found = sorted(models.rglob("choice.json"), key=lambda p: p.stat().st_mtime) if models.is_dir() else []
    for path in reversed(found):
        try:
            c = json.loads(path.read_text())
            said = []
            for tower in ("image", "text"):
                name = "openvino" if c[f"{tower}_engine"] == "openvino" else c[tower].split("_")[-1].removesuffix(".onnx")
                said.append(f"{tower} {c[f'{tower}_engine']} {c[f'{tower}_stats'][name]['precision']}")
            calibrated = path.parent / "calibrated.json"  # model/calibrated.py: int8 from the user's photos
            if calibrated.exists() and json.loads(calibrated.read_text()).get("chosen"):
                said[0] = "image openvino int8 (calibrated on the first photos)"
            return f"; encoders ({path.parent.name}): " + ", ".join(said)
        except (OSError, ValueError, KeyError):
            continue
    return ""


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[_fmt(c) for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in cells]
    return "\n".join([line, sep, *body])


def _fmt(c: object) -> str:
    if isinstance(c, float):
        return f"{c:.4g}" if abs(c) < 100 else f"{c:.0f}"
    return str(c)


def report(title: str, text: str, notes: str = "") -> None:
    """Print a result and append it, dated and with machine info, to bench/RESULTS.md."""
    block = f"## {title}\n\n{dt.datetime.now():%Y-%m-%d %H:%M} — {machine()}{encoder_paths()}\n\n{text}\n"
    if notes:
        block += f"\n{notes}\n"
    print(block)
    if not RESULTS.exists():
        RESULTS.write_text("# Benchmark results\n\nAppended by `make bench`; newest last.\n\n")
    with RESULTS.open("a") as f:
        f.write(block + "\n")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


OUT_DIR = ROOT / "bench" / "out"


def interleaved_rates(runs: dict[str, tuple[Any, Any]], rounds: int, seconds: float, batch: int) -> dict[str, list[float]]:
    """Items/s of each ``name: (run, input)``, ``rounds`` times, the runs taking turns: this VM's speed
    drifts by up to 1.5x over seconds, so every run sees the same drift."""
    import time

    rates: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, (run, x) in runs.items():
            run(x)
            t, n = time.perf_counter(), 0
            while time.perf_counter() - t < seconds:
                run(x)
                n += batch
            rates[name].append(n / (time.perf_counter() - t))
    return rates
