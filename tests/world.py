"""A small synthetic visual world with ground truth, for training and testing.

Real CLIP weights cannot be downloaded where Glimpse is built, so the tests use a tiny
model trained on this world (``tests/assets/make_tiny_clip.py``). Every scene is one
object with five attributes (shape, colour, size, position, background texture and
background tone), rendered deterministically from a seed, and described by a caption
grammar that can name any subset of the attributes. The same world renders composed
query triplets, near-duplicates, a small object lost in a large image, and multi-scene
videos with known start and end times.
"""

from __future__ import annotations

import dataclasses
import io
import math
import random
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from PIL import Image, ImageDraw, ImageEnhance

SHAPES = ("circle", "square", "triangle", "star")
COLOURS = {
    "red": (220, 30, 30),
    "green": (30, 170, 40),
    "blue": (40, 70, 230),
    "yellow": (240, 220, 30),
    "purple": (150, 40, 190),
}
SIZES = ("small", "large")
POSITIONS = ("left", "center", "right")
TEXTURES = ("plain", "striped", "dotted")
TONES = {"black": 25, "gray": 125, "white": 235}

ATTRIBUTES = ("shape", "colour", "size", "position", "texture", "tone")
VALUES: dict[str, tuple[str, ...]] = {
    "shape": SHAPES,
    "colour": tuple(COLOURS),
    "size": SIZES,
    "position": POSITIONS,
    "texture": TEXTURES,
    "tone": tuple(TONES),
}
POSITION_PHRASE = {"left": "on the left", "center": "in the center", "right": "on the right"}
TEMPLATES = ("{}", "a photo of {}", "a picture of {}", "an image of {}")


@dataclasses.dataclass(frozen=True)
class Scene:
    """One object on a background; the ground truth behind an image."""

    shape: str
    colour: str
    size: str
    position: str
    texture: str
    tone: str

    def key(self) -> tuple[str, ...]:
        return tuple(getattr(self, a) for a in ATTRIBUTES)

    def with_(self, **changes: str) -> Scene:
        return dataclasses.replace(self, **changes)


def all_scenes() -> list[Scene]:
    """Every attribute combination, in a fixed order."""
    out = [Scene("", "", "", "", "", "")]
    for attr in ATTRIBUTES:
        out = [s.with_(**{attr: v}) for s in out for v in VALUES[attr]]
    return out


def is_held_out(scene: Scene) -> bool:
    """About one combination in six never appears in training, to test generalisation.

    Chosen by a fixed arithmetic rule over attribute indices, so it is stable across
    Python versions and seeds.
    """
    idx = [VALUES[a].index(getattr(scene, a)) for a in ATTRIBUTES]
    return (idx[0] * 7 + idx[1] * 5 + idx[2] * 3 + idx[3] * 11 + idx[4] * 13 + idx[5] * 2) % 6 == 0


def random_scene(rng: random.Random, held_out: bool | None = None) -> Scene:
    """A random scene; ``held_out`` restricts to (True) or away from (False) held-out combos."""
    while True:
        s = Scene(*(rng.choice(VALUES[a]) for a in ATTRIBUTES))
        if held_out is None or is_held_out(s) == held_out:
            return s


def caption(scene: Scene, attrs: Iterable[str] = ATTRIBUTES) -> str:
    """Describe the scene naming only ``attrs`` (an attribute subset gives a partial query)."""
    a = set(attrs)
    words = [w for w, k in ((scene.size, "size"), (scene.colour, "colour")) if k in a]
    noun = scene.shape if "shape" in a else ("object" if words else "something")
    text = " ".join(["a", *words, noun])
    if "position" in a:
        text += " " + POSITION_PHRASE[scene.position]
    bg = [w for w, k in ((scene.texture, "texture"), (scene.tone, "tone")) if k in a]
    if bg:
        text += " on a " + " ".join(bg) + " background"
    return text


