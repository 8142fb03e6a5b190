"""int8 vs fp32 encoders: speed per tower (MobileCLIP2-S0, random weights) and fidelity (tiny model).

Speed: eager torch fp32 (the baseline), then every candidate Glimpse chooses from —
ONNX Runtime fp32 and int8, and OpenVINO (bf16 where the CPU has it) — for the image
tower (batch 16) and the text tower (one query, as typed in the search field).
Fidelity: cosine(int8, fp32) per embedding and text→image R@1 on the committed tiny
model, whose weights are trained.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import report, table


def timed(fn, reps: int) -> float:
    fn()
    t = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t) / reps


def open_both(folder: Path, engine: str, prec: str, threads: int, hint: str | None):
    """Both towers in one engine: (image, its open seconds, text, its open seconds)."""
    from indexer.model import engines

    out = []
    for tower in ("image", "text"):
        t = time.perf_counter()
        path = folder / f"{tower}_{prec}.onnx"
        run = engines.OvTower(path, threads, None, hint) if engine == "openvino" else \
            engines.open_tower(path, engine, threads, cache=False)
        out += [run, time.perf_counter() - t]
    return tuple(out)


AVX2_CHILD = """
import json, sys
from pathlib import Path
import numpy as np
from bench.bench_precision import open_both
from indexer.model.quantize import _time  # best of a few runs, as the export's own choice times them
folder, threads, size, context = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
si, ti, st, tt = open_both(folder, "openvino", "fp32", threads, "f32")
px, tok = np.random.default_rng(0).normal(size=(16, 3, size, size)).astype(np.float32), np.zeros((1, context), np.int64)
print(json.dumps({"image": {"seconds": _time(si, px, 3), "open_seconds": ti},
                  "text": {"seconds": _time(st, tok, 20), "open_seconds": tt}}))
