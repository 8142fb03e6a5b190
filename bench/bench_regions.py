"""Region vectors (indexer/media/regions.py): what they cost to index and store, what the detail gate
saves, and what they find, each against the same photos without regions in the same run.

* Cost: the real pipeline with MobileCLIP2-S0's architecture (random weights: speed is what is
  measured) on the shared photos and on generated 12 MP JPEGs, regions off and on: photos/s,
  vectors per photo, and the library's size (database + ANN index) per photo, scaled to
  100,000 photos (a linear extrapolation of the bytes measured here; both grow linearly).
* The gate: the share of crops it skips on those photos, and small-object R@5 on the
  synthetic world with the gate and without it (tiny test models, tuning seeds).
* Quality: small-object R@5 (objects of 0.3-1.2 % of the picture) and partial-description
  mAP on ordinary photos, whole photo only vs regions, per test model (held-out seeds of
  tests/indexer/test_regions.py).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.bench_index import photo_corpora
from bench.bench_video import random_mobileclip_dir
from bench.common import report, table

TEST_MODELS = ("tiny-clip", "tiny-clip-gap", "tiny-clip-conv")
ASSETS = Path(__file__).resolve().parents[1] / "tests" / "assets"


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.parent.name == "thumbs")


def cost(folder: Path, model: str, regions: bool) -> dict[str, float]:
    from indexer import Library

    with tempfile.TemporaryDirectory() as tmp:
        lib = Library.open(Path(tmp) / "lib", model=model, regions=regions, read_text=False)
        _ = lib.embedder  # model load (and int8 export, cached) is not indexing time
        t = time.perf_counter()
        rep = lib.index([folder])
        dt = time.perf_counter() - t
        photos = rep.added
        vectors = lib.store.vector_count()
        lib.store.compact()
        lib.close()
        size = _size(Path(tmp) / "lib")
    return {"photos": photos, "rate": photos / dt, "vectors": vectors / photos, "bytes": size / photos}


def gate_share(folder: Path, image_size: int) -> float:
    """The share of crops the detail gate skips on the large photos of ``folder``."""
    from indexer.media import regions
    from indexer.media.decode import load_image

    kept = total = 0
    for p in sorted(folder.rglob("*")):
        if p.suffix.lower() not in {".jpg", ".jpeg", ".png"}:
            continue
        dec = load_image(p, regions.decode_size(image_size))
        if not regions.eligible(dec.meta.width, dec.meta.height, image_size):
            continue
        total += len(regions.boxes(*dec.image.size))
        kept += len(regions.crops(dec.image))
    return 1 - kept / total if total else float("nan")


def small_objects(seeds: tuple[int, ...], gate: float | None = None) -> dict[str, tuple[float, float]]:
    """Per test model: (R@5 whole photo only, R@5 with regions)."""
    import tests.indexer.test_regions as t
    from indexer.media import regions

    saved = regions.DETAIL_MIN
    if gate is not None:
        regions.DETAIL_MIN = gate
    crops = regions.crops
    regions.crops = lambda image, g=regions.DETAIL_MIN: crops(image, g)  # the gate being measured
    t.HELD_OUT = seeds
    out = {}
    try:
        for name in TEST_MODELS:
            spec = f"local-dir:{ASSETS / name}"
            with tempfile.TemporaryDirectory() as tmp:
                whole = t._small_object_run(Path(tmp), spec, False)["R@5"]
                with_regions = t._small_object_run(Path(tmp), spec, True)["R@5"]
            out[name] = (whole, with_regions)
    finally:
        regions.DETAIL_MIN, regions.crops = saved, crops
    return out


def partial_cost(seed: int) -> dict[str, tuple[float, float]]:
    from tests import retrieval

    out = {}
    for name in TEST_MODELS:
        maps = []
        for on in (False, True):
            with tempfile.TemporaryDirectory() as tmp:
                case = retrieval.build(Path(tmp), f"local-dir:{ASSETS / name}", seed, n_videos=0, upscale=2, regions=on)
                maps.append(retrieval.evaluate(case, seed + 1)["partial text mAP"]["default"])
                case.lib.close()
        out[name] = (maps[0], maps[1])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--big", type=int, default=40, help="number of generated 12 MP JPEGs")
    args = ap.parse_args()
    corpora = photo_corpora(args.big, "22 of 302 large enough")
    model = random_mobileclip_dir()
    rows, gates = [], []
    for name, folder in corpora:
        off, on = cost(folder, model, False), cost(folder, model, True)
        rows.append([name, off["photos"], off["rate"], on["rate"], off["rate"] / on["rate"], on["vectors"],
                     off["bytes"] * 1e5 / 1e9, on["bytes"] * 1e5 / 1e9])
        gates.append([name, 100 * gate_share(folder, 256)])
    text = table(["corpus", "photos", "photos/s off", "photos/s on", "slower ×", "vectors/photo on",
                  "GB at 100k off", "GB at 100k on"], rows)
    text += "\n\nDetail gate (crops with nothing to see, skipped):\n\n"
    text += table(["corpus", "% of crops skipped"], gates)
    tuning = (11, 12)
    with_gate, without = small_objects(tuning), small_objects(tuning, gate=0.0)
    text += "\n\nSmall-object R@5 on tuning seeds, with and without the gate (tiny test models):\n\n"
    text += table(["model", "whole only", "regions, gate", "regions, no gate"],
                  [[m, with_gate[m][0], with_gate[m][1], without[m][1]] for m in TEST_MODELS])
    held = small_objects((7201, 7202))
    partial = partial_cost(7203)
    text += "\n\nHeld-out quality (tests/indexer/test_regions.py seeds):\n\n"
    text += table(["model", "small-object R@5 whole", "with regions", "gain", "partial mAP whole", "with regions"],
                  [[m, held[m][0], held[m][1], held[m][1] - held[m][0], partial[m][0], partial[m][1]]
                   for m in TEST_MODELS])
    mean_gain = float(np.mean([held[m][1] - held[m][0] for m in TEST_MODELS]))
    report("Region vectors: cost and what they find", text,
           f"Mean held-out small-object R@5 gain {mean_gain:+.2f}. Regions stay off by default: the cost column.")


if __name__ == "__main__":
    main()
