"""Thumbnails and video-moment posters, cached inside the library (never beside photos)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from indexer.base import atomic

SIZE = 192


def thumb_name(path: str, mtime: float | None, ts: float | None) -> str:
    """A changed file (new mtime) or another moment (ts) gets a new thumbnail."""
    key = f"{path}|{mtime}|{ts}".encode("utf-8", "surrogateescape")  # any file name, even not UTF-8
    return hashlib.sha1(key).hexdigest() + ".jpg"


def thumb_path(folder: Path, path: str, mtime: float | None, ts: float | None) -> Path:
    name = thumb_name(path, mtime, ts)
    return folder / name[:2] / name


def make_thumbnail(path: str, ts: float | None, dest: Path, size: int = SIZE) -> Path:
    """Write a JPEG thumbnail of a photo, or of a video's frame at ``ts`` (its poster)."""
    if dest.exists():
        return dest
    if ts is not None:
        from indexer.media.video import frame_at

        img = frame_at(Path(path), ts, size * 2)
    else:
        from indexer.media.decode import load_image

        img = load_image(Path(path), size).image
    img.thumbnail((size, size))
    dest.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with atomic.replacing(dest, fsync=False) as tmp:  # a cache: a lost thumbnail is made again
        img.save(tmp, "JPEG", quality=85)
    return dest
