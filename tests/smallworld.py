"""Small things in large photos, with ground truth: the world's object drawn on a big canvas at a
fraction of its usual size (0.3-1.2 % of the picture), among distractors.

Shared by tests/indexer/test_regions.py and bench/bench_regions.py. A target photo shows one
object whose shape and colour no other target has; distractors are ordinary photos of other
shape-colour pairs (big, obvious objects) and large photos with other small objects. The
query is the object's description, "a red star".
"""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import numpy as np

from tests import world

CANVASES = ((640, 480), (480, 640), (800, 450), (600, 600))
SCALE = (0.35, 0.6)  # times the world's "small" object: 0.3-1.2 % of the picture's area


@dataclasses.dataclass(frozen=True)
class Target:
    path: Path
    text: str  # its description, "a red star"
    box: tuple[float, float, float, float]  # where the object is, as fractions of the picture


def object_box(scene: world.Scene, size: int, seed: int, canvas: tuple[int, int], scale: float
               ) -> tuple[float, float, float, float]:
    """The object's bounding box: where a render with another colour differs (same seed, same place)."""
    a = np.asarray(world.render(scene, size, seed, canvas, scale), np.int16)
    other = "blue" if scene.colour != "blue" else "red"
    b = np.asarray(world.render(scene.with_(colour=other), size, seed, canvas, scale), np.int16)
    ys, xs = np.nonzero(np.abs(a - b).sum(axis=2) > 30)
    w, h = canvas
    return xs.min() / w, ys.min() / h, (xs.max() + 1) / w, (ys.max() + 1) / h


def write(folder: Path, seed: int, targets: int = 12, distractors: int = 40) -> list[Target]:
    """Write the photos into ``folder``; returns the targets with their descriptions and boxes."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    pairs = [(s, c) for s in world.SHAPES for c in world.COLOURS]
    rng.shuffle(pairs)
    mine, others = pairs[:targets], pairs[targets:]
    out = []
    for i, (shape, colour) in enumerate(mine):
        scene = world.random_scene(rng).with_(shape=shape, colour=colour, size="small")
        canvas, scale = rng.choice(CANVASES), rng.uniform(*SCALE)
        p = folder / f"large_{i:02d}.jpg"
        world.render(scene, min(canvas), seed * 1000 + i, canvas, scale).save(p, quality=92)
        out.append(Target(p, f"a {colour} {shape}", object_box(scene, min(canvas), seed * 1000 + i, canvas, scale)))
    for i in range(distractors):
        shape, colour = rng.choice(others)
        scene = world.random_scene(rng).with_(shape=shape, colour=colour)
        p = folder / f"other_{i:02d}.jpg"
        if i % 2:
            canvas = rng.choice(CANVASES[:2])
            world.render(scene.with_(size="small"), min(canvas), seed * 1000 + 100 + i, canvas,
                         rng.uniform(*SCALE)).save(p, quality=92)
        else:
            world.render(scene, 192, seed * 1000 + 100 + i).save(p, quality=92)
    return out


def inside(box: tuple[float, float, float, float], obj: tuple[float, float, float, float]) -> float:
    """The share of ``obj``'s area inside ``box``."""
    w = max(0.0, min(box[2], obj[2]) - max(box[0], obj[0]))
    h = max(0.0, min(box[3], obj[3]) - max(box[1], obj[1]))
    return w * h / ((obj[2] - obj[0]) * (obj[3] - obj[1]))


def iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return w * h / union
