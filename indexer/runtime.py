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

import html
import json
import logging
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from indexer import atomic

log = logging.getLogger(__name__)
RUNTIME_FILE = "runtime.json"
TOKENIZER_FILE = "tokenizer.json"
TEXT_CHUNK = 16
# open_clip's SimpleTokenizer word pattern, minus the special tokens (matched as added tokens).
WORD_PATTERN = r"(?i)'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"
PROBE_STRINGS = (
    "a dog on a beach at sunset", "A RED Car, parked.", "it's the cat's toy; they'll see", "", "   spaced \t out\n text ",
    "café naïve Ünïcödé façade", "日本語のテキスト", "emoji 🐶🌅 mix", "numbers 12 345.67 and 1st", "<b>bold &amp; html</b>",
    "x" * 300, " ".join(["word"] * 120), "don't STOP—believin’", "C++ / C# & $5 @ 10% #tag", "mixedCase CamelCaseWord",
)
_RESAMPLE = {"bicubic": Image.Resampling.BICUBIC, "bilinear": Image.Resampling.BILINEAR}


class Preprocessor:
    """open_clip's inference transform (resize, crop or pad, scale, normalise) in PIL + numpy.

    Mirrors torchvision's rules for PIL input: shortest-edge resize with ``int()``
    for the long edge, ``round()`` for centre crops, ``(d)//2`` / ``(d+1)//2`` padding.
    """

    def __init__(self, cfg: dict[str, Any]) -> None:
        size = cfg["size"]
        if isinstance(size, (list, tuple)):
            if len(set(size)) != 1:
                raise ValueError(f"non-square input {size} is not supported")
            size = size[0]
        self.size = int(size)
        self.mode = cfg.get("resize_mode", "shortest")
        if self.mode not in ("shortest", "longest", "squash"):
            raise ValueError(f"unknown resize_mode {self.mode!r}")
        self.resample = _RESAMPLE["bilinear" if cfg.get("interpolation") == "bilinear" else "bicubic"]
        self.fill = int(cfg.get("fill_color", 0) or 0)
        self.mean = np.asarray(cfg["mean"], np.float32).reshape(3, 1, 1)
        self.std = np.asarray(cfg["std"], np.float32).reshape(3, 1, 1)

    def __call__(self, image: Image.Image) -> np.ndarray:
        im = self._geometry(image.convert("RGB"))
        x = np.asarray(im, dtype=np.float32).transpose(2, 0, 1) / np.float32(255)
        return np.ascontiguousarray((x - self.mean) / self.std)

    def _geometry(self, im: Image.Image) -> Image.Image:
        s, (w, h) = self.size, im.size
        if self.mode == "squash":
            return _resize(im, s, s, self.resample)
        if self.mode == "shortest":
            if w <= h:
                im = _resize(im, s, int(s * h / w), self.resample)
            else:
                im = _resize(im, int(s * w / h), s, self.resample)
            return _crop_or_pad(im, s, 0)
        ratio = max(h / s, w / s)
        return _crop_or_pad(_resize(im, round(w / ratio), round(h / ratio), self.resample), s, self.fill)

    def config(self) -> dict[str, Any]:
        inv = {v: k for k, v in _RESAMPLE.items()}
        return {"size": self.size, "resize_mode": self.mode, "interpolation": inv[self.resample],
                "fill_color": self.fill, "mean": self.mean.ravel().tolist(), "std": self.std.ravel().tolist()}


def _resize(im: Image.Image, w: int, h: int, resample: Image.Resampling) -> Image.Image:
    return im if im.size == (w, h) else im.resize((w, h), resample)


