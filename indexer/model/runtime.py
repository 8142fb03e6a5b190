"""Running an exported model with ONNX Runtime, numpy and PIL only: no torch at run time.

Importing torch costs about 600 MB of memory and seconds of start-up, more than the
rest of Glimpse together. So the first start with a model exports it once
(quantize.py) and writes, beside the two ONNX towers, what inference needs besides the
weights: the image preprocessing (``runtime.json``) and the tokenizer
(``tokenizer.json``, CLIP's byte-level BPE in Hugging Face ``tokenizers`` form). Every
later start loads only those. Both are checked against open_clip's own transform and
tokenizer at export time, on probe inputs, and are used only if they agree exactly;
otherwise the model keeps open_clip's (and torch) for that part.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from indexer.base import atomic
from indexer.base.environment import available_engines
from indexer.model import calibrated, u8graph
from indexer.model.calibrated import Deciding
from indexer.model.engines import IMAGE_FP32, OnnxTowers, OrtTower, choice_is_current, open_tower
from indexer.model.preprocess import Preprocessor, probe_pictures
from indexer.model.tokenizer import PROBE_STRINGS, TOKENIZER_FILE, Tokenizer, tokenizer_from_open_clip

log = logging.getLogger(__name__)
RUNTIME_FILE = "runtime.json"
BYTES_IN = True  # the image tower takes uint8 pixels where it can (u8graph.py); off: the float path, for benchmarks
class Runtime:
    """Everything inference needs, loaded from an export folder without torch."""

    def __init__(self, folder: Path, threads: int, meta: dict[str, Any], calibrate: Deciding = Deciding.HERE) -> None:
        self.towers = OnnxTowers(folder, threads)
        pre = Preprocessor(meta["preprocess"])
        bytes_in = BYTES_IN and _bytes_in(self.towers, pre, threads)
        if bytes_in:
            _int8_calibrated(self.towers, pre, threads, calibrate)
        self.preprocess: Callable[[Image.Image], np.ndarray] = pre.rgb if bytes_in else pre
        self.tokenize: Callable[[Sequence[str]], np.ndarray] = Tokenizer(folder / TOKENIZER_FILE, meta["tokenizer"])
        self.dim = int(meta["dim"])
        self.image_size = int(meta["preprocess"]["size"])


def _bytes_in(towers: OnnxTowers, pre: Preprocessor, threads: int) -> bool:
    """Give the image tower uint8 pixels with the normalisation in its graph (u8graph.py), if it agrees."""
    towers.image_graph = _uint8_input(towers.folder / towers.choice["image"], pre, threads)
    return towers.image_graph is not None


def _uint8_input(graph: Path, pre: Preprocessor, threads: int) -> Path | None:
    """``graph`` taking uint8 pixels, made once and kept only if it agrees with the float path.

    The check embeds the probe pictures both ways in ONNX Runtime (whatever engine runs the
    tower later: the graphs are the same but for their first four nodes).
    """
    def check(wrapped: Path) -> bool:  # runs once, when the graph is made: not at every start
        pics = [im.convert("RGB") for im in probe_pictures()]
        cos = u8graph.agrees(OrtTower(wrapped, threads), OrtTower(graph, threads),
                             np.stack([pre.rgb(im) for im in pics]), np.stack([pre(im) for im in pics]))
        log.info("uint8 image graph for %s: least cosine to the float path %.6f", graph.name, cos)
        return cos >= u8graph.FIDELITY_MIN

    return u8graph.wrap(graph, pre.mean.ravel().tolist(), pre.std.ravel().tolist(), check)


def _int8_calibrated(towers: OnnxTowers, pre: Preprocessor, threads: int, deciding: Deciding) -> None:
    """The image tower in int8 calibrated on the user's photos, made from the fp32 graph the export
    keeps, where OpenVINO can run it (calibrated.py): in use if chosen before, else collecting photos
    to decide ``deciding`` (here, in a child process, or never)."""
    fp32 = towers.folder / IMAGE_FP32
    if not calibrated.ENABLED or "openvino" not in available_engines() or not fp32.exists():
        return
    source = u8graph.u8_path(fp32)  # named here, made below only when photos are collected for it
    record = calibrated.recorded(source)
    if record is not None:
        if record["chosen"]:
            towers.image_graph, towers.image_engine = calibrated.graph_path(source), "openvino"
        return
    # the uint8 graph of the export's fp32 one (its own, if it chose fp32)
    if deciding is not Deciding.NEVER and (made := _uint8_input(fp32, pre, threads)) is not None:
        towers.calibration = calibrated.Calibration(made, int8_opener(threads), apart=deciding is Deciding.APART,
                                                    threads=threads)


def int8_opener(threads: int) -> Callable[[Path], calibrated.Run]:
    """How a calibrated graph is opened, here and in the deciding child: OpenVINO, no fallback."""
    return lambda graph: open_tower(graph, "openvino", threads, cache=False, fallback=False)


def load(folder: Path, threads: int, calibrate: Deciding = Deciding.HERE) -> Runtime | None:
    """The torch-free runtime of an exported model, or None if it has none (yet)."""
    try:
        meta = json.loads((folder / RUNTIME_FILE).read_text())
        choice = json.loads((folder / "choice.json").read_text())
        if "error" in choice or not choice_is_current(choice):
            return None
    except (OSError, ValueError):
        return None
    if not meta.get("preprocess") or not meta.get("tokenizer"):
        return None
    return Runtime(folder, threads, meta, calibrate)


def exported(folder: Path) -> bool:
    """Whether this model's export was made, or found impossible, by this version (quantize.ensure):
    then exporting again, in a child process or here, finds nothing to do."""
    try:
        choice = json.loads((folder / "choice.json").read_text())
    except (OSError, ValueError):
        return False
    return "error" in choice or (choice_is_current(choice) and (folder / RUNTIME_FILE).exists())


def write(folder: Path, preprocess: Callable[[Image.Image], Any], preprocess_cfg: dict[str, Any],
          tokenizer: Any, dim: int) -> dict[str, Any]:
    """Record the torch-free preprocessing and tokenizer, each only if it matches open_clip's."""
    meta: dict[str, Any] = {"dim": dim, "preprocess": None, "tokenizer": None}
    try:
        pre = Preprocessor(preprocess_cfg)
        # Glimpse always hands the transform RGB pictures, so that is what is compared.
        pics = [im.convert("RGB") for im in probe_pictures()]
        worst = max(float(np.abs(pre(im) - np.asarray(preprocess(im))).max()) for im in pics)
        if worst <= 1e-5:
            meta["preprocess"] = pre.config()
        else:
            log.info("numpy preprocessing differs from open_clip's by %.3g; keeping open_clip's", worst)
    except (KeyError, ValueError, TypeError) as e:
        log.info("no numpy preprocessing for this model: %s", e)
    exported = tokenizer_from_open_clip(tokenizer)
    if exported is not None:
        text, tmeta = exported
        atomic.write_text(folder / TOKENIZER_FILE, text)
        ours = Tokenizer(folder / TOKENIZER_FILE, tmeta)(list(PROBE_STRINGS))
        if np.array_equal(ours, np.asarray(tokenizer(list(PROBE_STRINGS)))):
            meta["tokenizer"] = tmeta
        else:
            log.info("exported tokenizer differs from open_clip's; keeping open_clip's")
    atomic.write_text(folder / RUNTIME_FILE, json.dumps(meta, indent=2))
    return meta
