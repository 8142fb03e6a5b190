"""Reading the words in a picture: RapidOCR (PP-OCR detection + recognition on ONNX Runtime).

Why this library: it ships the PaddleOCR models inside its wheel (no download, works
offline from the first start), runs on the ONNX Runtime Glimpse already uses, and reads
Latin text with diacritics as well as CJK. Writing a text detector by hand is out of the
question; what is ours is only how it is called:

* **cheap first**: the picture is scaled so its long side is at most ``MAX_SIDE`` before
  detection, and recognition runs only on the boxes the detector found. A first look with
  the detector at 480 px, reading in full only where it found boxes, was measured and
  dropped (issue #37, docs/benchmarks.md): it kept the words but passed 38 of 40 generated
  12 MP photos without text (shapes look like boxes at 480 px) and made the pass slower;
* **the faster engine** of ONNX Runtime and OpenVINO for this machine (``ocr_engine.py``);
* **one picture per core**: a picture of a few hundred pixels keeps two threads of one engine
  half idle (the detector's layers are small; recognition runs a few boxes at a time), so
  ``TextReader`` keeps one single-threaded engine per core (at most ``MAX_READERS``: each
  holds ~165 MB; on more cores each gets more threads) and reads that many pictures at
  once: in one run on the shared photos (decoded beforehand, two cores), OpenVINO 17.3 -> 19.7
  pictures/s and ONNX Runtime 10.6 -> 20.9 (docs/benchmarks.md, issue #37).
  OpenVINO's pinning is turned off for them: two single-threaded engines pinned to the same
  core ran at half speed (measured);
* **quiet**: RapidOCR logs every model path at INFO; we ask for errors only;
* **boxes as fractions** of the upright picture (0..1), so they stay right whatever size
  the preview shows it at.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
from importlib import metadata
from pathlib import Path

import numpy as np
from PIL import Image

from indexer.base.config import physical_cores
from indexer.media import ocr_engine

MAX_SIDE = 960  # detection input; 1280 found no more lines on the shared photos (docs/benchmarks.md)
# A video frame's detection input (#37: a 10-minute 1080p video read in <= 10 s; the detector's time
# goes with its pixels, 75 % of a frame's read). On 1080p frames of rendered text (JPEG q80, read
# from 720p as the pass decodes them; 120 frames with text 16-64 px high, 80 with 12-40 px), 832 px
# found the words 960 px did (recall 0.968 / 0.910 vs 0.964 / 0.910, precision 0.989 / 0.951 vs
# 0.989 / 0.958) in 0.75-0.8 of the time; 768 px lost small text (0.898, precision 0.935).
VIDEO_SIDE = 832
BOX = 0.5  # RapidOCR's own box threshold
MIN_CONFIDENCE = 0.6  # below this, single-glyph guesses on textures (measured on the shared photos)
# A lone glyph is what shapes look like to the recogniser (a circle reads "O", a triangle "A",
# a square "口": 13 of 60 generated shape pictures had one); nobody searches for one letter.
MIN_CHARACTERS = 2
MAX_READERS = 2  # engines reading at once: each holds ~165 MB (measured); with more cores each gets more threads


@dataclasses.dataclass(frozen=True)
class TextLine:
    """One line of text found in a picture; ``box`` is (x0, y0, x1, y1) as fractions of its size."""

    text: str
    confidence: float
    box: tuple[float, float, float, float]
    ts: float | None = None  # seconds into a video, for text read from a frame


class OcrUnavailable(RuntimeError):
    """The OCR package is missing or its models cannot be loaded; the message says what to do."""


def reader_version() -> str:
    """Identifies what read a file's text: a new package or setting reads every file again."""
    try:
        v = metadata.version("rapidocr")
    except metadata.PackageNotFoundError:
        v = "missing"
    return f"rapidocr-{v}/{MAX_SIDE}/{MIN_CONFIDENCE}/{MIN_CHARACTERS}"


