"""int8 vs fp32 encoders: speed per tower (MobileCLIP2-S0, random weights) and fidelity (tiny model).

Speed: eager torch fp32 (the baseline), then every candidate Glimpse chooses from —
ONNX Runtime fp32 and int8, and OpenVINO (bf16 where the CPU has it) — for the image
tower (batch 16) and the text tower (one query, as typed in the search field).
Fidelity: cosine(int8, fp32) per embedding and text→image R@1 on the committed tiny
model, whose weights are trained.
"""

from __future__ import annotations

import json
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


def main() -> None:
    import torch

    from bench.bench_video import random_mobileclip_dir
    from indexer import engines, quantize
    from indexer.config import physical_cores
    from indexer.model import Embedder
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

    for name, engine, prec in engines.candidates():
        si = engines.open_tower(full / f"image_{prec}.onnx", engine, threads, cache=False)
        st = engines.open_tower(full / f"text_{prec}.onnx", engine, threads, cache=False)
        ti = timed(lambda si=si: si(px.numpy()), 3)
        tt = timed(lambda st=st: st(tok.numpy()), 20)
        label = {"fp32": "ONNX Runtime fp32", "int8": "ONNX Runtime int8"}.get(name, f"OpenVINO ({si.precision})")
        rows.append([label, 16 / ti, tt * 1000, t_img / ti, t_txt / tt])
    speed = table(["MobileCLIP2-S0 encoder", "image img/s (batch 16)", "text ms/query", "image speed-up",
                   "text speed-up"], rows)
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
