"""Region vectors: overlapping crops of a large photo, embedded beside the whole picture so a
small thing in it (a heron in a corner, a logo on a mug) is seen at the model's resolution.

A whole-photo embedding sees a 12 MP picture at the model's input size (224-256 px), where
an object covering 1-3 % of the pixels is a few pixels wide and averaged away. Each crop
here is a square of ``SIDE`` times the photo's short side, laid on a grid spread evenly
over the photo plus one in the centre (a square photo: 2 x 2 + 1 with neighbours sharing a
fifth of their side, a 4:3 one 3 x 2 + 1), so an object of 1-10 % of the area fills a crop
by 3-30 %, as photos in CLIP's training data do. Measured on tuning seeds of the three test
models (small objects of 0.3-1.2 % of the picture): side 0.6 found as many as side 0.5 (R@5
0.78-0.83 vs 0.78-0.83) and the crop it names held the whole object in every hit, where 0.5
cut objects on its seams (41-69 % held) and its denser 3 x 3 + 1 grid cost twice the crops
to hold 56-89 %. A photo's score is the best of its whole and region scores, a region
counting only when it beats the whole photo by a sliver (``rank.REGION_MARGIN``).

Only photos at least ``MIN_FACTOR`` times the model's input on their short side get regions:
a smaller photo's crops would be upscaled and show the model nothing new. The gate skips
crops with no detail (a clear sky, a wall): ``DETAIL_MIN``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image

from indexer.media.decode import Decoded, load_image

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 as fractions of the upright picture
Part = tuple[Box | None, Image.Image]  # None: the whole picture

SIDE = 0.6  # a crop's side as a share of the photo's short side
OVERLAP = 0.0  # the least share of its side a crop shares with its neighbour (the centre crop covers the seams)
MIN_FACTOR = 2.0  # regions only for photos at least this many times the model's input (short side)
DETAIL_MIN = 1.0  # mean absolute grey-level step at 32 x 32 below which a crop shows nothing (bench_regions.py)
DETAIL_SIDE = 32


def eligible(width: int | None, height: int | None, image_size: int) -> bool:
    """Whether a photo of this size gets region vectors for a model with this input size."""
    return bool(width and height and min(width, height) >= MIN_FACTOR * image_size)


def decode_size(image_size: int) -> int:
    """The short side to decode at so a crop still has the model's input size."""
    return math.ceil(image_size / SIDE)


def boxes(width: int, height: int) -> list[Box]:
    """The crops of a ``width`` x ``height`` photo: a grid of squares plus the centre one."""
    side = SIDE * min(width, height)

    def starts(length: float) -> list[float]:
        if length <= side:
            return [0.0]
        n = math.ceil((length - side) / (side * (1 - OVERLAP))) + 1
        return [i * (length - side) / (n - 1) for i in range(n)]

    squares = [(x, y) for y in starts(height) for x in starts(width)]
    squares.append(((width - side) / 2, (height - side) / 2))
    return [(x / width, y / height, (x + side) / width, (y + side) / height) for x, y in squares]


def detail(image: Image.Image) -> float:
    """How much there is to see: the mean absolute step between neighbouring grey levels at 32 x 32."""
    g = np.asarray(image.convert("L").resize((DETAIL_SIDE, DETAIL_SIDE), Image.Resampling.BILINEAR), np.float32)
    return float(np.abs(np.diff(g, axis=0)).mean() + np.abs(np.diff(g, axis=1)).mean())


def crops(image: Image.Image, gate: float = DETAIL_MIN) -> list[tuple[Box, Image.Image]]:
    """(box, crop) of every region of ``image`` worth embedding (``gate``: least ``detail``)."""
    w, h = image.size
    out = []
    for b in boxes(w, h):
        px = (round(b[0] * w), round(b[1] * h), round(b[2] * w), round(b[3] * h))
        crop = image.crop(px)
        if detail(crop) >= gate:
            out.append((b, crop))
    return out


def region_name(box: Box) -> str:
    """Where a region is, in words: "top left", "centre", "bottom right", "left"..."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    row = "top" if cy < 0.4 else "bottom" if cy > 0.6 else ""
    col = "left" if cx < 0.4 else "right" if cx > 0.6 else ""
    return " ".join(p for p in (row, col) if p) or "centre"


def load_parts(path: Path, target: int, image_size: int, wanted: bool) -> tuple[Decoded, list[Part], bool]:
    """Decode a photo once: (decoded, [(None, whole picture), (box, crop)...], whether regions were
    made). ``target``: the largest model input (crops are decoded to have it too); ``image_size``:
    the smallest (eligibility); ``wanted``: regions are on. Shared by indexing, the regions pass and a
    model switch's re-embedding, so all three cut the same regions."""
    dec = load_image(path, decode_size(target) if wanted else target)
    parts: list[Part] = [(None, dec.image)]
    made = wanted and eligible(dec.meta.width, dec.meta.height, image_size)
    if made:
        parts += crops(dec.image)
    return dec, parts, made
