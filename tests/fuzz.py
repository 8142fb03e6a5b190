"""A deterministic corpus of hostile files, the kind real disks hold (``make test`` and bench).

``write_fuzz_corpus(folder, n, seed)`` writes ``n`` files: valid but odd images of every
mode and format Pillow reads, small videos in five containers, and mutations of them
(bit flips, truncations at random offsets, swapped headers and extensions, zero-length
files, huge declared dimensions, broken video atoms), under names with invalid UTF-8,
control characters, emoji, spaces and 255-byte lengths. Same seed, same bytes.
"""

from __future__ import annotations

import io
import os
import random
import struct
import warnings
import zlib
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from tests import world

IMAGE_FORMATS = {  # extension -> Pillow format
    "jpg": "JPEG", "png": "PNG", "gif": "GIF", "bmp": "BMP", "tif": "TIFF", "webp": "WEBP",
}
VIDEO_KINDS = (("mp4", "mp4v"), ("mov", "mp4v"), ("mkv", "MJPG"), ("avi", "MJPG"), ("webm", "VP80"))
MODES = ("1", "L", "LA", "P", "PA", "I", "F", "I;16", "I;16B", "CMYK", "YCbCr", "LAB", "RGB", "RGBA")
MODE_FORMATS = {  # formats whose Pillow writer stores the mode as it is
    "1": ("png", "tif", "bmp", "gif"), "L": tuple(IMAGE_FORMATS), "LA": ("png", "tif"),
    "P": ("png", "gif", "tif", "bmp"), "PA": ("tif",), "I": ("tif",), "F": ("tif",), "I;16": ("png", "tif"),
    "I;16B": ("png", "tif"), "CMYK": ("jpg", "tif"), "YCbCr": ("jpg", "tif"), "LAB": ("tif",),
    "RGB": tuple(IMAGE_FORMATS), "RGBA": ("png", "tif", "webp", "bmp"),
}


def _image(rng: random.Random) -> Image.Image:
    w, h = rng.choice([(64, 48), (96, 96), (1, 1), (3, 200), (200, 2), (160, 120), (20_000, 1), (2, 9_000)])
    if max(w, h) > 400:  # a strip: drawn small and stretched (drawing stripes 20,000 px long is slow)
        return world.render(world.random_scene(rng), 64, seed=rng.randrange(1000)).resize((w, h))
    return world.render(world.random_scene(rng), max(8, min(w, h)), seed=rng.randrange(1000), canvas=(w, h))


def _in_mode(img: Image.Image, mode: str) -> Image.Image:
    if mode == "PA":
        return img.convert("P").convert("PA")
    if mode in ("I;16", "I;16B"):
        import numpy as np

        a = (np.asarray(img.convert("L"), dtype=np.uint16) * 3 + 500).astype("<u2" if mode == "I;16" else ">u2")
        return Image.frombytes(mode, img.size, a.tobytes())
    return img.convert(mode)


def valid_image(rng: random.Random) -> tuple[bytes, str]:
    """A valid image of a random mode in a format that stores it, sometimes multi-frame or EXIF-rotated."""
    mode = rng.choice(MODES)
    ext = rng.choice(MODE_FORMATS[mode])
    img = _in_mode(_image(rng), mode)
    buf = io.BytesIO()
    kwargs: dict = {}
    if ext == "jpg" and rng.random() < 0.4:
        exif = Image.Exif()
        exif[0x0112] = rng.randint(0, 9)  # 0 and 9 are invalid orientations
        kwargs["exif"] = exif
    if ext in ("gif", "tif", "png", "webp") and mode in ("RGB", "P", "L") and rng.random() < 0.3:
        kwargs.update(save_all=True, append_images=[_in_mode(_image(rng).resize(img.size), mode)])
    try:
        img.save(buf, IMAGE_FORMATS[ext], **kwargs)
    except (OSError, ValueError, RuntimeError):  # beyond the format's limits (WebP: 16,383 px, GIF: 65,535 px)
        buf, ext = io.BytesIO(), "tif"
        img.save(buf, "TIFF")
    return buf.getvalue(), ext


