"""The image tower in int8 calibrated on the user's photos (#39, model/calibrated.py) against the
tower chosen at export, and both against an rclip-style pipeline, in the same run.

* **tower alone**: the image graph as the app runs it (uint8 in, depthwise) in the engine chosen
  at export, and its calibrated int8 version in OpenVINO; batch 16, two threads, rounds
  interleaved (this VM drifts), best and median photos/s;
* **indexing** (`Library.index`, MobileCLIP2-S0 architecture, random weights: speed only): with
  calibration off, then with it on — the first run makes the decision on its first 64 photos
  (its time counted, and reported apart), the next runs use what it decided;
* **rclip-style**: fp32 ViT-B-32 via open_clip, full decode, batch 8 (bench_index.py).

Fidelity on random weights says nothing (their vectors barely depend on the picture); the
fidelity figures are the test models' on real photos (tests/indexer/test_calibrated.py).

``python -m bench.bench_calibrated [--big 60]``
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from bench.bench_index import baseline_rate, glimpse_rate, photo_corpora
from bench.bench_video import random_mobileclip_dir
from bench.common import interleaved_rates, report, table


def tower_rates(model: str, rounds: int = 5, seconds: float = 1.5, batch: int = 16) -> tuple[list[list[object]], dict]:
    """Both graphs alone, and the calibration's record (made here on the shared photos if needed)."""
    from indexer.model import calibrated, u8graph
    from indexer.model.engines import IMAGE_FP32, open_tower
    from indexer.model.openclip import Embedder

    emb = Embedder(model, precision="int8")
    towers = emb.towers
    source = u8graph.u8_path(emb.folder / IMAGE_FP32)
    record = calibrated.recorded(source)
    if record is None or not calibrated.graph_path(source).exists():
        raise SystemExit(f"no calibrated graph was chosen: {record}")
    rgb = np.random.default_rng(0).integers(0, 256, (batch, emb.image_size, emb.image_size, 3), dtype=np.uint8)
    engine = towers.choice["image_engine"]
    graphs = {f"chosen at export: {towers.choice['image']}, uint8 in ({engine})":
              (u8graph.u8_path(emb.folder / towers.choice["image"]), engine),
              "fp32, uint8 in (openvino)": (source, "openvino"),
              "calibrated int8 (openvino)": (calibrated.graph_path(source), "openvino")}
    runs = {name: (open_tower(graph, eng, towers.threads, cache=False), rgb) for name, (graph, eng) in graphs.items()}
    rates = interleaved_rates(runs, rounds, seconds, batch)
    return [[name, max(r), float(np.median(r))] for name, r in rates.items()], record


def retrieval_table() -> str:
    """The retrieval measurement of tests/indexer/test_retrieval.py (held-out seed) on each test
    model, its libraries indexed in fp32 (as the test does), with the int8 tower chosen at export,
    and with the calibrated one (chosen on fidelity alone: on these tiny models it is not faster)."""
    import shutil
    import tempfile

    from indexer.base.config import model_cache_dir
    from indexer.model import calibrated
    from tests import retrieval
    from tests.indexer.test_retrieval import HELD_OUT_SEED, MODELS

    ways = {"fp32": ("fp32", False), "int8 as exported": ("int8", False), "int8 calibrated": ("int8", True)}
    calibrated.FASTER_ONLY = False
    rows, records = [], []
    for name, folder in MODELS.items():
        got = {}
        for way, (precision, calibrating) in ways.items():
            calibrated.ENABLED = calibrating
            shutil.rmtree(model_cache_dir() / "onnx", ignore_errors=True)  # a fresh export and decision
            with tempfile.TemporaryDirectory() as tmp:
                case = retrieval.build(Path(tmp), f"local-dir:{folder}", HELD_OUT_SEED, precision=precision)
                try:
                    got[way] = retrieval.evaluate(case, HELD_OUT_SEED + 1)
                    if calibrating:
                        record = next((model_cache_dir() / "onnx").glob(f"*/{calibrated.RECORD}"), None)
                        records.append(f"{name}: {json.dumps(json.loads(record.read_text())) if record else 'none'}")
                finally:
                    case.lib.close()
        for metric in got["fp32"]:
            rows.append([name, metric, *(got[way][metric]["default"] for way in ways)])
    return table(["model", "query type", *ways], rows) + "\n\nDecisions: " + "; ".join(records)


def main() -> None:
    from indexer.model import calibrated

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--big", type=int, default=60, help="number of generated 12 MP JPEGs")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--retrieval", action="store_true", help="only the retrieval tests' measurement, fp32 vs int8")
    args = ap.parse_args()
    if args.retrieval:
        report("Retrieval with the image tower in int8 calibrated on the first photos (five test models)",
               retrieval_table(), "Held-out seed of tests/indexer/test_retrieval.py; each library indexed "
               "afresh, the int8 one deciding on its own first 64 photos (a fresh model cache).")
        return
    model = random_mobileclip_dir()
    from indexer.model.openclip import Embedder

    folder = Embedder(model, precision="int8").folder  # a fresh decision for this run
    (folder / calibrated.RECORD).unlink(missing_ok=True)
    for old in folder.glob("*.int8cal.onnx"):
        old.unlink()
    rows = []
    for name, photos in photo_corpora(args.big):
        calibrated.ENABLED = False
        before = [glimpse_rate(photos, model)[0] for _ in range(args.rounds)]
        calibrated.ENABLED = True
        runs = [glimpse_rate(photos, model)[0] for _ in range(args.rounds + 1)]
        base = baseline_rate(photos)
        first, after = runs[0], float(np.median(runs[1:]))
        rows.append([name, base, float(np.median(before)), first, after, after / float(np.median(before)),
                     after / base])
    towers, record = tower_rates(model)
    text = table(["corpus", "rclip-style photos/s", "Glimpse, tower chosen at export", "first run (calibrating)",
                  "Glimpse, after the decision", "gain", "ratio to rclip-style"], rows)
    text += "\n\n" + table(["image tower alone, batch 16", "best photos/s", "median photos/s"], towers)
    text += "\n\nThe decision (calibrated.json): " + json.dumps(record)
    report("Image tower in int8 calibrated on the user's photos", text,
           "Medians of the runs. 'First run': the run whose first 64 photos make the calibration (quantizing, "
           "measuring both towers) counted in its time. Target (#39): >= 3x rclip-style on the shared photos on "
           "the AVX2-only kind.")


if __name__ == "__main__":
    main()
