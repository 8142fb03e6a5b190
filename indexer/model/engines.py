"""The inference engines a tower can run in (ONNX Runtime, OpenVINO), one class per engine,
and which of them this machine has."""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from indexer.base.environment import available_engines
from indexer.model.calibrated import Calibration

log = logging.getLogger(__name__)
TEXT_CHUNK = 16
def return_freed_memory() -> None:
    """Make glibc hand large freed blocks back to the system (no-op elsewhere).

    glibc raises its mmap threshold after the first large block is freed, so later
    batches' activations come from the heap and stay mapped: measured +150 MB resident
    after encoding the query bank, for nothing. A fixed threshold keeps them returnable
    (same search speed, measured).
    """
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL("libc.so.6").mallopt(-3, 256 * 1024)  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        pass  # not glibc (e.g. musl): nothing to tune


def candidates() -> list[tuple[str, str, str]]:
    """(name, engine, graph precision): every way this machine can run a tower."""
    out = [("fp32", "onnxruntime", "fp32"), ("int8", "onnxruntime", "int8")]
    if "openvino" in available_engines():
        out.append(("openvino", "openvino", "fp32"))  # OpenVINO picks bf16 itself where the CPU has it
    return out


IMAGE_FP32 = "image_fp32.onnx"  # kept whatever is chosen: the source of the calibrated int8 tower (calibrated.py)
EXPORT_VERSION = 2  # 2: the fp32 image graph is kept


def choice_is_current(choice: dict[str, Any]) -> bool:
    """A choice made among other candidates (Glimpse or OpenVINO installed since), or by an export
    that did not keep what this version needs, is made again."""
    return "error" in choice or (choice.get("candidates") == [name for name, _, _ in candidates()]
                                 and choice.get("export_version") == EXPORT_VERSION)


class OrtTower:
    """One ONNX graph in ONNX Runtime.

    ``preoptimized``: open the graph as ONNX Runtime optimized it the first time (saved beside
    it), skipping the optimizer: MobileCLIP2-S0's int8 text tower then opens in 0.05 s instead
    of 0.15 s, which a search from the shell pays every time (bench/bench_cli.py). Saved at the
    "extended" level, which ONNX Runtime documents as independent of the CPU (the "all"
    level adds layout changes for convolutions, which a text tower does not have).
    """

    def __init__(self, path: Path, threads: int, preoptimized: bool = False) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Without the arena, a large batch's activations go back to the system afterwards
        # instead of staying reserved for the life of the app (measured: same speed).
        opts.enable_cpu_mem_arena = False
        graph = _optimized(path, opts) if preoptimized else None
        if graph is not None:
            opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        self.session = ort.InferenceSession(str(graph or path), opts, providers=["CPUExecutionProvider"])
        self.input = self.session.get_inputs()[0].name
        self.precision = "int8" if "int8" in path.name else "fp32"

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input: x})[0]


def _optimized(path: Path, opts: Any) -> Path | None:
    """The graph at ``path`` as this ONNX Runtime version optimizes it, made once; None if it cannot be."""
    import onnxruntime as ort

    done = path.with_name(f"{path.stem}.ort-{ort.__version__}.opt.onnx")
    if done.exists() and done.stat().st_mtime >= path.stat().st_mtime:
        return done
    tmp = done.with_name(f"tmp-{os.getpid()}-{done.name}")
    try:
        once = ort.SessionOptions()
        once.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        once.intra_op_num_threads = opts.intra_op_num_threads
        once.optimized_model_filepath = str(tmp)
        ort.InferenceSession(str(path), once, providers=["CPUExecutionProvider"])
        tmp.replace(done)
        return done
    except (OSError, RuntimeError, ort.capi.onnxruntime_pybind11_state.Fail) as e:
        log.info("cannot keep an optimized %s: %s", path.name, e)
        tmp.unlink(missing_ok=True)
        return None