def valid_video(rng: random.Random, tmp: Path) -> tuple[bytes, str]:
    import cv2
    import numpy as np

    ext, fourcc = rng.choice(VIDEO_KINDS)
    path = tmp / f"v.{ext}"
    size = rng.choice([(32, 32), (48, 32)])
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 5, size)
    base = np.asarray(world.render(world.random_scene(rng), min(size), canvas=size))[:, :, ::-1]
    for f in range(rng.randint(3, 12)):
        writer.write(np.ascontiguousarray(np.roll(base, f, axis=1)))
    writer.release()
    data = path.read_bytes()
    path.unlink()
    return data, ext


# mutations --------------------------------------------------------------------------------------
def bit_flips(data: bytes, rng: random.Random) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 40)):
        i = rng.randrange(len(b))
        b[i] ^= 1 << rng.randrange(8)
    return bytes(b)


def truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(1, max(2, len(data)))]


def swap_header(data: bytes, rng: random.Random, other: bytes) -> bytes:
    k = rng.randint(4, 64)
    return other[:k] + data[k:]


def huge_png(rng: random.Random) -> bytes:
    """A tiny PNG whose header declares up to 2^31-1 pixels a side (a decompression bomb)."""
    w, h = rng.choice([(100_000, 100_000), (2**31 - 1, 1), (1, 2**31 - 1), (30_000, 30_000), (0, 10)])
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))  # noqa: E731
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def huge_gif(rng: random.Random) -> bytes:
    w, h = rng.choice([(65535, 65535), (65535, 1), (0, 0)])
    return b"GIF89a" + struct.pack("<HH", w, h) + b"\x00\x00\x00" + b",\x00\x00\x00\x00" + struct.pack("<HH", w, h) + \
        b"\x00\x02\x02\x44\x01\x00;"


def huge_bmp(rng: random.Random) -> bytes:
    w, h = rng.choice([(200_000, 200_000), (-5, 10), (1, -2_000_000_000)])
    info = struct.pack("<IiiHHIIiiII", 40, w, h, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 54 + 64, 0, 0, 54) + info + b"\x00" * 64


def broken_atoms(data: bytes, rng: random.Random) -> bytes:
    """MP4/MOV boxes renamed, resized or cut: what a crashed camera or download leaves."""
    b = bytearray(data)
    for atom in (b"moov", b"mdat", b"trak", b"stsz", b"stco", b"mvhd"):
        i = b.find(atom)
        if i >= 4 and rng.random() < 0.5:
            choice = rng.randrange(3)
            if choice == 0:
                b[i:i + 4] = b"free"
            elif choice == 1:
                b[i - 4:i] = struct.pack(">I", rng.choice([0, 1, 7, 0xFFFFFFFF, len(b) * 3]))
            else:
                del b[i + 8: i + 8 + rng.randint(1, 200)]
    return bytes(b)


# names ------------------------------------------------------------------------------------------
def hostile_name(i: int, ext: str, rng: random.Random) -> bytes:
    """A unique file name (bytes): plain, invalid UTF-8, control characters, emoji or 255 bytes long."""
    stem = f"{i:05d}".encode()
    kind = rng.randrange(8)
    if kind == 1:
        stem += b" \xe9t\xe9 \xff\xfe"  # Latin-1 / not UTF-8 at all
    elif kind == 2:
        stem += b" line\nbreak\ttab\x01\x1f\x7f"
    elif kind == 3:
        stem += " emoji 🎉📷 写真".encode()
    elif kind == 4:
        stem = b" " + stem + b"  trailing "
    elif kind == 5:
        stem += b"x" * (255 - len(stem) - len(ext) - 1)  # the longest name most file systems allow
    elif kind == 6:
        stem += b" \xc3\x28 \xed\xa0\x80"  # invalid UTF-8 sequences (bad continuation, a surrogate)
    return stem + b"." + ext.encode()


