"""From preprocessed pictures to the vectors a file stores: batches through an encoder, and a
video's frames with the moments the model sees them in."""

from __future__ import annotations

from typing import Any

import numpy as np

from indexer.media.regions import Box
from indexer.media.video import moments
from indexer.model.encoder import Encoder
from indexer.store.database import VectorIn


def encode_all(embedder: Encoder, pixels: list[Any], batch_size: int) -> np.ndarray:
    """Preprocessed pictures through the image encoder, ``batch_size`` at a time."""
    if not pixels:
        return np.zeros((0, 1), np.float32)
    return np.concatenate([embedder.encode_pixels(np.stack(pixels[i:i + batch_size]))
                           for i in range(0, len(pixels), batch_size)])


def frame_vectors(kind: str, ts: list[float | None], vecs: np.ndarray, duration: float | None,
                  model: str | None = None, boxes: list[Box | None] | None = None) -> list[VectorIn]:
    """Photos: the whole picture's vector, then one per region (``boxes``, regions.py). Video
    frames: one each, carrying the bounds of the moment the model sees them in (another model
    may cut a video into other moments)."""
    if kind != "video" or len(vecs) == 0:
        return [VectorIn(v, model=model, box=b) for v, b in zip(vecs, boxes or [None] * len(vecs), strict=True)]
    times = [float(t or 0.0) for t in ts]
    bounds = moments(times, vecs, float(duration or times[-1]))
    return [VectorIn(v, t, s, e, model) for v, t, (s, e) in zip(vecs, times, bounds, strict=True)]
