"""The image tower in int8 calibrated on the user's own photos: past the fp32 ceiling (issue #39).

Why: on a CPU without bf16 or VNNI (most laptops' AVX2), the image tower is bound by fp32
arithmetic, and ONNX Runtime's dynamic int8 was measured no faster there. Static
quantization — Conv and MatMul, weights per channel, uint8 activations whose ranges are
measured on pictures — lets OpenVINO run its int8 kernels (bench/bench_calibrated.py).
ONNX Runtime's ``quantize_static`` does the graph work; what is ours is only where the
pictures come from and when the result is trusted:

* **the user's photos**: the ranges must come from real pictures (synthetic ones put a
  test model's vectors further from fp32: docs/benchmarks.md), and the first
  ``CALIBRATION + HELD_OUT`` photos the tower embeds are exactly that. They are kept as
  uint8 (12 MB for MobileCLIP's 256 px), then the graph is made once per model and computer
  (about 16 s for MobileCLIP2-S0). The CLI makes it in the indexing pass, which stops for
  that time; the app (``apart``) hands the photos to a child process
  (``calibrate_child.py``) and goes on indexing with the tower it has: quantizing holds the
  GIL long enough to freeze a window (0.75–0.8 s, tests/desktop/test_responsive.py). When
  the child is done the app takes the int8 tower at its next batch (compiling it in
  OpenVINO lets the GIL go), or at its next start;
* **trusted only where it is faithful and faster**: the held-out photos are embedded by the
  fp32 graph and by the int8 one; the int8 tower is kept only if their mean cosine is at
  least ``FIDELITY_MIN``, none is below ``LEAST_MIN``, and it runs a batch faster than the
  tower running now (whatever the export chose: ONNX Runtime fp32 or int8, OpenVINO). Either outcome is written to
  ``calibrated.json`` beside the graphs (the export folder is per model and computer), so
  the next start uses the int8 tower or collects nothing.
"""

from __future__ import annotations

import enum
import json
import logging
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from indexer.base import atomic
from indexer.base.processes import own_command
from indexer.base.timing import best_seconds

log = logging.getLogger(__name__)
RECORD = "calibrated.json"
VERSION = 2  # a new way of quantizing decides again (2: first convolution and projection in float)
CALIBRATION = 32  # photos whose activations set the ranges
HELD_OUT = 32  # photos the decision is measured on
ENABLED = True  # off: the tower chosen at export only (for benchmarks)
FASTER_ONLY = True  # off: chosen on fidelity alone (bench_calibrated.py's retrieval table on the tiny models)
FIDELITY_MIN = 0.99  # mean cosine to the fp32 graph, as for every other candidate (quantize.py)
ATTEMPTS = 2  # decisions the process did not live through before it is not tried again
LEAST_MIN = 0.95  # and no photo further than this: one photo misplaced is one a search does not find
BATCH = 16
PICTURES = "calibration-pictures.npy"  # handed to the child process (``apart``), beside the graph
CHILD_FLAG = "--calibrate-image-tower"  # a frozen bundle's binary started to decide (calibrate_child.py)
Run = Callable[[np.ndarray], np.ndarray]


class Deciding(enum.Enum):
    """Where the int8 image tower is decided, when this computer has no decision for a model yet."""

    HERE = "here"  # in the indexing pass (the CLI: it stops for the time it takes)
    APART = "apart"  # in a child process while indexing goes on (the app: its window stays live)
    NEVER = "never"  # only a decision made earlier is used (the child itself, benchmarks)


def graph_path(graph: Path) -> Path:
    return graph.with_name(f"{graph.stem}.int8cal.onnx")


def recorded_any(graph: Path) -> dict[str, Any] | None:
    """The record for ``graph`` whatever it says (``recorded`` hides one to be retried)."""
    try:
        record = json.loads((graph.parent / RECORD).read_text())
    except (OSError, ValueError):
        return None
    return record if record.get("version") == VERSION and record.get("graph") == graph.name else None


def recorded(graph: Path) -> dict[str, Any] | None:
    """The decision made for ``graph`` (the uint8-input image graph) by this version, if any."""
    record = recorded_any(graph)
    if record is None:
        return None
    if record.get("chosen") and not graph_path(graph).exists():
        return None
    if record.get("interrupted") and record.get("attempts", 0) < ATTEMPTS:
        return None  # the process ended during the decision: once more, then never
    return record


