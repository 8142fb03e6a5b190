"""Opening photos: small and upright for the model, with the metadata people filter by.

JPEGs are decoded with ``draft()``, which lets libjpeg scale by 1/2..1/8 while it
decodes: a 12 MP photo needed at 256 px costs a fraction of a full decode. EXIF
orientation is applied so a phone's portrait shot is embedded upright.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import errno
import hashlib
import os
import struct
import threading
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# A 150 MP panorama is real; a 50,000 x 50,000 PNG bomb is not. Non-JPEG formats cannot
# be decoded downscaled, so this also bounds memory: 150 MP x 3 bytes = 450 MB at most.
MAX_PIXELS = 150_000_000
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
BOMB = f"image is larger than {MAX_PIXELS // 1_000_000} megapixels; refused as a possible decompression bomb"
MAX_ASPECT = 8.0  # longer pictures are cropped to their centre before the model sees them
STRETCH_MAX_SIDE = 1024  # 16-bit/float data is subsampled to about this before scaling to 8 bits
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
    """Decode ``path`` upright, at least ``target`` px on its short side where possible,
    and no longer than ``MAX_ASPECT``:1 (``limit_aspect``).

    Every failure becomes a ``DecodeError`` whose message a person can act on.
    """
    try:
        if path.suffix.lower() in {".heic", ".heif"}:
            _ensure_heif()
        if os.path.getsize(path) == 0:
            raise DecodeError("empty file (0 bytes)")
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            if path.suffix.lower() not in RAW_EXTENSIONS:
                return _open(path, target)
            try:
                return _load_raw(path, target)
            except DecodeError as raw_error:
                try:  # a RAW that Pillow reads (TIFF-based), or an ordinary picture with a RAW name
                    return _open(path, target)
                except Exception:  # noqa: BLE001 - the RAW reason is the useful one
                    raise raw_error from None
    except DecodeError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise DecodeError(BOMB) from e
    except UnidentifiedImageError as e:
        raise DecodeError("not a recognisable image (wrong extension or damaged file)") from e
    except Exception as e:  # noqa: BLE001 - decoders raise anything on damaged data
        raise DecodeError(reason_for(e)) from e


def picture(path: Path, max_side: int) -> Image.Image:
    """The picture upright, at most ``max_side`` px on its long side (a preview: never a full 12 MP
    decode where the JPEG decoder can scale while reading)."""
    img = load_image(Path(path), max(1, max_side // 2)).image
    img.thumbnail((max_side, max_side))
    return img


def limit_aspect(img: Image.Image, max_aspect: float = MAX_ASPECT) -> Image.Image:
    """The central part of a very elongated picture, at most ``max_aspect``:1.

    CLIP preprocessing scales the *short* side to the model's size, so a 1 x 100,000
    strip (real: scanner calibration strips, damaged headers) would become a
    256 x 25,600,000 float image, gigabytes, only for the centre square to be kept.
    Cropping the centre first keeps exactly that square for any ratio up to ``max_aspect``.
    """
    w, h = img.size
    if w > max_aspect * h:
        keep = max(1, int(max_aspect * h))
        return img.crop(((w - keep) // 2, 0, (w - keep) // 2 + keep, h))
    if h > max_aspect * w:
        keep = max(1, int(max_aspect * w))
        return img.crop((0, (h - keep) // 2, w, (h - keep) // 2 + keep))
    return img


_IO_ERRNOS = {errno.EIO, errno.ENXIO, errno.ENAMETOOLONG, errno.ELOOP, errno.ESTALE, errno.ETIMEDOUT, errno.EBUSY,
              errno.EACCES, errno.EPERM, errno.ENOENT, errno.ENOTDIR, errno.ENODEV, errno.EAGAIN}  # the disk's fault


def reason_for(e: BaseException) -> str:
    """A sentence a person can act on, for anything that went wrong with one file."""
    msg = str(e)
    if isinstance(e, FileNotFoundError):
        return "file disappeared before it could be read"
    if isinstance(e, PermissionError):
        return "permission denied: Glimpse cannot read this file"
    if isinstance(e, IsADirectoryError):
        return "not a file (a folder with a photo's name)"
    if isinstance(e, MemoryError):
        return "not enough memory to decode this file"
    if isinstance(e, OSError) and e.errno in _IO_ERRNOS:
        return f"cannot read: {e.strerror or msg}"
    if "truncated" in msg.lower() or "broken data stream" in msg:
        return "truncated or damaged image data"
    if isinstance(e, (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError, KeyError, TypeError,
                      ZeroDivisionError, OverflowError)):
        return f"cannot decode image (damaged or unusual file): {msg or type(e).__name__}"
    return f"could not be indexed ({type(e).__name__}: {msg[:200]}); details in the log"


def _open(path: Path, target: int) -> Decoded:
    with Image.open(path) as im:
        _refuse_bombs(im.size)
        meta_src = _exif(im)
        orig_w, orig_h = im.size
        if im.format == "JPEG":
            im.draft("RGB", (target, target))  # libjpeg scales by 1/2..1/8 while decoding
        im.load()  # multi-frame files (GIF, TIFF pages, MPO): the first frame
        img = to_rgb(_upright(_shrink(limit_aspect(im), target)))
    rotated = _orientation(meta_src) in (5, 6, 7, 8)
    w, h = (orig_h, orig_w) if rotated else (orig_w, orig_h)
    try:
        fields = _exif_fields(meta_src)
    except Exception:  # noqa: BLE001 - damaged metadata must not cost the picture
        fields = (None, None, None, None)
    return Decoded(img, PhotoMeta(w, h, *fields))


def _refuse_bombs(size: tuple[int, int]) -> None:
    """Pillow only warns between 1x and 2x ``MAX_IMAGE_PIXELS``, and the warnings filter that turns
    that into an error (``load_image``) is process-wide, so a decode thread leaving its
    ``catch_warnings`` can undo it for another: the size is checked here, in this thread."""
    if size[0] * size[1] > MAX_PIXELS:
        raise DecodeError(BOMB)


def _shrink(im: Image.Image, target: int) -> Image.Image:
    """Box-reduce a large decoded picture to about 2x the model's size before any conversion,
    so a 100 MP PNG or TIFF costs one full-size buffer, not several (JPEGs are already small
    thanks to ``draft``). Modes Pillow cannot reduce are left to ``to_rgb``."""
    factor = min(im.size) // (2 * target)
    if factor < 2:
        return im
    try:
        return im.reduce(factor)
    except ValueError:  # "1", "P", "I;16*": 1-2 bytes a pixel; to_rgb subsamples 16-bit data itself
        return im


def _exif(im: Image.Image) -> Any:
    """The EXIF block, or an empty one when it is damaged (the pixels may still be fine)."""
    try:
        return im.getexif()
    except Exception:  # noqa: BLE001 - Pillow's EXIF parser raises many types on bad tags
        return Image.Exif()


def _upright(im: Image.Image) -> Image.Image:
    """Apply the EXIF orientation; a damaged orientation tag leaves the image as stored."""
    try:
        return ImageOps.exif_transpose(im)
    except Exception:  # noqa: BLE001
        return im


def _load_raw(path: Path, target: int) -> Decoded:
    """Camera RAW: the embedded JPEG preview (what the camera showed), via rawpy."""
    try:
        import rawpy
    except ImportError:
        raise DecodeError("camera RAW file: install rawpy (pip install rawpy) to index its embedded preview") from None
    import io

    try:
        with open(path, "rb") as f, rawpy.imread(f) as raw:  # a file object: any file name
            thumb = raw.extract_thumb()
    except Exception as e:  # rawpy raises its own LibRaw error types
        raise DecodeError(f"camera RAW file without a readable preview: {e}") from e
    if thumb.format != rawpy.ThumbFormat.JPEG:
        raise DecodeError("camera RAW file whose preview is not a JPEG")
    with Image.open(io.BytesIO(thumb.data)) as im:
        im.draft("RGB", (target, target))
        img = to_rgb(_upright(limit_aspect(im)))
    return Decoded(img, PhotoMeta(img.width, img.height, None, None, None, None))


def to_rgb(img: Image.Image) -> Image.Image:
    """8-bit RGB from any mode Pillow opens, as a person would see the picture.

    Transparency is flattened onto white; 16-bit, 32-bit and float data (scanners,
    microscopes, astronomy) are stretched over their actual range, since such files
    often use a few hundred levels out of 65,536 and would look black if clipped.
    LAB/HSV and other colour spaces go through Pillow's converters.
    """
    if img.mode in ("RGBa", "La"):  # premultiplied alpha
        img = img.convert(img.mode.upper())
    if img.mode in ("RGBA", "LA", "PA") or (img.mode in ("P", "L", "RGB") and "transparency" in img.info):
        rgba = img.convert("RGBA")
        bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(bg, rgba).convert("RGB")
    if img.mode in ("I", "F") or img.mode.startswith("I;16"):
        data = np.asarray(img)
        step = max(1, min(data.shape[:2]) // STRETCH_MAX_SIDE)
        return _stretch(data[::step, ::step]).convert("RGB")  # a strided view: no full-size float copy
    if img.mode == "LAB":
        return _lab_to_rgb(img)
    if img.mode == "RGB":
        return img
    return img.convert("RGB")


def _stretch(a: np.ndarray) -> Image.Image:
    """Map the finite values' 0.1..99.9 percentile range onto 0..255 (robust to a few hot pixels)."""
    a = a.astype(np.float32)
    sample = a.ravel()[:: max(1, a.size // 1_000_000)]  # percentiles of a million values are plenty
    finite = sample[np.isfinite(sample)]
    if finite.size == 0:
        return Image.new("L", (a.shape[1], a.shape[0]))
    lo, hi = (float(v) for v in np.percentile(finite, [0.1, 99.9])) if finite.size > 1000 else \
        (float(finite.min()), float(finite.max()))
    if hi <= lo:
        hi = lo + 1.0
    np.nan_to_num(a, copy=False, nan=lo, posinf=hi, neginf=lo)
    a -= lo
    a *= 255.0 / (hi - lo)
    np.clip(a, 0, 255, out=a)
    return Image.fromarray(a.astype(np.uint8), "L")


def _lab_to_rgb(img: Image.Image) -> Image.Image:
    """CIELAB (Pillow stores L 0..255, a/b offset by 128) through Pillow's CMS converter."""
    from PIL import ImageCms

    transform = ImageCms.buildTransform(ImageCms.createProfile("LAB"), ImageCms.createProfile("sRGB"), "LAB", "RGB")
    return ImageCms.applyTransform(img, transform)


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
