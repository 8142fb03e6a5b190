"""int8 encoders: ONNX export + ONNX Runtime quantization, chosen per tower by measurement.

``torch.ao.quantization.quantize_dynamic`` breaks open_clip's ``encode_text`` (its
quantized Linear has no ``.weight``), so the towers are exported to ONNX once. Each
tower then has candidates: the fp32 graph and a dynamically quantized int8 graph in
ONNX Runtime, and the fp32 graph in OpenVINO (which computes in bf16 by itself on CPUs
with AMX or AVX512-BF16). The fastest candidate that keeps cosine >= 0.99 to torch fp32
on probe inputs wins, int8 on ties (half the memory). On CPUs without VNNI, int8
convolutions can be slower than fp32, so a convolutional image tower may stay fp32.
The choice, fidelity and timings are written to ``choice.json`` beside the graphs, in
the model cache (``<cache>/onnx/<model id>/``), so start-up never re-exports or
re-quantizes; runtime.py then runs them without torch.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from indexer.base import atomic
from indexer.base.timing import best_seconds
from indexer.model import engines, runtime

log = logging.getLogger(__name__)
FIDELITY_MIN = 0.99
PROBE_TEXTS = ("a dog on a beach at sunset", "a birthday cake with candles", "snow on a mountain", "a red car",
               "two children playing in a park", "a plate of food", "a city street at night", "a cat on a sofa")


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def _probe_images(size: int, n: int = 8) -> np.ndarray:
    """Smooth random colour fields plus noise: real-image-like statistics, no data needed."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size] / size
    out = []
    for _ in range(n):
        chans = [np.sin(xx * rng.uniform(1, 8) + yy * rng.uniform(1, 8) + rng.uniform(0, 6)) for _ in range(3)]
        img = np.stack(chans) + 0.2 * rng.normal(size=(3, size, size))
        out.append(img)
    return np.stack(out).astype(np.float32)


def ensure(folder: Path, model: Any, tokenizer: Any, image_size: int, threads: int,
           preprocess: Any, preprocess_cfg: dict[str, Any], dim: int) -> bool:
    """Export and quantize the towers if not cached yet; False if this model cannot be exported.

    Also records the torch-free preprocessing and tokenizer (runtime.py). A failed
    export's reason is kept in ``choice.json`` so it is not retried at every start (the
    caller then keeps torch fp32).
    """
    from filelock import FileLock

    choice_file = folder / "choice.json"
    folder.mkdir(parents=True, exist_ok=True)
    # Two processes starting with a new model export it once: the second waits, then uses it.
    with FileLock(str(folder / "export.lock")):
        choice = _read_choice(choice_file)
        if choice is not None and not engines.choice_is_current(choice):
            _clear(folder)
            choice = None
        if choice is None:
            try:
                build(folder, model, tokenizer, image_size, threads)
            except (OSError, MemoryError) as e:  # disk full, no memory: this time only, try again next start
                log.warning("int8 export could not be written, using fp32 this time: %s", e)
                return False
            except Exception as e:  # an architecture the exporter cannot handle: remembered
                atomic.write_text(choice_file, json.dumps({"error": f"{type(e).__name__}: {str(e)[:300]}"}))
                log.warning("int8 export failed for this model, using fp32: %s", str(e)[:300])
            choice = _read_choice(choice_file)
        if choice is None or "error" in choice:
            return False
        if not (folder / runtime.RUNTIME_FILE).exists():  # under the lock: another process may be writing it
            runtime.write(folder, preprocess, preprocess_cfg, tokenizer, dim)
    return True


