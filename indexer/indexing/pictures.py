"""One file decoded into the pictures an encoder sees: a photo and its regions, or a video's sampled
frames. The one decode step of indexing, the regions pass and a model switch's re-embedding, so all
three see the same pictures (the same frames, the same regions)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from indexer.base.config import Settings
from indexer.media.decode import PhotoMeta
from indexer.media.regions import Box, load_parts
from indexer.media.video import VideoInfo, sample_frames


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
