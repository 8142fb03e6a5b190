"""The resize before the image tower: Pillow (shipped) against a SIMD resampler and a resize in a graph.

The performance issue asked for resize/crop/normalise in the exported graph or in SIMD, judged
by embedding cosine against open_clip's transform (>= 0.999 on real photos). Normalisation went
into the graph already (u8graph.py); this measures the resize that is left, per photo, on the
pictures the decode step hands over (``decode.load_image`` at the model's size, so JPEGs arrive
already scaled by libjpeg's ``draft``):

- Pillow ``BICUBIC`` (what ``Preprocessor.rgb`` does; equal to open_clip's transform to 1e-5);
- OpenCV ``INTER_AREA`` down / ``INTER_CUBIC`` up, and ``INTER_LINEAR`` (SIMD, no antialiasing
  filter like Pillow's);
- ONNX Runtime's ``Resize`` (cubic, a = -0.5, antialias: the ONNX operator modelled on Pillow's
  filter), one call per photo since photos differ in size.

Fidelity is the cosine between each photo's embedding through that resize and through
open_clip's own transform, on the three committed tiny models (trained; MobileCLIP2-S0's
architecture has random weights here, whose embeddings hardly move with the pixels: 1.0000 for
every method, so it cannot judge).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from bench.common import ROOT, SHARED, report, table
from indexer.model.preprocess import Preprocessor, centre_offset

TINY = ("tiny-clip", "tiny-clip-gap", "tiny-clip-conv")
Resize = Callable[[np.ndarray, int, int], np.ndarray]


def _cv(down: str, up: str) -> Resize:
    import cv2

    cv2.setNumThreads(1)  # one photo per decode thread, as the pipeline runs them
    flags = getattr(cv2, down), getattr(cv2, up)
    return lambda a, w, h: cv2.resize(a, (w, h), interpolation=flags[0] if w < a.shape[1] else flags[1])


def _ort() -> Resize:
    import onnxruntime as ort
    from onnx import TensorProto, helper

    node = helper.make_node("Resize", ["x", "", "", "sizes"], ["y"], mode="cubic", antialias=1, cubic_coeff_a=-0.5,
                            coordinate_transformation_mode="half_pixel")
    g = helper.make_graph([node], "resize", [helper.make_tensor_value_info("x", TensorProto.UINT8, [1, "h", "w", 3]),
                                             helper.make_tensor_value_info("sizes", TensorProto.INT64, [4])],
                          [helper.make_tensor_value_info("y", TensorProto.UINT8, [1, "a", "b", 3])])
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    s = ort.InferenceSession(helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)]).SerializeToString(),
                             opts, providers=["CPUExecutionProvider"])
    return lambda a, w, h: s.run(None, {"x": a[None], "sizes": np.array([1, h, w, 3], np.int64)})[0][0]


def _pillow(resample: Image.Resampling) -> Resize:
    return lambda a, w, h: np.asarray(Image.fromarray(a).resize((w, h), resample))


def geometry(resize: Resize, pre: Preprocessor) -> Callable[[Image.Image], np.ndarray]:
    """``Preprocessor``'s resize and centre crop (open_clip's rules) with ``resize`` doing the resampling."""
    def run(im: Image.Image) -> np.ndarray:
        a = np.asarray(im.convert("RGB"))
        h, w = a.shape[:2]
        nw, nh = pre.resized_size(w, h)
        if (nw, nh) != (w, h):
            a = resize(a, nw, nh)
        left, top = centre_offset(nw, nh, pre.size)
        return a[top:top + pre.size, left:left + pre.size]
    return run


def photos(n_big: int) -> list[Path]:
    from bench.bench_index import big_jpegs

    shared = SHARED / "photos"
    found = sorted(p for p in shared.rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"}) if shared.is_dir() else []
    return found + sorted(big_jpegs(n_big).glob("*.jpg"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--big", type=int, default=20, help="generated 12 MP JPEGs added to the shared photos")
    args = ap.parse_args()
    from bench.bench_video import random_mobileclip_dir
    from indexer.media import decode
    from indexer.model.openclip import Embedder

    methods: dict[str, Resize] = {"Pillow BICUBIC (shipped)": _pillow(Image.Resampling.BICUBIC),
                                  "OpenCV AREA down / CUBIC up": _cv("INTER_AREA", "INTER_CUBIC"),
                                  "OpenCV LINEAR": _cv("INTER_LINEAR", "INTER_LINEAR"),
                                  "ONNX Runtime Resize (cubic, antialias)": _ort()}
    files = photos(args.big)
    rows = []
    specs = [(name, f"local-dir:{ROOT / 'tests' / 'assets' / name}") for name in TINY]
    specs.append(("MobileCLIP2-S0 (random weights: timing only)", random_mobileclip_dir()))
    for label, spec in specs:
        emb = Embedder(spec)  # the torch path: ``preprocess`` is open_clip's own transform
        size = emb.image_size
        pics = [decode.load_image(p, size).image for p in files]
        reference = emb.encode_images(pics)
        norm = Preprocessor({"size": size, "mean": emb.model.visual.preprocess_cfg["mean"],
                             "std": emb.model.visual.preprocess_cfg["std"]})
        for name, resize in methods.items():
            run = geometry(resize, norm)
            t = time.perf_counter()
            rgbs = [run(im) for im in pics]
            ms = (time.perf_counter() - t) / len(pics) * 1000
            pixels = np.stack([norm.normalise(r) for r in rgbs])
            cos = np.sum(np.concatenate([emb.encode_pixels(pixels[i:i + 64]) for i in range(0, len(pixels), 64)])
                         * reference, axis=1)
            rows.append([label, size, name, ms, float(cos.min()), float(np.percentile(cos, 1)), float(cos.mean())])
    report("Resize before the image tower: Pillow vs SIMD (OpenCV) vs in a graph (ORT Resize)",
           table(["model", "px", "resize", "ms/photo (1 thread)", "min cosine vs open_clip", "p1 cosine",
                  "mean cosine"], rows),
           f"{len(files)} photos: the shared photos (mostly 200-500 px) and {args.big} generated 12 MP JPEGs, decoded as "
           "the pipeline does (libjpeg draft). A method ships only with min cosine >= 0.999 on every trained model.")


if __name__ == "__main__":
    main()