def modification(attr: str, value: str) -> str:
    """The words a user types to change one attribute of a reference ("make it blue")."""
    return {
        "shape": f"as a {value}",
        "colour": f"make it {value}",
        "size": f"make it {value}",
        "position": f"move it to the {value}" if value != "center" else "move it to the center",
        "texture": f"on a {value} background",
        "tone": f"on a {value} background",
    }[attr]


def render(scene: Scene, size: int = 128, seed: int = 0, canvas: tuple[int, int] | None = None,
           object_scale: float = 1.0) -> Image.Image:
    """Draw the scene as an RGB image.

    ``seed`` jitters colour, placement and texture phase so that two renders of one scene
    are distinct images. ``canvas`` (width, height) draws on a larger picture in which the
    object keeps the size it would have in a ``size``-pixel image times ``object_scale``,
    which is how the small-object-in-a-large-image case is made.
    """
    rng = random.Random(seed)
    w, h = canvas or (size, size)
    ss = 2  # supersample for anti-aliased edges
    img = Image.new("RGB", (w * ss, h * ss))
    _draw_background(ImageDraw.Draw(img), scene, w * ss, h * ss, size * ss, rng)
    _draw_object(ImageDraw.Draw(img), scene, w * ss, h * ss, size * ss * object_scale, rng)
    return img.resize((w, h), Image.Resampling.LANCZOS)


def _jitter(rgb: Sequence[int], rng: random.Random, amount: int = 18) -> tuple[int, int, int]:
    r, g, b = (max(0, min(255, c + rng.randint(-amount, amount))) for c in rgb)
    return (r, g, b)


