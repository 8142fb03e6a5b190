"""Which inference engine runs the OCR models fastest on this machine, measured once.

RapidOCR runs its PP-OCR models on ONNX Runtime or on OpenVINO, both installed with
Glimpse. Neither wins everywhere: on the AVX2-only EPYC OpenVINO read the shared photos
1.25x faster (docs/benchmarks.md), and the image tower's engine is already chosen per
machine by measurement (``model/quantize.py``). The same here: both engines read one
rendered sign picture, the faster wins if it reads the same words, and the choice is kept
in the model cache for the next process (measured again when RapidOCR, the candidate
engines or the CPU change).
"""

from __future__ import annotations

import json
import logging
import platform
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import numpy as np

from indexer.base import atomic
from indexer.base.environment import available_engines
from indexer.base.timing import best_seconds

log = logging.getLogger(__name__)
CHOICE_FILE = "ocr-engine.json"
PROBE_WORDS = ("GLIMPSE FINDS PHOTOS", "Platform 9 · Exit", "OPEN 24 HOURS")


Read = Callable[[np.ndarray], object]  # one picture's pixels -> what was read


def chosen(cache: Path, make: Callable[[str], Read], readers: int = 1) -> str:
    """The engine to read with: the recorded choice, or one measured now with ``make(engine)``
    (a callable that builds one engine as it will run and returns ``read(pixels) -> texts``;
    ``readers`` of them will read at once, which the recorded rate counts in)."""
    key = _key()
    path = cache / CHOICE_FILE
    try:
        rec = json.loads(path.read_text())
        if rec.get("key") == key:
            return str(rec["engine"])
    except (FileNotFoundError, ValueError, KeyError):
        pass
    engines = key["engines"]
    if len(engines) == 1:
        return engines[0]
    rates, texts = {}, {}
    probe = probe_picture()
    for engine in engines:
        try:
            read = make(engine)
            texts[engine] = read(probe)
            rates[engine] = 1.0 / best_seconds(read, probe, 3)
        except Exception as e:  # noqa: BLE001 - an engine that cannot run here is no candidate
            log.warning("OCR on %s failed here: %s", engine, str(e)[:200])
    faithful = {e: r for e, r in rates.items() if texts[e] == texts.get("onnxruntime", texts[e])}
    engine = max(faithful, key=faithful.get) if faithful else "onnxruntime"
    try:
        cache.mkdir(parents=True, exist_ok=True)
        atomic.write_text(path, json.dumps({"key": key, "engine": engine, "pictures_per_s": rates, "readers": readers},
                                           indent=2))
    except OSError as e:  # a read-only cache: measured again next time, nothing else lost
        log.info("cannot keep the OCR engine choice in %s: %s", cache, e)
    return engine


def recorded_rate(cache: Path) -> float | None:
    """Pictures/s the chosen engines read the probe at (one engine's rate times the engines reading
    at once), when this computer's choice is recorded."""
    try:
        rec = json.loads((cache / CHOICE_FILE).read_text())
        if rec.get("key") != _key():
            return None
        return float(rec["pictures_per_s"][rec["engine"]]) * int(rec.get("readers", 1))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def probe_picture() -> np.ndarray:
    """A 960 x 720 picture with three lines of text on a textured background (RGB)."""
    from PIL import Image, ImageDraw, ImageFont

    rng = np.random.default_rng(7)
    base = (rng.normal(128, 40, (720 // 8, 960 // 8, 3)).clip(0, 255)).astype(np.uint8)
    img = Image.fromarray(base).resize((960, 720), Image.Resampling.BILINEAR)
    draw = ImageDraw.Draw(img)
    for i, words in enumerate(PROBE_WORDS):
        draw.rectangle((60, 80 + i * 200, 900, 200 + i * 200), fill=(250, 250, 245))
        draw.text((90, 100 + i * 200), words, fill=(10, 10, 10), font=ImageFont.load_default(size=64))
    return np.asarray(img)


def _key() -> dict[str, object]:
    try:
        version = metadata.version("rapidocr")
    except metadata.PackageNotFoundError:
        version = "missing"
    # "precision": OpenVINO's OCR models run in f32 since the AVX-512 EPYC showed bf16 losing words (ocr.py);
    # "engine": each measured as one of the engines reading at once runs it (ocr.py: one per core, at most two)
    return {"rapidocr": version, "engines": available_engines(), "cpu": _cpu(), "precision": "f32",
            "engine": "one per core"}


def _cpu() -> str:
    """The CPU model and its vector extensions: a choice measured on one does not carry to another."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine()
    name = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "")
    flags = next((line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), [])
    return " ".join([name, *sorted(f for f in flags if f.startswith(("avx", "amx", "fma")))])