# the corpus -------------------------------------------------------------------------------------
def write_fuzz_corpus(folder: Path, n: int, seed: int = 0) -> list[Path]:
    """``n`` hostile files under ``folder`` (and a few subfolders); returns their paths."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    subdirs = [folder, folder / "sub", folder / os.fsdecode(b"dir \xe9"), folder / "a" / "b" / "c"]
    for d in subdirs:
        d.mkdir(parents=True, exist_ok=True)
    scratch = folder.parent / f".fuzz-scratch-{seed}"
    scratch.mkdir(exist_ok=True)
    videos = [valid_video(random.Random(seed * 7919 + k), scratch) for k in range(12)]
    scratch.rmdir()
    samples = [valid_image(random.Random(seed * 104729 + k)) for k in range(48)]
    makers: list[tuple[float, Callable[[random.Random], tuple[bytes, str]]]] = [
        (0.22, lambda r: valid_image(r)),
        (0.16, lambda r: (lambda d, e: (bit_flips(d, r), e))(*r.choice(samples))),
        (0.16, lambda r: (lambda d, e: (truncate(d, r), e))(*r.choice(samples))),
        (0.06, lambda r: (lambda d, e: (swap_header(d, r, r.choice(samples)[0]), e))(*r.choice(samples))),
        (0.06, lambda r: (r.choice(samples)[0], r.choice(list(IMAGE_FORMATS) + ["heic", "nef"]))),  # wrong extension
        (0.03, lambda r: (b"", r.choice(list(IMAGE_FORMATS) + [k for k, _ in VIDEO_KINDS]))),
        (0.05, lambda r: r.choice([(huge_png(r), "png"), (huge_gif(r), "gif"), (huge_bmp(r), "bmp")])),
        (0.02, lambda r: (r.randbytes(r.randint(1, 4000)), r.choice(list(IMAGE_FORMATS)))),
        (0.08, lambda r: r.choice(videos)),
        (0.06, lambda r: (lambda d, e: (broken_atoms(d, r), e))(*r.choice(videos))),
        (0.05, lambda r: (lambda d, e: (r.choice([bit_flips, truncate])(d, r), e))(*r.choice(videos))),
        (0.05, lambda r: (r.choice(samples)[0], r.choice([k for k, _ in VIDEO_KINDS]))),  # an image named .mp4
    ]
    weights = [w for w, _ in makers]
    out = []
    for i in range(n):
        r = random.Random(rng.randrange(2**63))
        maker = r.choices([m for _, m in makers], weights)[0]
        data, ext = maker(r)
        path = Path(os.fsdecode(os.fsencode(str(r.choice(subdirs))) + b"/" + hostile_name(i, ext, r)))
        path.write_bytes(data)
        out.append(path)
    return out


def snapshot(folder: Path) -> dict[bytes, tuple[int, int, bytes]]:
    """(size, mtime_ns, blake2b) of every file, keyed by its path bytes: to prove nothing changed."""
    import hashlib

    snap = {}
    for dirpath, _, files in os.walk(os.fsencode(str(folder))):
        for f in files:
            p = os.path.join(dirpath, f)
            st = os.stat(p)
            with open(p, "rb") as fh:
                snap[p] = (st.st_size, st.st_mtime_ns, hashlib.blake2b(fh.read(), digest_size=16).digest())
    return snap


def pillow_opens(path: Path) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as im:
                im.load()
        return True
    except Exception:  # noqa: BLE001
        return False


def opencv_reads(path: Path) -> bool:
    from indexer.media.video import open_video

    try:
        cap, _ = open_video(path)
    except Exception:  # noqa: BLE001
        return False
    try:
        return bool(cap.read()[0])
    finally:
        cap.release()