def _draw_background(d: ImageDraw.ImageDraw, scene: Scene, w: int, h: int, unit: float,
                     rng: random.Random) -> None:
    tone = TONES[scene.tone] + rng.randint(-12, 12)
    d.rectangle((0, 0, w, h), fill=(tone, tone, tone))
    accent = tone + 70 if tone < 128 else tone - 70
    fill = (accent, accent, accent)
    step = max(4, int(unit * rng.uniform(0.11, 0.14)))
    phase = rng.randint(0, step)
    if scene.texture == "striped":
        for x in range(-h - step + phase, w + h, step):
            d.polygon([(x, 0), (x + step // 2, 0), (x + step // 2 + h, h), (x + h, h)], fill=fill)
    elif scene.texture == "dotted":
        r = step * 0.22
        for y in range(phase, h + step, step):
            for x in range(phase, w + step, step):
                d.ellipse((x - r, y - r, x + r, y + r), fill=fill)


def _draw_object(d: ImageDraw.ImageDraw, scene: Scene, w: int, h: int, unit: float,
                 rng: random.Random) -> None:
    frac = rng.uniform(0.44, 0.52) if scene.size == "large" else rng.uniform(0.2, 0.25)
    radius = unit * frac / 2
    cx_frac = {"left": 0.25, "center": 0.5, "right": 0.75}[scene.position]
    cx = w * cx_frac + rng.uniform(-0.04, 0.04) * unit
    cy = h * 0.5 + rng.uniform(-0.1, 0.1) * unit
    colour = _jitter(COLOURS[scene.colour], rng)
    outline = (0, 0, 0) if scene.tone != "black" else (255, 255, 255)
    lw = max(1, int(unit / 64))
    angle = rng.uniform(-0.2, 0.2)
    if scene.shape == "circle":
        d.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=colour, outline=outline, width=lw)
        return
    if scene.shape == "square":
        pts = _polygon(4, radius * 1.25, angle + math.pi / 4)
    elif scene.shape == "triangle":
        pts = _polygon(3, radius * 1.3, angle - math.pi / 2)
        pts = [(x, y + radius * 0.25) for x, y in pts]
    else:
        pts = _star(radius * 1.3, angle - math.pi / 2)
    d.polygon([(cx + x, cy + y) for x, y in pts], fill=colour, outline=outline, width=lw)


def _polygon(n: int, r: float, start: float) -> list[tuple[float, float]]:
    return [(r * math.cos(start + 2 * math.pi * i / n), r * math.sin(start + 2 * math.pi * i / n)) for i in range(n)]


def _star(r: float, start: float) -> list[tuple[float, float]]:
    pts = []
    for i in range(10):
        rr = r if i % 2 == 0 else r * 0.42
        a = start + math.pi * i / 5
        pts.append((rr * math.cos(a), rr * math.sin(a)))
    return pts


def perturb(img: Image.Image, seed: int) -> Image.Image:
    """A near-duplicate: re-encoded, slightly rescaled, brightened and cropped."""
    rng = random.Random(seed)
    w, h = img.size
    c = int(min(w, h) * rng.uniform(0.0, 0.03))
    out = img.crop((c, c, w - c, h - c)).resize((int(w * 0.9), int(h * 0.9)), Image.Resampling.BILINEAR)
    out = ImageEnhance.Brightness(out).enhance(rng.uniform(0.93, 1.07))
    buf = io.BytesIO()
    out.save(buf, "JPEG", quality=70)
    buf.seek(0)
    return Image.open(buf).convert("RGB")


@dataclasses.dataclass(frozen=True)
class CorpusItem:
    """A generated photo on disk with the scene it shows."""

    path: Path
    scene: Scene


def distinct_scenes(rng: random.Random, n: int, held_out: bool | None = None) -> list[Scene]:
    """``n`` different scenes (no two share every attribute)."""
    seen: dict[tuple[str, ...], Scene] = {}
    while len(seen) < n:
        s = random_scene(rng, held_out)
        seen.setdefault(s.key(), s)
    return list(seen.values())


def write_corpus(folder: Path, scenes: Sequence[Scene], seed: int, size: int = 192,
                 fmt: str = "jpg") -> list[CorpusItem]:
    """Render scenes to image files named ``scene_NNN.fmt`` and return the ground truth."""
    folder.mkdir(parents=True, exist_ok=True)
    items = []
    for i, s in enumerate(scenes):
        p = folder / f"scene_{i:03d}.{fmt}"
        render(s, size=size, seed=seed * 100_003 + i).save(p, quality=92) if fmt == "jpg" else \
            render(s, size=size, seed=seed * 100_003 + i).save(p)
        items.append(CorpusItem(p, s))
    return items


@dataclasses.dataclass(frozen=True)
class Triplet:
    """A composed-retrieval case: reference scene + modification text -> target scene."""

    reference: Scene
    attr: str
    value: str
    target: Scene

    @property
    def text(self) -> str:
        return modification(self.attr, self.value)


def triplets(rng: random.Random, n: int,
             attrs: Sequence[str] = ("colour", "shape", "texture", "tone", "size")) -> Iterator[Triplet]:
    """Random composed queries that change one attribute of a random reference."""
    for _ in range(n):
        ref = random_scene(rng)
        attr = rng.choice(list(attrs))
        value = rng.choice([v for v in VALUES[attr] if v != getattr(ref, attr)])
        yield Triplet(ref, attr, value, ref.with_(**{attr: value}))


@dataclasses.dataclass(frozen=True)
class VideoScene:
    """A scene shown in a video from ``start`` to ``end`` seconds."""

    scene: Scene
    start: float
    end: float


def write_video(path: Path, scenes: Sequence[Scene], seconds_each: Sequence[float], fps: int = 10,
                size: tuple[int, int] = (160, 160), seed: int = 0, fourcc: str = "mp4v") -> list[VideoScene]:
    """Write a multi-scene video with OpenCV; each scene drifts a little so frames differ."""
    import cv2
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, size)
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {fourcc} video to {path}")
    truth, t = [], 0.0
    for k, (scene, secs) in enumerate(zip(scenes, seconds_each, strict=True)):
        n = int(round(secs * fps))
        base = render(scene, size=min(size), seed=seed * 1009 + k, canvas=size)
        for f in range(n):
            dx = int(3 * math.sin(f / 7.0))
            frame = base.transform(base.size, Image.Transform.AFFINE, (1, 0, dx, 0, 1, 0))
            writer.write(cv2.cvtColor(np.asarray(frame), cv2.COLOR_RGB2BGR))
        truth.append(VideoScene(scene, t, t + n / fps))
        t += n / fps
    writer.release()
    return truth