class OvTower:
    """One ONNX graph compiled by OpenVINO, at the CPU's best precision (bf16 where native)."""

    def __init__(self, path: Path, threads: int, cache: Path | None = None, precision: str | None = None) -> None:
        """``precision`` "f32" turns bf16 off (how a CPU without it runs: bench/bench_precision.py)."""
        import openvino as ov

        core = ov.Core()
        if cache is not None:  # compiled blobs: later starts skip most of the compilation
            core.set_property({"CACHE_DIR": str(cache)})
        config = {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY"}
        if precision:
            config["INFERENCE_PRECISION_HINT"] = precision
        self.compiled = core.compile_model(str(path), "CPU", config)
        self.request = self.compiled.create_infer_request()
        hint = self.compiled.get_property("INFERENCE_PRECISION_HINT")
        self.precision = hint.to_string() if hasattr(hint, "to_string") else str(hint)  # "bf16" or "f32"

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.array(self.request.infer({0: x})[0])  # a copy: the request reuses its output buffer


def open_tower(path: Path, engine: str, threads: int, cache: bool = True, fallback: bool = True,
               preoptimized: bool = False) -> OrtTower | OvTower:
    """The graph at ``path`` in ``engine``; ONNX Runtime if OpenVINO is gone or broken since the choice."""
    if engine == "openvino":
        try:
            return OvTower(path, threads, path.parent / "openvino-cache" if cache else None)
        except (ImportError, RuntimeError) as e:
            if not fallback:
                raise
            log.warning("OpenVINO cannot run %s (%s); using ONNX Runtime", path.name, e)
    return OrtTower(path, threads, preoptimized)


def one_blas_thread() -> None:
    """numpy's BLAS on one thread in this process: the encoders own the cores.

    OpenBLAS threads keep spinning for a while after a product; a search's small products
    (the gallery sample times the query) left them spinning against the text tower's next
    run, which then took 38 ms instead of 16 on two cores (bench/bench_gui.py). Glimpse's
    own products are matrix-vector sized, where one thread is as fast. threadpoolctl is
    the maintained way to set this after numpy is loaded (OPENBLAS_NUM_THREADS works only
    before).
    """
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")


class OnnxTowers:
    """Both towers of one model, each in the engine and precision chosen for this CPU (choice.json).

    Each tower loads on first use: indexing never needs the text tower and a session of
    text searches never needs the image tower, and each is 100-200 MB resident.
    """

    def __init__(self, folder: Path, threads: int) -> None:
        return_freed_memory()
        one_blas_thread()
        self.folder, self.threads = folder, threads
        self.choice = json.loads((folder / "choice.json").read_text())
        self.image_graph: Path | None = None  # the image graph taking uint8 pixels, where there is one
        self.image_engine: str | None = None  # where it is not the one chosen at export (calibrated.py)
        self.calibration: Calibration | None = None  # collecting photos for an int8 image graph (calibrated.py)
        self._towers: dict[str, OrtTower | OvTower] = {}
        self._lock = threading.Lock()

    def tower(self, name: str) -> OrtTower | OvTower:
        with self._lock:
            if name not in self._towers:
                engine = self.choice.get(f"{name}_engine", "onnxruntime")
                if name == "image" and self.image_graph and self.image_engine:
                    engine = self.image_engine
                graph = self.image_graph if name == "image" and self.image_graph else self.folder / self.choice[name]
                self._towers[name] = open_tower(graph, engine, self.threads, preoptimized=name == "text")
            return self._towers[name]

    def encode_pixels(self, pixels: np.ndarray) -> np.ndarray:
        """Float pixels (N, 3, H, W), or bytes (N, H, W, 3) where ``image_graph`` takes them."""
        if pixels.dtype == np.uint8 and self.calibration is not None:
            self._calibrate(pixels)
        return self.tower("image")(pixels if pixels.dtype == np.uint8 else pixels.astype(np.float32, copy=False))

    def _calibrate(self, pixels: np.ndarray) -> None:
        """Hand the first photos to the calibration; take its int8 tower if it chose one."""
        better = self.calibration.offer(pixels, self.tower("image"))
        if better is not None:
            with self._lock:
                self._towers["image"] = better
        if self.calibration.done:
            self.calibration = None

    def encode_tokens(self, tokens: np.ndarray) -> np.ndarray:
        """In chunks: one pass over hundreds of texts would need hundreds of MB of activations."""
        tokens = tokens.astype(np.int64, copy=False)
        text = self.tower("text")
        parts = [text(tokens[i:i + TEXT_CHUNK]) for i in range(0, len(tokens), TEXT_CHUNK)]
        return np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)