"""


def avx2_emulated(folder: Path, threads: int, size: int, context: int) -> dict | None:
    """OpenVINO f32 in a child whose oneDNN may use AVX2 at most: the nearest this machine gets to a
    laptop without AVX-512, VNNI or bf16. ONNX Runtime has no such switch (MLAS picks its kernels
    from CPUID), so its rows here are what it does with AVX-512 and VNNI: an upper bound there."""
    import subprocess
    import sys

    from bench.common import ROOT

    env = {**os.environ, "ONEDNN_MAX_CPU_ISA": "AVX2", "OV_CPU_MAX_ISA": "AVX2"}
    done = subprocess.run([sys.executable, "-c", AVX2_CHILD, str(folder), str(threads), str(size), str(context)],
                          capture_output=True, text=True, cwd=ROOT, env=env)
    try:
        return json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return None


def paths_table(choice: dict, measured: dict, avx2: dict | None) -> str:
    """Which path each tower takes here, and which it would take with only AVX2 (Glimpse's own rule)."""
    from indexer.model import engines, quantize

    rows = []
    for tower in ("image", "text"):
        stats = {n: {**measured[tower][n], "fidelity": choice[f"{tower}_stats"].get(n, {}).get("fidelity", 1.0)}
                 for n, _, _ in engines.candidates() if n in measured[tower]}
        here = quantize._choose(stats, engines.candidates(), with_open=tower == "text")
        rows.append([tower, "this machine", f"{here[1]} {here[2]}", f"{choice[tower]} in {choice[f'{tower}_engine']}"])
        if avx2:
            stats["openvino"] = {**avx2[tower], "fidelity": stats.get("openvino", {}).get("fidelity", 1.0)}
            there = quantize._choose(stats, engines.candidates(), with_open=tower == "text")
            rows.append([tower, "AVX2 emulated (OpenVINO f32 capped; ONNX Runtime as here)", f"{there[1]} {there[2]}", ""])
    return table(["tower", "machine", "Glimpse's rule on these timings picks", "recorded choice (choice.json)"], rows)


def main() -> None:
    import torch

    from bench.bench_video import random_mobileclip_dir
    from indexer.base.config import physical_cores
    from indexer.model import engines, quantize
    from indexer.model.openclip import Embedder
    from tests import semantics
    from tests.conftest import MODEL_SPEC

    threads = physical_cores()
    spec = random_mobileclip_dir()
    emb = Embedder(spec)
    full = Path(tempfile.mkdtemp())
    quantize.build(full, emb.model, emb.tokenizer, emb.image_size, threads, keep_all=True)
    choice = json.loads((full / "choice.json").read_text())
    px = torch.randn(16, 3, emb.image_size, emb.image_size)
    tok = emb.tokenizer(["a dog on a beach at sunset"])
    rows = []
    with torch.inference_mode():
        t_img = timed(lambda: emb.model.encode_image(px), 3)
        t_txt = timed(lambda: emb.model.encode_text(tok), 20)
    rows.append(["torch fp32 (baseline)", 16 / t_img, t_txt * 1000, 1.0, 1.0])

    measured: dict[str, dict[str, dict[str, float]]] = {"image": {}, "text": {}}
    variants = [(name, engine, prec, None, threads) for name, engine, prec in engines.candidates()]
    if any(engine == "openvino" for _, engine, _ in engines.candidates()):
        variants.append(("openvino-f32", "openvino", "fp32", "f32", threads))
    variants += [(f"{name}-1thread", engine, prec, None, 1) for name, engine, prec in engines.candidates()]
    for name, engine, prec, hint, n in variants:
        si, ti, st, tt = open_both(full, engine, prec, n, hint)
        img_t = timed(lambda si=si: si(px.numpy()), 3)
        txt_t = timed(lambda st=st: st(tok.numpy()), 20)
        precision = getattr(si, "precision", prec)
        label = {"onnxruntime": f"ONNX Runtime {prec}"}.get(engine, f"OpenVINO ({precision})") + f", {n} thread(s)"
        rows.append([label, 16 / img_t, txt_t * 1000, t_img / img_t, t_txt / txt_t])
        measured["image"][name] = {"seconds": img_t, "open_seconds": ti}
        measured["text"][name] = {"seconds": txt_t, "open_seconds": tt}
    avx2 = avx2_emulated(full, threads, emb.image_size, tok.shape[1])
    if avx2:
        rows.append(["OpenVINO (f32), oneDNN capped at AVX2 (emulated AVX2 CPU)", 16 / avx2["image"]["seconds"],
                     avx2["text"]["seconds"] * 1000, t_img / avx2["image"]["seconds"], t_txt / avx2["text"]["seconds"]])
    speed = table(["MobileCLIP2-S0 encoder", "image img/s (batch 16)", "text ms/query", "image speed-up",
                   "text speed-up"], rows)
    speed += "\n\n" + paths_table(choice, measured, avx2)
    fp32, int8 = Embedder(MODEL_SPEC), Embedder(MODEL_SPEC, precision="int8", cache=Path(tempfile.mkdtemp()))
    import random

    from tests import world

    scenes = world.distinct_scenes(random.Random(5), 100)
    imgs = [world.render(s, 128, seed=i) for i, s in enumerate(scenes)]
    caps = [world.caption(s) for s in scenes]
    fid = [["image tower", float(np.mean(np.sum(fp32.encode_images(imgs) * int8.encode_images(imgs), 1)))],
           ["text tower", float(np.mean(np.sum(fp32.encode_texts(caps) * int8.encode_texts(caps), 1)))]]
    r_fp = semantics.text_to_image_r1(fp32.encode_images, fp32.encode_texts, seed=11, n=100, held_out=None)
    r_q = semantics.text_to_image_r1(int8.encode_images, int8.encode_texts, seed=11, n=100, held_out=None)
    fidelity = table(["tiny model", "mean cosine(int8 path, fp32)"], fid)
    report("Encoder precision: speed and fidelity", speed + "\n\n" + fidelity,
           f"Chosen by Glimpse on this machine for MobileCLIP2-S0: image → {choice['image']} in {choice['image_engine']}, "
           f"text → {choice['text']} in {choice['text_engine']}. "
           f"Tiny-model text→image R@1 fp32 {r_fp:.2f} vs int8 path {r_q:.2f}. Target: int8 >= 1.5x fp32.")


if __name__ == "__main__":
    main()
