"""One file decoded into the pictures an encoder sees: a photo and its regions, or a video's sampled
frames. The one decode step of indexing, the regions pass and a model switch's re-embedding, so all
three see the same pictures (the same frames, the same regions)."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from indexer.base.config import Settings
from indexer.base.isolation import Crashed, Guard
from indexer.base.paths import display
from indexer.media.decode import PhotoMeta
from indexer.media.regions import Box, load_parts
from indexer.media.video import VideoInfo, sample_frames
from indexer.store.database import FileRow, Store

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclasses.dataclass
class Pictures:
    """What one file shows the model: ``images`` with, for each, its time in a video or its region's box."""

    images: list[Any]
    ts: list[float | None]
    boxes: list[Box | None]
    regions: bool = False  # a photo's regions were made (regions.py), perhaps none passing the gate
    meta: PhotoMeta | None = None  # a photo's size, date, camera, place
    video: VideoInfo | None = None  # a video's size and duration


def decode_pictures(path: Path, kind: str, settings: Settings, target: int, smallest: int, regions: bool,
                    video_workers: int = 2) -> Pictures:
    """Decode ``path`` once for every model that will embed it: ``target`` is the largest model input,
    ``smallest`` the smallest (a photo's regions are made only where they are large enough for it)."""
    if kind == "video":
        info, frames = sample_frames(path, settings.video_interval, settings.video_max_frames, target=target,
                                     workers=video_workers)
        return Pictures([f.image for f in frames], [f.ts for f in frames], [None] * len(frames), video=info)
    dec, parts, made = load_parts(path, target, smallest, regions)
    return Pictures([im for _, im in parts], [None] * len(parts), [b for b, _ in parts], made, meta=dec.meta)


def decoder_of(kind: str) -> str:
    """The decoder a file of this kind runs, in a person's words (a crash's error row names it)."""
    return "video decoder" if kind == "video" else "image decoder"


def decoded_or_set_aside(guard: Guard, store: Store, row: FileRow, fn: Callable[..., T], *args: Any) -> T | None:
    """``fn(path, *args)`` for an indexed file under ``guard``, in a pass after indexing; if it crashed
    its decoder (a worker process died), the file is set aside as an error row and None returned."""
    try:
        return guard.run(Path(row.path), fn, *args)
    except Crashed as e:
        why = e.reason(decoder_of(row.kind))
        log.warning("%s %s", display(row.path), why)
        store.set_aside(row.id, why)
        return None
