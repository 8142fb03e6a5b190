"""Loading an open_clip model from any source and turning pictures and words into vectors.

A model spec is one of:

* ``NAME:PRETRAINED`` (e.g. ``MobileCLIP2-S0:dfndr2b``), or ``NAME`` for its first tag;
  weights download once into the model cache (``config.model_cache_dir``);
* ``NAME:/path/to/weights.safetensors`` for a downloaded checkpoint file;
* ``hf-hub:ORG/REPO`` for an open_clip hub repository;
* ``local-dir:PATH`` or a plain directory path holding ``open_clip_config.json`` and
  weights (the hub layout), which is also how the tests load their tiny model.

MobileCLIP towers are reparameterized (MobileOne branches folded into single convs,
Vasu et al., MobileCLIP, CVPR 2024) before inference: same outputs, fewer ops.
torch, open_clip and timm are imported only when a model is loaded.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from indexer.base.config import model_cache_dir, physical_cores
from indexer.base.processes import own_command
from indexer.model.calibrated import Deciding
from indexer.model.encoder import Towers

log = logging.getLogger(__name__)
EXPORT_FLAG = "--export-model"  # a frozen bundle's binary, started to export a model apart (exportchild.py)


class ModelUnavailable(RuntimeError):
    """The model cannot be loaded; the message tells the user what to do instead."""


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """A parsed model spec: ``source`` is ``pretrained``, ``hf-hub`` or ``local-dir``."""

    source: str
    name: str
    pretrained: str | None = None

    @classmethod
    def parse(cls, spec: str) -> ModelSpec:
        spec = spec.strip()
        if spec.startswith("local-dir:"):
            return cls("local-dir", str(Path(spec[len("local-dir:"):]).expanduser().resolve()))
        if spec.startswith("hf-hub:"):
            return cls("hf-hub", spec[len("hf-hub:"):])
        name, sep, tag = spec.partition(":")
        if sep and os.sep not in name and tag.startswith((os.sep, "~", ".")):  # NAME:/weights.pt (open_clip's)
            return cls("pretrained", name, str(Path(tag).expanduser().resolve()))
        if os.sep in spec or spec.startswith(".") or Path(spec).expanduser().is_dir():
            return cls("local-dir", str(Path(spec).expanduser().resolve()))
        name, _, tag = spec.partition(":")
        return cls("pretrained", name, tag or None)

    def open_clip_name(self) -> str:
        return {"local-dir": f"local-dir:{self.name}", "hf-hub": f"hf-hub:{self.name}"}.get(self.source, self.name)

    def __str__(self) -> str:
        if self.source == "pretrained":
            return f"{self.name}:{self.pretrained}" if self.pretrained else self.name
        return self.open_clip_name()


def fingerprint(spec: ModelSpec) -> str:
    """Identifies the weights, so a library is never searched with vectors of another model."""
    if spec.source != "local-dir":
        return str(spec)
    folder = Path(spec.name)
    h = hashlib.sha256()
    for p in sorted(folder.glob("open_clip_*")):
        h.update(p.name.encode())
        h.update(p.read_bytes() if p.suffix == ".json" else str(p.stat().st_size).encode())
    return f"local-dir:{folder.name}#{h.hexdigest()[:16]}"


def offline_help(spec: ModelSpec, cause: BaseException) -> str:
    return (f"Cannot load model '{spec}': {cause}.\n"
            f"The weights are not in the model cache ({model_cache_dir()}) and could not be downloaded "
            "(no internet?). On a connected machine run `glimpse model download "
            f"{spec}`, or download the open_clip weights yourself and use "
            "`--model local-dir:FOLDER` (a folder with open_clip_config.json and the weights) "
            "or `--model NAME:/path/to/weights.safetensors`.")


def export_in_child(spec: str, threads: int, cache: Path | None) -> bool:
    """Export a model for the torch-free runtime in a child process (``exportchild.py``); False
    if that failed, and the caller exports in its own process as before.

    Why: importing torch and exporting hold the GIL for up to ~0.3 s at a time, and the full
    collections they set off walk torch's objects for 100-230 ms more: the window stopped six
    times for over 100 ms while the tiny test model exported on its first start, and would
    while a model switch exports in the background. The child also takes torch's memory with it.
    A frozen bundle (PyInstaller) has no ``python -m``: its own binary is started with
    ``EXPORT_FLAG`` instead (packaging/entry_*.py hand that to ``exportchild``).
    """
    start = own_command("indexer.model.export_child", EXPORT_FLAG)
    cmd = [*start, spec, "--threads", str(threads)]
    if cache is not None:
        cmd += ["--cache", str(cache)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=Path(__file__).resolve().parents[2])
    except OSError as e:
        log.info("could not start the export of %s in a child process: %s", spec, e)
        return False
    if done.returncode != 0:
        log.info("exporting %s in a child process failed (%s); exporting here", spec, done.stderr.strip()[-500:])
    return done.returncode == 0


class Embedder:
    """An open_clip model ready for inference: unit float32 vectors out, thread-safe.

    ``preprocess`` turns a PIL picture into a (3, H, W) float32 array in any decode
    thread; ``encode_pixels`` takes a stack of those.
    """

    def __init__(self, spec: str, threads: int = 0, precision: str = "fp32", cache: Path | None = None,
                 export_apart: bool = False, calibrate: Deciding = Deciding.HERE) -> None:
        """``precision="int8"`` runs exported towers cached under ``cache``, each in the engine
        and precision measured fastest on this CPU (ORT int8/fp32 or OpenVINO; quantize.py).

        Once a model has been exported, int8 loads without importing torch at all
        (runtime.py). The vectors of both precisions are interchangeable (cosine >= 0.99),
        so the model id does not depend on precision. ``export_apart``: a model not exported
        yet is exported in a child process first (``export_in_child``), here only if that fails;
        one whose export is done but unusable (remembered as impossible) loads here at once.
        ``calibrate``: where an int8 image tower calibrated on the first photos is decided (here,
        in a child process, or never: one decided earlier is used; calibrated.py).
        """
        if precision not in ("fp32", "int8"):
            raise ValueError(f"precision must be fp32 or int8, not {precision!r}")
        self.spec = ModelSpec.parse(spec)
        local = self.spec.source == "local-dir" and Path(self.spec.name).is_dir()
        self.id = fingerprint(self.spec) if local else str(self.spec)
        self.precision, self.calibrate = precision, calibrate
        self.folder = (cache or model_cache_dir() / "onnx") / _safe(self.id)
        self._lock = threading.Lock()
        self.model: Any = None
        self.tokenizer: Any = None  # open_clip's, only when torch is loaded
        self.towers: Towers | None = None
        threads = threads or physical_cores()
        if precision == "int8":
            from indexer.model import runtime

            rt = runtime.load(self.folder, threads, calibrate)
            if rt is None and export_apart and not runtime.exported(self.folder) and export_in_child(spec, threads, cache):
                rt = runtime.load(self.folder, threads, calibrate)
            if rt is not None:
                self._use_runtime(rt)
                return
        self._load_torch(threads)

    def _use_runtime(self, rt: Any) -> None:
        self.towers, self.preprocess, self.tokenize = rt.towers, rt.preprocess, rt.tokenize
        self.dim, self.image_size = rt.dim, rt.image_size

    def _load_torch(self, threads: int) -> None:
        import torch

        torch.set_num_threads(threads)
        model, transform, tokenizer = _create(self.spec)
        self.model = _reparameterize(model).eval()
        self.tokenizer = tokenizer
        self.preprocess = lambda im: transform(im).numpy()
        self.tokenize = lambda texts: tokenizer(list(texts)).numpy()
        with torch.inference_mode():
            self.dim = int(self.model.encode_text(tokenizer(["a"])).shape[-1])
        self.image_size = _image_size(transform)
        self.towers = TorchTowers(self.model)
        if self.precision != "int8":
            return
        from indexer.model import quantize, runtime
        from indexer.model.engines import OnnxTowers

        cfg = dict(getattr(getattr(self.model, "visual", None), "preprocess_cfg", None) or {})
        cfg.setdefault("size", self.image_size)
        if not quantize.ensure(self.folder, self.model, tokenizer, self.image_size, threads,
                               preprocess=self.preprocess, preprocess_cfg=cfg, dim=self.dim):
            return
        rt = runtime.load(self.folder, threads, self.calibrate)
        if rt is not None:
            self._use_runtime(rt)  # verified identical to open_clip's transform and tokenizer
        else:
            self.towers = OnnxTowers(self.folder, threads)
        import gc

        self.model = None  # the engines have their own copy of the weights: free torch's
        gc.collect()

    def encode_pixels(self, pixels: np.ndarray) -> np.ndarray:
        """A batch of preprocessed pictures (N, 3, H, W) -> (N, D) unit vectors."""
        with self._lock:
            return _unit(self.towers.encode_pixels(pixels))

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        if not images:
            return np.zeros((0, self.dim), np.float32)
        return self.encode_pixels(np.stack([self.preprocess(im.convert("RGB")) for im in images]))

    def prepare_texts(self) -> None:
        """Everything any text query can need, loaded now (``Tokenizer.prepare``); torch's
        tokenizer, when torch runs the towers, is loaded with the model."""
        prepare = getattr(self.tokenize, "prepare", None)  # the torch-free Tokenizer has it, torch's lambda not
        if prepare is not None:
            prepare()

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        tokens = self.tokenize(list(texts))
        with self._lock:
            return _unit(self.towers.encode_tokens(tokens))


class TorchTowers:
    """The towers in PyTorch (fp32): the first start, exports, and ``precision="fp32"``."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def encode_pixels(self, pixels: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            return self.model.encode_image(torch.from_numpy(np.ascontiguousarray(pixels))).float().numpy()

    def encode_tokens(self, tokens: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            return self.model.encode_text(torch.from_numpy(tokens)).float().numpy()


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)).astype(np.float32)