class Calibration:
    """Keeps the first photos the tower embeds; with enough, decides once (``offer``), here or,
    ``apart``, in a child process started with ``threads`` threads."""

    def __init__(self, graph: Path, open_graph: Callable[[Path], Run], apart: bool = False, threads: int = 0) -> None:
        """``graph``: the fp32 image graph taking uint8 pixels; ``open_graph`` runs a graph in OpenVINO."""
        self.graph, self.open_graph, self.apart, self.threads = graph, open_graph, apart, threads
        self.pictures: list[np.ndarray] = []
        self.done = False
        self.child: subprocess.Popen | None = None

    def offer(self, pixels: np.ndarray, running: Run) -> Run | None:
        """Keep ``pixels`` (uint8 NHWC); the int8 tower once it is decided and chosen, else None."""
        if self.done:
            return None
        if self.child is not None:
            return self._child_outcome()
        # a flat picture (a warm-up, a blank scan) says nothing about the ranges of photos
        self.pictures.extend([p for p in pixels if p.std() >= 2.0][: CALIBRATION + HELD_OUT - len(self.pictures)])
        if len(self.pictures) < CALIBRATION + HELD_OUT:
            return None
        pictures, self.pictures = np.stack(self.pictures), []
        if self.apart and self._start_child(pictures):
            return None
        self.done = True
        return self.decide(pictures, running)

    def decide(self, pictures: np.ndarray, running: Run) -> Run | None:
        """Quantize on ``pictures`` and keep the result if it is faithful and faster than ``running``;
        either way the outcome is recorded. Here or in the child process."""
        # Written first: a native crash while quantizing or compiling (not an exception) must not
        # end every later start at the same photo; killed twice, it is not tried again.
        before = (recorded_any(self.graph) or {}).get("attempts", 0)
        self._record({"chosen": False, "interrupted": True, "attempts": before + 1})
        try:
            return self._decide(pictures, running)
        except Exception as e:  # noqa: BLE001 - any failure of the third-party quantizer means "keep the tower"
            log.info("no calibrated int8 image tower: %s", e)
            self._record({"chosen": False, "reason": f"{type(e).__name__}: {str(e)[:300]}"})
            return None

    def _start_child(self, pictures: np.ndarray) -> bool:
        """The decision handed to ``calibrate_child.py``; False if it cannot start (decided here then)."""
        try:
            with atomic.replacing(self.graph.parent / PICTURES, fsync=False) as tmp, open(tmp, "wb") as f:
                np.save(f, pictures)
            cmd = [*own_command("indexer.model.calibrate_child", CHILD_FLAG), str(self.graph),
                   "--threads", str(self.threads)]
            self.child = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL, cwd=Path(__file__).resolve().parents[2])
        except OSError as e:
            log.info("could not decide the int8 image tower in a child process: %s", e)
            return False
        log.info("deciding the int8 image tower in a child process (pid %d)", self.child.pid)
        return True

    def _child_outcome(self) -> Run | None:
        """None while the child works; then its tower if it chose one (the record says)."""
        if self.child is None or self.child.poll() is None:
            return None
        self.done = True
        (self.graph.parent / PICTURES).unlink(missing_ok=True)
        record = recorded_any(self.graph) or {}
        log.info("the child process deciding the int8 image tower ended (%s): %s", self.child.returncode,
                 "chosen" if record.get("chosen") else "not chosen")
        if record.get("chosen") and graph_path(self.graph).exists():
            return self.open_graph(graph_path(self.graph))
        return None

    def _decide(self, pictures: np.ndarray, running: Run) -> Run | None:
        start = time.perf_counter()
        calib, held = pictures[:CALIBRATION], pictures[CALIBRATION:]
        target = graph_path(self.graph)
        with atomic.replacing(target, fsync=False) as tmp:
            quantize(self.graph, tmp, calib)
        candidate = self.open_graph(target)
        cosines = _cosines(_embed(self.open_graph(self.graph), held), _embed(candidate, held))
        cosine, least = float(np.mean(cosines)), float(np.min(cosines))
        batch = held[:BATCH]
        now, int8 = best_seconds(running, batch, 3), best_seconds(candidate, batch, 3)
        chosen = cosine >= FIDELITY_MIN and least >= LEAST_MIN and (int8 < now or not FASTER_ONLY)
        rates = {"running": len(batch) / now, "int8": len(batch) / int8}
        self._record({"chosen": chosen, "mean_cosine": cosine, "least_cosine": least, "photos_per_s": rates,
                      "seconds_to_decide": time.perf_counter() - start})
        log.info("calibrated int8 image tower: cosine %.4f, %.1f vs %.1f photos/s: %s", cosine,
                 len(batch) / int8, len(batch) / now, "chosen" if chosen else "not chosen")
        if not chosen:
            target.unlink(missing_ok=True)
        return candidate if chosen else None

    def _record(self, outcome: dict[str, Any]) -> None:
        record = {"version": VERSION, "graph": self.graph.name, **outcome}
        atomic.write_text(self.graph.parent / RECORD, json.dumps(record, indent=2))


def quantize(graph: Path, out: Path, pictures: np.ndarray) -> None:
    """``graph`` (uint8 NHWC in) statically quantized to QDQ with ranges measured on ``pictures``."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    model = onnx.load(str(graph))
    name = model.graph.input[0].name

    class Pictures(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter([{name: pictures[i:i + 8]} for i in range(0, len(pictures), 8)])

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.batches, None)

    # Only the convolutions and matrix products: quantizing the element-wise multiplies too
    # (MobileCLIP's layer scales) made OpenVINO's low-precision passes fail to compile it (#39).
    # The first convolution (raw pixels in) and the last product (the projection into the
    # embedding) stay float: on the test models, 128 photos not calibrated on kept a mean cosine
    # of 0.998-0.999 (least 0.967) that way, against 0.990-0.997 (least 0.85) with them in int8.
    convs = [n.name for n in model.graph.node if n.op_type == "Conv"]
    products = [n.name for n in model.graph.node if n.op_type in ("MatMul", "Gemm")]
    # (Its advice and bias warnings go to the root logger: glimpse.log, not the terminal; base/logs.py.)
    quantize_static(str(graph), str(out), Pictures(), quant_format=QuantFormat.QDQ,
                    op_types_to_quantize=["Conv", "MatMul"], per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    nodes_to_exclude=convs[:1] + products[-1:])


def _embed(run: Run, pictures: np.ndarray) -> np.ndarray:
    return np.concatenate([run(pictures[i:i + BATCH]) for i in range(0, len(pictures), BATCH)])


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return np.sum(a * b, axis=1)