def build(folder: Path, model: Any, tokenizer: Any, image_size: int, threads: int,
          keep_all: bool = False) -> dict[str, Any]:
    """Export, quantize, measure and choose; returns (and saves) the choice.

    ``keep_all`` keeps the graphs not chosen too (for benchmarks).
    """
    import tempfile

    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    folder.mkdir(parents=True, exist_ok=True)
    _remove_stale_tmp(folder)
    tmp = Path(tempfile.mkdtemp(dir=folder, prefix="tmp-"))  # this export's own: never shared

    class Tower(torch.nn.Module):
        """One encoder of the CLIP model as its own graph (its weights stay shared)."""

        def __init__(self, method: str) -> None:
            super().__init__()
            self.m, self.method = model, method

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return getattr(self.m, self.method)(x)

    pixels = torch.from_numpy(_probe_images(image_size, 2))
    tokens = tokenizer(list(PROBE_TEXTS[:2]))
    # Exported with autograd on: in no-grad mode nn.MultiheadAttention takes a fused
    # fast path (aten::_native_multi_head_attention) that ONNX cannot express.
    with torch.enable_grad():
        torch.onnx.export(Tower("encode_image"), (pixels,), str(tmp / "image_fp32.onnx"), input_names=["pixels"],
                          output_names=["embedding"], dynamic_axes={"pixels": {0: "n"}, "embedding": {0: "n"}},
                          opset_version=17, dynamo=False)
        torch.onnx.export(Tower("encode_text"), (tokens,), str(tmp / "text_fp32.onnx"), input_names=["tokens"],
                          output_names=["embedding"], dynamic_axes={"tokens": {0: "n"}, "embedding": {0: "n"}},
                          opset_version=17, dynamo=False)
    # No convolutions: dynamically quantized ones (ConvInteger) are very slow on CPUs
    # without VNNI, and static QDQ convolutions measured slower than fp32 even with it.
    # Gather is the token-embedding table: int8 makes it 4x smaller (-75 MB for CLIP's).
    for tower in ("image", "text"):
        quantize_dynamic(str(tmp / f"{tower}_fp32.onnx"), str(tmp / f"{tower}_int8.onnx"), weight_type=QuantType.QInt8,
                         op_types_to_quantize=["MatMul", "Gemm", "Gather"])
    probe_px = _probe_images(image_size, 8)
    probe_tok = tokenizer(list(PROBE_TEXTS)).numpy()
    with torch.inference_mode():
        ref_img = _unit(model.encode_image(torch.from_numpy(probe_px)).float().numpy())
        ref_txt = _unit(model.encode_text(torch.from_numpy(probe_tok)).float().numpy())
    candidates = engines.candidates()
    choice: dict[str, Any] = {}
    # Images are timed in indexing batches, texts one at a time: a query is one text.
    for tower, probe, timing, ref in (("image", probe_px, probe_px, ref_img), ("text", probe_tok, probe_tok[:1], ref_txt)):
        stats = {}
        for name, engine, prec in candidates:
            try:
                start = time.perf_counter()
                run = engines.open_tower(tmp / f"{tower}_{prec}.onnx", engine, threads, cache=False, fallback=False)
                opened = time.perf_counter() - start
            except (ImportError, RuntimeError) as e:  # an engine that is installed but cannot run here
                log.warning("%s cannot run the %s tower: %s", engine, tower, str(e)[:200])
                continue
            out = _unit(run(probe))
            stats[name] = {"fidelity": float(np.mean(np.sum(out * ref, axis=1))), "seconds": best_seconds(run, timing),
                           "open_seconds": opened, "precision": run.precision}
            del run
        name, engine, prec = _choose(stats, candidates, with_open=tower == "text")
        (tmp / f"{tower}_{prec}.onnx").replace(folder / f"{tower}_{prec}.onnx")
        choice[tower], choice[f"{tower}_engine"], choice[f"{tower}_stats"] = f"{tower}_{prec}.onnx", engine, stats
    for f in tmp.iterdir():
        if keep_all or f.name == engines.IMAGE_FP32:
            f.replace(folder / f.name)
        else:
            f.unlink()
    tmp.rmdir()
    choice["candidates"] = [name for name, _, _ in candidates]
    choice["export_version"] = engines.EXPORT_VERSION
    atomic.write_text(folder / "choice.json", json.dumps(choice, indent=2))  # last: its presence means "complete"
    return choice


def _read_choice(path: Path) -> dict[str, Any] | None:
    """The recorded choice, or None if there is none (or only a torn write from a killed export)."""
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None


def _remove_stale_tmp(folder: Path) -> None:
    """Temp folders of exports that were killed (we hold the export lock, so none is running)."""
    import shutil

    for d in folder.glob("tmp*"):
        if d.is_dir():
            shutil.rmtree(d, ignore_errors=True)


def _clear(folder: Path) -> None:
    """Forget an out-of-date export: graphs, compiled blobs, choice and runtime files."""
    import shutil

    for f in folder.iterdir():
        if f.is_dir():
            shutil.rmtree(f, ignore_errors=True)
        elif f.suffix in (".onnx", ".json"):
            f.unlink()


def _choose(stats: dict[str, dict[str, Any]], candidates: list[tuple[str, str, str]],
            with_open: bool = False) -> tuple[str, str, str]:
    """The fastest faithful candidate; int8 wins ties within 5 % (it is also half the memory).

    ``with_open``: the text tower is judged by opening it plus one query, because a search
    from the shell does exactly that (bench/bench_cli.py: MobileCLIP2-S0's text tower opened in
    1.6 s in OpenVINO, 0.48 s in ONNX Runtime fp32, for a 24 vs 46 ms query); the app, which
    opens it once, loses a few ms per query at most.
    """
    by_name = {name: (name, engine, prec) for name, engine, prec in candidates}
    faithful = [n for n in by_name if n in stats and (stats[n]["fidelity"] >= FIDELITY_MIN or n == "fp32")]

    def cost(n: str) -> float:
        return (stats[n]["seconds"] + (stats[n].get("open_seconds", 0.0) if with_open else 0.0)) * (
            0.95 if n == "int8" else 1.0)

    return by_name[min(faithful, key=cost)]