def _crop_or_pad(im: Image.Image, s: int, fill: int) -> Image.Image:
    w, h = im.size
    if w < s or h < s:
        pw, ph = max(s - w, 0), max(s - h, 0)
        canvas = Image.new("RGB", (w + pw, h + ph), (fill,) * 3)
        canvas.paste(im, (pw // 2, ph // 2))
        im, (w, h) = canvas, canvas.size
    top, left = int(round((h - s) / 2.0)), int(round((w - s) / 2.0))
    return im if (w, h) == (s, s) else im.crop((left, top, left + s, top + s))


class Tokenizer:
    """CLIP's tokenizer (open_clip ``SimpleTokenizer``): ftfy + html clean-up, byte-level BPE."""

    def __init__(self, path: Path, meta: dict[str, Any]) -> None:
        from tokenizers import Tokenizer as HFTokenizer

        self.bpe = HFTokenizer.from_file(str(path))
        self.context_length = int(meta["context_length"])
        self.sot, self.eot = int(meta["sot"]), int(meta["eot"])
        self.lower = meta["clean"] == "lower"

    def clean(self, text: str) -> str:
        import ftfy

        text = html.unescape(html.unescape(ftfy.fix_text(text))).strip()
        text = " ".join(text.split())
        return text.lower() if self.lower else text

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.context_length), np.int64)
        encoded = self.bpe.encode_batch([self.clean(t) for t in texts], add_special_tokens=False)
        for i, enc in enumerate(encoded):
            ids = [self.sot, *enc.ids, self.eot]
            if len(ids) > self.context_length:
                ids = ids[: self.context_length]
                ids[-1] = self.eot
            out[i, : len(ids)] = ids
        return out


def tokenizer_from_open_clip(tok: Any) -> tuple[str, dict[str, Any]] | None:
    """``tokenizer.json`` text and settings for an open_clip SimpleTokenizer (None for others)."""
    if type(tok).__name__ != "SimpleTokenizer" or getattr(tok, "reduction_fn", None) is not None:
        return None
    clean = {"_clean_lower": "lower", "_clean_whitespace": "whitespace"}.get(getattr(tok.clean_fn, "__name__", ""))
    if clean is None:
        return None
    from tokenizers import Regex, models, pre_tokenizers
    from tokenizers import Tokenizer as HFTokenizer

    merges = [pair for pair, _ in sorted(tok.bpe_ranks.items(), key=lambda kv: kv[1])]
    hf = HFTokenizer(models.BPE(vocab=dict(tok.encoder), merges=merges, end_of_word_suffix="</w>"))
    hf.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(WORD_PATTERN), behavior="removed", invert=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    hf.add_special_tokens([tok.decoder[i] for i in tok.all_special_ids])
    meta = {"context_length": int(tok.context_length), "sot": int(tok.sot_token_id), "eot": int(tok.eot_token_id),
            "clean": clean}
    return hf.to_str(), meta


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


ENGINES = ("onnxruntime", "openvino")


def available_engines() -> list[str]:
    """ONNX Runtime always; OpenVINO where installed (it runs bf16 on CPUs with AMX/AVX512-BF16).

    ``GLIMPSE_ENGINES=onnxruntime`` (comma-separated) limits the choice, e.g. to rule out an
    engine that misbehaves on some machine; ONNX Runtime always stays available.
    """
    import importlib.util

    wanted = {e.strip() for e in os.environ.get("GLIMPSE_ENGINES", ",".join(ENGINES)).split(",")} | {"onnxruntime"}
    return [e for e in ENGINES if e in wanted and importlib.util.find_spec(e) is not None]


def candidates() -> list[tuple[str, str, str]]:
    """(name, engine, graph precision): every way this machine can run a tower."""
    out = [("fp32", "onnxruntime", "fp32"), ("int8", "onnxruntime", "int8")]
    if "openvino" in available_engines():
        out.append(("openvino", "openvino", "fp32"))  # OpenVINO picks bf16 itself where the CPU has it
    return out


def choice_is_current(choice: dict[str, Any]) -> bool:
    """A choice made among other candidates (Glimpse or OpenVINO installed since) is made again."""
    return "error" in choice or choice.get("candidates") == [name for name, _, _ in candidates()]


class OrtTower:
    """One ONNX graph in ONNX Runtime."""

    def __init__(self, path: Path, threads: int) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Without the arena, a large batch's activations go back to the system afterwards
        # instead of staying reserved for the life of the app (measured: same speed).
        opts.enable_cpu_mem_arena = False
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self.input = self.session.get_inputs()[0].name
        self.precision = "int8" if "int8" in path.name else "fp32"

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input: x})[0]


