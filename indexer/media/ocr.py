"""Reading the words in a picture: RapidOCR (PP-OCR detection + recognition on ONNX Runtime).

Why this library: it ships the PaddleOCR models inside its wheel (no download, works
offline from the first start), runs on the ONNX Runtime Glimpse already uses, and reads
Latin text with diacritics as well as CJK. Writing a text detector by hand is out of the
question; what is ours is only how it is called:

* **cheap first**: the picture is scaled so its long side is at most ``MAX_SIDE`` before
  detection, and recognition runs only on the boxes the detector found, so a photo
  without text costs one small detector pass;
* **quiet**: RapidOCR logs every model path at INFO; we ask for errors only;
* **boxes as fractions** of the upright picture (0..1), so they stay right whatever size
  the preview shows it at.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from importlib import metadata

import numpy as np
from PIL import Image

MAX_SIDE = 960  # detection input; 1280 found no more lines on the shared photos (docs/benchmarks.md)
MIN_CONFIDENCE = 0.6  # below this, single-glyph guesses on textures (measured on the shared photos)
# A lone glyph is what shapes look like to the recogniser (a circle reads "O", a triangle "A",
# a square "口": 13 of 60 generated shape pictures had one); nobody searches for one letter.
MIN_CHARACTERS = 2


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
    """Loads the OCR models on first use; ``read`` is safe to call from one thread at a time."""

    def __init__(self, threads: int = 0) -> None:
        self.threads = threads
        self._engine = None
        self._lock = threading.Lock()

    def _load(self):
        try:
            from rapidocr import RapidOCR
        except ImportError as e:
            raise OcrUnavailable("reading text needs the 'rapidocr' package; reinstall Glimpse "
                                 "(make run) or turn text reading off in settings") from e
        params = {"Global.log_level": "error", "Det.limit_type": "max", "Det.limit_side_len": MAX_SIDE}
        if self.threads:
            params["EngineConfig.onnxruntime.intra_op_num_threads"] = self.threads
        engine = RapidOCR(params=params)
        logging.getLogger("RapidOCR").setLevel(logging.ERROR)
        return engine

    def read(self, image: Image.Image, ts: float | None = None) -> list[TextLine]:
        """The lines of text in ``image`` (RGB), best-read first within reading order."""
        with self._lock:
            if self._engine is None:
                self._engine = self._load()
            small = _fit(image, MAX_SIDE)
            out = self._engine(np.asarray(small))
        if out.txts is None or out.boxes is None:
            return []
        w, h = small.size
        lines = []
        for text, score, quad in zip(out.txts, out.scores, out.boxes, strict=True):
            text = " ".join(str(text).split())
            if float(score) < MIN_CONFIDENCE or sum(c.isalnum() for c in text) < MIN_CHARACTERS:
                continue
            q = np.asarray(quad, dtype=np.float32)
            box = (float(q[:, 0].min()) / w, float(q[:, 1].min()) / h, float(q[:, 0].max()) / w, float(q[:, 1].max()) / h)
            lines.append(TextLine(text, float(score), tuple(round(min(max(v, 0.0), 1.0), 4) for v in box), ts))
        return lines


def _fit(image: Image.Image, side: int) -> Image.Image:
    image = image.convert("RGB") if image.mode != "RGB" else image
    if max(image.size) <= side:
        return image
    scale = side / max(image.size)
    return image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                        Image.Resampling.BILINEAR, reducing_gap=2.0)