def _create(spec: ModelSpec) -> tuple[Any, Any, Any]:
    """open_clip's own loader for every source, with failures turned into plain words.

    Weights from the hub are looked up in the cache first with the hub in offline mode
    (instant, no request); only when they are missing is the hub asked, and only after a
    3-second connection probe, so a machine without network says so at once instead of
    after the hub client's ~50 s of retries.
    """
    import open_clip

    if spec.source == "local-dir":
        folder = Path(spec.name)
        if not (folder / "open_clip_config.json").is_file():
            raise ModelUnavailable(f"'{folder}' is not an open_clip model folder: open_clip_config.json is missing")
    if spec.source == "pretrained":
        known = {n for n, _ in open_clip.list_pretrained()} | set(open_clip.list_models())
        if spec.name not in known:
            raise ModelUnavailable(f"unknown model '{spec.name}'; `glimpse model list` shows the choices")
    kwargs: dict[str, Any] = {"cache_dir": str(model_cache_dir())}
    if spec.source == "pretrained":
        kwargs["pretrained"] = spec.pretrained or _first_tag(spec.name)
    if spec.source == "local-dir" or (spec.pretrained and Path(spec.pretrained).expanduser().is_file()):
        return _create_now(spec, kwargs)
    try:
        with _hub_offline():
            return _create_now(spec, kwargs)
    except ModelUnavailable as e:
        if not _not_cached(e.__cause__):
            raise
    if not hub_reachable():
        raise ModelUnavailable(offline_help(spec, ConnectionError("no connection to the model hub")))
    return _create_now(spec, kwargs)


