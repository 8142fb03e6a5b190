"""Opening photos: small and upright for the model, with the metadata people filter by.

JPEGs are decoded with ``draft()``, which lets libjpeg scale by 1/2..1/8 while it
decodes: a 12 MP photo needed at 256 px costs a fraction of a full decode. EXIF
orientation is applied so a phone's portrait shot is embedded upright.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import os
import threading
import warnings
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError

# A 150 MP panorama is real; a 50,000 x 50,000 PNG bomb is not. Non-JPEG formats cannot
# be decoded downscaled, so this also bounds memory: 150 MP x 3 bytes = 450 MB at most.
MAX_PIXELS = 150_000_000
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
RAW_EXTENSIONS = frozenset({".cr2", ".cr3", ".nef", ".arw", ".dng", ".orf", ".rw2", ".raf", ".pef", ".srw"})
_heif_lock = threading.Lock()
_heif_ready = False


class DecodeError(Exception):
    """A file that cannot be indexed; ``str()`` is a reason a person can act on."""


@dataclasses.dataclass(frozen=True)
class PhotoMeta:
    width: int
    height: int
    taken_at: float | None
    camera: str | None
    lat: float | None
    lon: float | None


@dataclasses.dataclass(frozen=True)
class Decoded:
    image: Image.Image
    meta: PhotoMeta


def quick_hash(path: Path, size: int | None = None, block: int = 65536) -> str:
    """Size + first and last 64 KiB: cheap, and enough to recognise a moved file."""
    size = path.stat().st_size if size is None else size
    h = hashlib.blake2b(str(size).encode(), digest_size=16)
    with open(path, "rb") as f:
        h.update(f.read(block))
        if size > block:
            f.seek(max(block, size - block))
            h.update(f.read(block))
    return h.hexdigest()


def _ensure_heif() -> None:
    global _heif_ready
    with _heif_lock:
        if not _heif_ready:
            try:
                import pillow_heif

                pillow_heif.register_heif_opener()
            except ImportError:
                pass
            _heif_ready = True


def load_image(path: Path, target: int = 256) -> Decoded:
    """Decode ``path`` upright, at least ``target`` px on its short side where possible."""
    if path.suffix.lower() in {".heic", ".heif"}:
        _ensure_heif()
    if path.suffix.lower() in RAW_EXTENSIONS:
        return _load_raw(path, target)
    try:
        if os.path.getsize(path) == 0:
            raise DecodeError("empty file (0 bytes)")
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return _open(path, target)
    except DecodeError:
        raise
    except FileNotFoundError as e:
        raise DecodeError("file disappeared before it could be read") from e
    except PermissionError as e:
        raise DecodeError("permission denied: Glimpse cannot read this file") from e
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise DecodeError(f"image is larger than {MAX_PIXELS // 1_000_000} megapixels; refused as a "
                          "possible decompression bomb") from e
    except UnidentifiedImageError as e:
        raise DecodeError("not a recognisable image (wrong extension or damaged file)") from e
    except (OSError, SyntaxError, ValueError) as e:
        msg = str(e)
        if "truncated" in msg or "broken data stream" in msg or "image file is truncated" in msg:
            raise DecodeError("truncated or damaged image data") from e
        raise DecodeError(f"cannot decode image: {msg}") from e


def _open(path: Path, target: int) -> Decoded:
    with Image.open(path) as im:
        meta_src = im.getexif()
        orig_w, orig_h = im.size
        if im.format == "JPEG":
            im.draft("RGB", (target, target))  # libjpeg scales by 1/2..1/8 while decoding
        im.load()
        img = _to_rgb(ImageOps.exif_transpose(im))
    rotated = _orientation(meta_src) in (5, 6, 7, 8)
    w, h = (orig_h, orig_w) if rotated else (orig_w, orig_h)
    return Decoded(img, PhotoMeta(w, h, *_exif_fields(meta_src)))


def _load_raw(path: Path, target: int) -> Decoded:
    """Camera RAW: the embedded JPEG preview (what the camera showed), via rawpy."""
    try:
        import rawpy
    except ImportError:
        raise DecodeError("camera RAW file: install rawpy (pip install rawpy) to index its embedded preview") from None
    import io

    try:
        with rawpy.imread(str(path)) as raw:
            thumb = raw.extract_thumb()
    except Exception as e:  # rawpy raises its own LibRaw error types
        raise DecodeError(f"camera RAW file without a readable preview: {e}") from e
    if thumb.format != rawpy.ThumbFormat.JPEG:
        raise DecodeError("camera RAW file whose preview is not a JPEG")
    tmp = io.BytesIO(thumb.data)
    with Image.open(tmp) as im:
        im.draft("RGB", (target, target))
        img = _to_rgb(ImageOps.exif_transpose(im))
    return Decoded(img, PhotoMeta(img.width, img.height, None, None, None, None))


def _to_rgb(img: Image.Image) -> Image.Image:
    """Flatten transparency onto white and convert CMYK/16-bit/palette to 8-bit RGB."""
    if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(bg, rgba).convert("RGB")
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        return img.point(lambda v: v / 256).convert("L").convert("RGB")
    return img.convert("RGB") if img.mode != "RGB" else img


def _orientation(exif: Any) -> int:
    try:
        return int(exif.get(0x0112, 1))
    except (TypeError, ValueError):
        return 1


def _exif_fields(exif: Any) -> tuple[float | None, str | None, float | None, float | None]:
    """(capture time, camera, lat, lon); broken EXIF yields Nones, never an exception."""
    taken = camera = lat = lon = None
    try:
        sub = exif.get_ifd(0x8769)
        raw = sub.get(0x9003) or sub.get(0x9004) or exif.get(0x0132)
        if raw:
            taken = dt.datetime.strptime(str(raw).strip("\x00 ")[:19], "%Y:%m:%d %H:%M:%S").timestamp()
    except (ValueError, TypeError, KeyError, AttributeError, OSError):
        taken = None
    try:
        make, model = (str(exif.get(t, "")).strip("\x00 ") for t in (0x010F, 0x0110))
        camera = (model if model.lower().startswith(make.lower()) else f"{make} {model}").strip() or None
    except (TypeError, ValueError):
        camera = None
    try:
        gps = exif.get_ifd(0x8825)
        if gps and 2 in gps and 4 in gps:
            lat = _dms(gps[2]) * (-1 if gps.get(1) == "S" else 1)
            lon = _dms(gps[4]) * (-1 if gps.get(3) == "W" else 1)
    except (TypeError, ValueError, ZeroDivisionError, KeyError, AttributeError):
        lat = lon = None
    return taken, camera, lat, lon


def _dms(v: Any) -> float:
    d, m, s = (float(x) for x in v)
    return d + m / 60 + s / 3600