class OvTower:
    """One ONNX graph compiled by OpenVINO, at the CPU's best precision (bf16 where native)."""

    def __init__(self, path: Path, threads: int, cache: Path | None = None) -> None:
        import openvino as ov

        core = ov.Core()
        if cache is not None:  # compiled blobs: later starts skip most of the compilation
            core.set_property({"CACHE_DIR": str(cache)})
        self.compiled = core.compile_model(str(path), "CPU", {"INFERENCE_NUM_THREADS": threads,
                                                               "PERFORMANCE_HINT": "LATENCY"})
        self.request = self.compiled.create_infer_request()
        hint = self.compiled.get_property("INFERENCE_PRECISION_HINT")
        self.precision = hint.to_string() if hasattr(hint, "to_string") else str(hint)  # "bf16" or "f32"

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.array(self.request.infer({0: x})[0])  # a copy: the request reuses its output buffer


def open_tower(path: Path, engine: str, threads: int, cache: bool = True, fallback: bool = True) -> OrtTower | OvTower:
    """The graph at ``path`` in ``engine``; ONNX Runtime if OpenVINO is gone or broken since the choice."""
    if engine == "openvino":
        try:
            return OvTower(path, threads, path.parent / "openvino-cache" if cache else None)
        except (ImportError, RuntimeError) as e:
            if not fallback:
                raise
            log.warning("OpenVINO cannot run %s (%s); using ONNX Runtime", path.name, e)
    return OrtTower(path, threads)


class OnnxTowers:
    """Both towers of one model, each in the engine and precision chosen for this CPU (choice.json).

    Each tower loads on first use: indexing never needs the text tower and a session of
    text searches never needs the image tower, and each is 100-200 MB resident.
    """

    def __init__(self, folder: Path, threads: int) -> None:
        return_freed_memory()
        self.folder, self.threads = folder, threads
        self.choice = json.loads((folder / "choice.json").read_text())
        self._towers: dict[str, OrtTower | OvTower] = {}
        self._lock = threading.Lock()

    def tower(self, name: str) -> OrtTower | OvTower:
        with self._lock:
            if name not in self._towers:
                engine = self.choice.get(f"{name}_engine", "onnxruntime")
                self._towers[name] = open_tower(self.folder / self.choice[name], engine, self.threads)
            return self._towers[name]

    def encode_pixels(self, pixels: np.ndarray) -> np.ndarray:
        return self.tower("image")(pixels.astype(np.float32, copy=False))

    def encode_tokens(self, tokens: np.ndarray) -> np.ndarray:
        """In chunks: one pass over hundreds of texts would need hundreds of MB of activations."""
        tokens = tokens.astype(np.int64, copy=False)
        text = self.tower("text")
        parts = [text(tokens[i:i + TEXT_CHUNK]) for i in range(0, len(tokens), TEXT_CHUNK)]
        return np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)


class Runtime:
    """Everything inference needs, loaded from an export folder without torch."""

    def __init__(self, folder: Path, threads: int, meta: dict[str, Any]) -> None:
        self.towers = OnnxTowers(folder, threads)
        self.preprocess: Callable[[Image.Image], np.ndarray] = Preprocessor(meta["preprocess"])
        self.tokenize: Callable[[Sequence[str]], np.ndarray] = Tokenizer(folder / TOKENIZER_FILE, meta["tokenizer"])
        self.dim = int(meta["dim"])
        self.image_size = int(meta["preprocess"]["size"])


def load(folder: Path, threads: int) -> Runtime | None:
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
    return Runtime(folder, threads, meta)


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


def probe_pictures() -> list[Image.Image]:
    """Pictures that exercise every branch: both orientations, exact size, tiny, grey, alpha."""
    rng = np.random.default_rng(1)
    sizes = [(300, 200), (200, 300), (256, 256), (64, 64), (1000, 37), (37, 1000), (31, 45), (257, 255)]
    out = [Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)) for w, h in sizes]
    out.append(Image.fromarray(rng.integers(0, 256, (90, 70), dtype=np.uint8), "L"))
    out.append(Image.fromarray(rng.integers(0, 256, (50, 80, 4), dtype=np.uint8), "RGBA"))
    return out