class TextReader:
    """Loads the OCR models on first use; ``read`` is safe to call from ``readers`` threads at once
    (each takes an engine of its own; more callers wait for one).

    ``threads``: cores to use in all (0: every physical core), one engine per core up to
    ``MAX_READERS`` (``readers``: that many instead, sharing the threads); ``cache``: where the
    engine choice is kept (None: ONNX Runtime, nothing measured); ``engine``: this engine, not
    measured (the bench's baseline)."""

    def __init__(self, threads: int = 0, cache: Path | None = None, engine: str | None = None,
                 readers: int | None = None) -> None:
        cores = threads or physical_cores()
        self.readers = max(1, min(readers or cores, MAX_READERS))
        self.threads = max(1, cores // self.readers)  # each engine's own
        self.cache, self.engine_name = cache, engine
        self._idle: queue.Queue = queue.Queue()
        self._made = 0
        self._lock = threading.Lock()

    def reader_on(self, engine: str):
        """A read of raw pixels on ``engine`` as one of this reader's engines runs it (``ocr_engine.chosen``)."""
        ocr = _rapidocr(engine, self.threads, pinned=self.readers == 1)
        return lambda pixels: ocr(pixels, use_det=True, use_cls=True, use_rec=True, box_thresh=BOX).txts

    def read(self, image: Image.Image, ts: float | None = None, side: int = MAX_SIDE) -> list[TextLine]:
        """The lines of text in ``image`` (RGB), best-read first within reading order, detected with
        its long side at most ``side``."""
        small = _fit(image, side)
        engine = self._take()
        try:
            # every step named on each call: RapidOCR keeps the last call's settings
            out = engine(np.asarray(small), use_det=True, use_cls=True, use_rec=True, box_thresh=BOX)
        finally:
            self._idle.put(engine)
        return _lines(out, small.size, ts)

    def _take(self):
        """An idle engine, a new one while fewer than ``readers`` exist, else the next one let go."""
        with self._lock:
            try:
                return self._idle.get_nowait()
            except queue.Empty:
                if self._made < self.readers:
                    if self.engine_name is None:
                        self.engine_name = ("onnxruntime" if self.cache is None
                                            else ocr_engine.chosen(self.cache, self.reader_on, self.readers))
                    engine = _rapidocr(self.engine_name, self.threads, pinned=self.readers == 1)
                    self._made += 1  # only once made: a failure raises here for every caller, none waits
                    return engine
        return self._idle.get()


def _lines(out, size: tuple[int, int], ts: float | None) -> list[TextLine]:  # noqa: ANN001 - RapidOCR's output
    """RapidOCR's output as lines worth keeping, boxes as fractions of the picture read (``size``)."""
    if out.txts is None or out.boxes is None:
        return []
    w, h = size
    lines = []
    for text, score, quad in zip(out.txts, out.scores, out.boxes, strict=True):
        text = " ".join(str(text).split())
        if float(score) < MIN_CONFIDENCE or sum(c.isalnum() for c in text) < MIN_CHARACTERS:
            continue
        q = np.asarray(quad, dtype=np.float32)
        box = (float(q[:, 0].min()) / w, float(q[:, 1].min()) / h, float(q[:, 0].max()) / w, float(q[:, 1].max()) / h)
        lines.append(TextLine(text, float(score), tuple(round(min(max(v, 0.0), 1.0), 4) for v in box), ts))
    return lines


def _rapidocr(engine: str, threads: int, pinned: bool = True):
    """RapidOCR on ``engine`` ("onnxruntime" or "openvino") with ``threads`` threads, quiet,
    detecting at ``MAX_SIDE``; ``pinned=False`` when several engines share the cores."""
    try:
        from rapidocr import EngineType, RapidOCR
    except ImportError as e:
        raise OcrUnavailable("reading text needs the 'rapidocr' package; reinstall Glimpse "
                             "(make run) or turn text reading off in settings") from e
    params: dict[str, object] = {"Global.log_level": "error", "Det.limit_type": "max", "Det.limit_side_len": MAX_SIDE}
    if engine == "openvino":
        _in_fp32()
        for step in ("Det", "Cls", "Rec"):
            params[f"{step}.engine_type"] = EngineType.OPENVINO
        params["EngineConfig.openvino.inference_num_threads"] = threads
        if not pinned:
            params["EngineConfig.openvino.enable_cpu_pinning"] = False
    else:
        params["EngineConfig.onnxruntime.intra_op_num_threads"] = threads
    ocr = RapidOCR(params=params)
    logging.getLogger("RapidOCR").setLevel(logging.ERROR)
    return ocr


def _in_fp32() -> None:
    """OpenVINO runs a model in bf16 on a CPU with AVX512-BF16 or AMX, and RapidOCR (3.x) gives it no
    precision setting: in bf16 PP-OCR kept 0.95 of the words ONNX Runtime reads on the shared photos
    (AVX-512 EPYC, docs/benchmarks.md), in f32 all of them, still 1.15x ONNX Runtime's speed. So the
    OpenVINO ``Core`` RapidOCR's sessions are made with (a name in its module, not a public API: if it
    goes, this raises and the engine check keeps ONNX Runtime) compiles them in f32. Only RapidOCR's."""
    import openvino as ov
    from rapidocr.inference_engine.openvino import main as rapid_openvino

    if getattr(rapid_openvino.Core, "glimpse_f32", False):
        return

    class F32Core(ov.Core):
        glimpse_f32 = True

        def compile_model(self, model, device_name=None, config=None):  # noqa: ANN001, ANN201 - OpenVINO's own
            return super().compile_model(model, device_name or "CPU", {**(config or {}), "INFERENCE_PRECISION_HINT": "f32"})

    rapid_openvino.Core = F32Core


def _fit(image: Image.Image, side: int) -> Image.Image:
    image = image.convert("RGB") if image.mode != "RGB" else image
    if max(image.size) <= side:
        return image
    scale = side / max(image.size)
    return image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                        Image.Resampling.BILINEAR, reducing_gap=2.0)