def _create_now(spec: ModelSpec, kwargs: dict[str, Any]) -> tuple[Any, Any, Any]:
    import open_clip

    try:
        model, _, preprocess = open_clip.create_model_and_transforms(spec.open_clip_name(), **kwargs)
        tokenizer = open_clip.get_tokenizer(spec.open_clip_name(), cache_dir=str(model_cache_dir()))
    except ModelUnavailable:
        raise
    except Exception as e:  # network, cache and format errors from hub/open_clip/torch
        if _not_cached(e):
            raise ModelUnavailable(offline_help(spec, e)) from e
        raise ModelUnavailable(f"Cannot load model '{spec}': {type(e).__name__}: {e}") from e
    return model, preprocess, tokenizer


class _hub_offline:
    """The hub client in offline mode (``HF_HUB_OFFLINE`` semantics) for one load: cache only."""

    def __enter__(self) -> None:
        from huggingface_hub import constants

        self._was = constants.HF_HUB_OFFLINE
        constants.HF_HUB_OFFLINE = True

    def __exit__(self, *exc: object) -> None:
        from huggingface_hub import constants

        constants.HF_HUB_OFFLINE = self._was


def hub_reachable(timeout: float = 3.0) -> bool:
    """Can a TCP connection to the hub be made within ``timeout`` seconds (DNS included)?"""
    import socket
    import urllib.parse

    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return False
    url = urllib.parse.urlsplit(constants.ENDPOINT)
    host, port = url.hostname or "huggingface.co", url.port or (443 if url.scheme == "https" else 80)
    result: list[bool] = []

    def probe() -> None:  # getaddrinfo has no timeout of its own: run it where we can stop waiting
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            result.append(True)
        except OSError:
            result.append(False)

    t = threading.Thread(target=probe, daemon=True)
    t.start()
    t.join(timeout)
    return bool(result and result[0])


def _not_cached(e: BaseException | None) -> bool:
    """Did loading fail because the weights are neither cached nor downloadable (typed hub errors)?"""
    from huggingface_hub import errors

    typed = (errors.LocalEntryNotFoundError, errors.OfflineModeIsEnabled, ConnectionError, TimeoutError)
    seen = 0
    while e is not None and seen < 10:
        if isinstance(e, typed):
            return True
        e, seen = e.__cause__ or e.__context__, seen + 1
    return False


def _first_tag(name: str) -> str | None:
    import open_clip

    tags = [t for n, t in open_clip.list_pretrained() if n == name]
    return tags[0] if tags else None


def _reparameterize(model: Any) -> Any:
    """Fold MobileOne/RepMixer train-time branches (no-op for other architectures)."""
    try:
        from timm.utils.model import reparameterize_model
    except ImportError:
        return model
    return reparameterize_model(model)


def _image_size(preprocess: Any) -> int:
    for t in getattr(preprocess, "transforms", []):
        size = getattr(t, "size", None)
        if isinstance(size, int):
            return size
        if isinstance(size, (tuple, list)) and size:
            return int(size[0])
    return 224


def read_model_config(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "open_clip_config.json").read_text())
