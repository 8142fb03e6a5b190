"""open_clip's image preprocessing in PIL and numpy, so inference needs no torch (runtime.py)."""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

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
        return self.normalise(self.rgb(image))

    def normalise(self, rgb: np.ndarray) -> np.ndarray:
        """(size, size, 3) bytes -> the normalised (3, size, size) floats a float graph takes."""
        x = rgb.astype(np.float32).transpose(2, 0, 1) / np.float32(255)
        return np.ascontiguousarray((x - self.mean) / self.std)

    def rgb(self, image: Image.Image) -> np.ndarray:
        """The picture resized and cropped, as (size, size, 3) bytes: what an image graph with
        the normalisation inside takes (u8graph.py). An RGB picture is not converted: Pillow's
        convert copies it even then (0.3 ms of ~5 ms decode work per photo)."""
        return np.asarray(self._geometry(image if image.mode == "RGB" else image.convert("RGB")))

    def _geometry(self, im: Image.Image) -> Image.Image:
        im = _resize(im, *self.resized_size(*im.size), self.resample)
        return _crop_or_pad(im, self.size, self.fill if self.mode == "longest" else 0)

    def resized_size(self, w: int, h: int) -> tuple[int, int]:
        """(width, height) the resize gives a ``w`` x ``h`` picture, before the centre crop or pad."""
        s = self.size
        if self.mode == "squash":
            return s, s
        if self.mode == "shortest":
            return (s, int(s * h / w)) if w <= h else (int(s * w / h), s)
        ratio = max(h / s, w / s)
        return round(w / ratio), round(h / ratio)

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
    left, top = centre_offset(w, h, s)
    return im if (w, h) == (s, s) else im.crop((left, top, left + s, top + s))


def centre_offset(w: int, h: int, s: int) -> tuple[int, int]:
    """(left, top) of the centred ``s`` x ``s`` crop of a ``w`` x ``h`` picture, rounded as torchvision does."""
    return int(round((w - s) / 2.0)), int(round((h - s) / 2.0))


def probe_pictures() -> list[Image.Image]:
    """Pictures that exercise every branch: both orientations, exact size, tiny, grey, alpha."""
    rng = np.random.default_rng(1)
    sizes = [(300, 200), (200, 300), (256, 256), (64, 64), (1000, 37), (37, 1000), (31, 45), (257, 255)]
    out = [Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)) for w, h in sizes]
    out.append(Image.fromarray(rng.integers(0, 256, (90, 70), dtype=np.uint8), "L"))
    out.append(Image.fromarray(rng.integers(0, 256, (50, 80, 4), dtype=np.uint8), "RGBA"))
    return out
