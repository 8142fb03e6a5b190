"""Photo indexing throughput: Glimpse vs an rclip-style baseline, and % of the FLOP ceiling.

Both run in this process, one after the other, on the same files:
* Glimpse: the real pipeline (crawl, draft decode in a thread pool, batched encoder at
  the default precision, one writer thread) with MobileCLIP2-S0 (random weights:
  speed is what is measured).
* Baseline (what rclip does): fp32 ViT-B-32 via open_clip, full PIL decode + resize,
  batch 8, one thread of work.
Corpora: ``../shared/data/photos`` when present (real JPEGs, mostly small) and
generated 12 MP JPEGs (where decoding dominates).
The FLOP ceiling is this machine's fp32 sgemm rate (measured now) divided by the
image encoder's FLOPs per image (torch's FlopCounterMode).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.bench_video import random_mobileclip_dir
from bench.common import OUT_DIR, SHARED, interleaved_rates, report, table


def big_jpegs(n: int) -> Path:
    from tests import world

    folder = OUT_DIR / "jpeg12mp"
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(0)
    for i in range(n):
        p = folder / f"img_{i:03d}.jpg"
        if not p.exists():
            world.render(world.random_scene(rng), size=3000, seed=i, canvas=(4000, 3000)).save(p, quality=90)
    return folder


def photo_corpora(n_big: int, shared_label: str = "real, mostly small") -> list[tuple[str, Path]]:
    """The shared photos (when present) and ``n_big`` generated 12 MP JPEGs; torch on every physical core."""
    import torch

    from indexer.base.config import physical_cores

    torch.set_num_threads(physical_cores())
    corpora = [("generated 12 MP JPEGs", big_jpegs(n_big))]
    if (SHARED / "photos").is_dir():
        corpora.insert(0, (f"shared/data/photos ({shared_label})", SHARED / "photos"))
    return corpora


def glimpse_rate(folder: Path, model: str, isolated: bool = False) -> tuple[float, int, float]:
    """(photos/s once the image tower runs, photos indexed, photos/s counting the tower's start).

    Throughput is measured as indexing runs for most of a library: the image tower opened and run
    once before the clock starts. Its start (compiled blobs read, first inference: 0.17-0.3 s on
    the Xeon, a fifth of a 60-photo run) is what a person waits once per session, not per photo,
    and it is reported beside (and in bench_startup). ``isolated``: decoding in worker processes, as
    the app does (base/isolation.py); else journalled, as the CLI does."""
    from PIL import Image

    from indexer import Library

    with tempfile.TemporaryDirectory() as tmp:
        lib = Library.open(Path(tmp) / "lib", isolated=isolated, model=model)
        t = time.perf_counter()
        lib.embedder.encode_images([Image.new("RGB", (lib.embedder.image_size,) * 2)] * 8)  # opens the tower
        lib.index()  # no folder yet: nothing indexed, but the app's decoding workers start, once a session like the tower
        start = time.perf_counter() - t
        t = time.perf_counter()
        rep = lib.index([folder])
        dt = time.perf_counter() - t
        lib.close()
    return rep.added / dt, rep.added, rep.added / (dt + start)


def baseline_rate(folder: Path) -> float:
    import open_clip
    import torch
    from PIL import Image

    model, _, preprocess = open_clip.create_model_and_transforms("ViT-B-32", pretrained=None)
    model.eval()
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    t = time.perf_counter()
    with torch.no_grad():
        for i in range(0, len(files), 8):
            batch = torch.stack([preprocess(Image.open(f).convert("RGB")) for f in files[i:i + 8]])
            model.encode_image(batch)
    return len(files) / (time.perf_counter() - t)


def flops_per_image(model_spec: str) -> float:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from indexer.model.openclip import Embedder

    emb = Embedder(model_spec)
    x = torch.randn(1, 3, emb.image_size, emb.image_size)
    with FlopCounterMode(display=False) as fc, torch.no_grad():
        emb.model.encode_image(x)
    return float(fc.get_total_flops())


def sgemm_gflops() -> float:
    import torch

    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    torch.mm(a, b)
    t = time.perf_counter()
    reps = 10
    for _ in range(reps):
        torch.mm(a, b)
    return 2 * 2048**3 * reps / (time.perf_counter() - t) / 1e9


def tower_rates(model: str, rounds: int = 5, seconds: float = 1.5, batch: int = 16) -> list[list[object]]:
    """The image tower alone, in the engine chosen for this CPU: as exported (float pixels in),
    with only the depthwise rewrite, and as the app runs it (uint8 in + depthwise). Rounds
    interleave the graphs, and best and median are reported, because this VM's speed drifts
    by up to 1.5x over seconds (measured: 87-152 photos/s in 2 s windows of one graph)."""
    import onnx

    from indexer.model import depthwise
    from indexer.model.engines import open_tower
    from indexer.model.openclip import Embedder

    emb = Embedder(model, precision="int8")  # the exported towers, as indexing runs them
    towers_of = emb.towers
    choice = towers_of.choice  # the engine and graph chosen at export (choice.json)
    exported = emb.folder / choice["image"]
    dw = OUT_DIR / "image_depthwise_only.onnx"
    graph = onnx.load(str(exported))
    depthwise.rewrite(graph)
    onnx.save(graph, str(dw))
    size = emb.image_size
    rng = np.random.default_rng(0)
    floats = rng.normal(size=(batch, 3, size, size)).astype(np.float32)
    rgb = rng.integers(0, 256, (batch, size, size, 3), dtype=np.uint8)
    towers = {"as exported (float pixels in)": (exported, floats), "depthwise rewrite only": (dw, floats),
              "as the app runs it (uint8 in + depthwise)": (towers_of.image_graph, rgb)}
    runs = {name: (open_tower(path, choice["image_engine"], towers_of.threads, cache=False), x)
            for name, (path, x) in towers.items()}
    rates = interleaved_rates(runs, rounds, seconds, batch)
    return [[name, choice["image_engine"], max(r), float(np.median(r))] for name, r in rates.items()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--big", type=int, default=120, help="number of generated 12 MP JPEGs")
    ap.add_argument("--rounds", type=int, default=3, help="Glimpse runs per corpus (median and best reported)")
    args = ap.parse_args()
    from indexer.base.config import Settings

    corpora = photo_corpora(args.big)
    model = random_mobileclip_dir()
    rows = []
    from indexer.model import runtime

    for name, folder in corpora:
        runtime.BYTES_IN = False
        before = glimpse_rate(folder, model)[0]  # normalising in numpy, as before u8graph.py
        runtime.BYTES_IN = True
        runs, app = [], []
        for _ in range(args.rounds):  # this VM drifts: a median, the CLI's and the app's way alternating
            runs.append(glimpse_rate(folder, model))
            app.append(glimpse_rate(folder, model, isolated=True)[0])
        b = baseline_rate(folder)
        g = float(np.median([r[0] for r in runs]))
        a = float(np.median(app))
        rows.append([name, runs[0][1], g, max(r[0] for r in runs), runs[0][2], before, a, 1 - a / g, b, g / b])
    towers = tower_rates(model)
    gflops = sgemm_gflops()
    f = flops_per_image(model)
    ceiling = gflops * 1e9 / f
    text = table(["corpus", "photos", "Glimpse photos/s (median)", "best", "first run, counting the tower's start",
                  "Glimpse, float pixels (before)", "the app's way: decoding in worker processes", "its cost",
                  "rclip-style photos/s", "ratio (median)"], rows)
    text += "\n\n" + table(["sgemm GFLOP/s", "MobileCLIP2-S0 image GFLOPs", "ceiling img/s",
                            "Glimpse img/s (12 MP)", "% of ceiling"],
                           [[gflops, f / 1e9, ceiling, rows[-1][2], 100 * rows[-1][2] / ceiling]])
    text += "\n\n" + table(["image tower alone, batch 16", "engine", "best photos/s", "median photos/s"], towers)
    report("Photo indexing throughput", text,
           f"Precision {Settings().precision}; targets: ratio >= 2.5x, >= 60% of the FLOP ceiling; #23: >= 110 "
           "photos/s (real) and >= 100 (12 MP). Glimpse rates are timed from the first file, the image tower "
           "already open and run once (its start is the 'first run, counting' column). The CLI journals the files "
           "it decodes; the app decodes them in worker processes (crash containment, #36: cost target <= 5%).")


if __name__ == "__main__":
    main()
