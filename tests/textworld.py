"""Pictures with known words in them, for testing the text pass with the real OCR model.

Text is rendered in the fonts this machine has (Pillow's own scalable font when it has
none), in several sizes and colours, upright or turned up to ±30°, optionally under a
mild perspective, on plain backgrounds or on real photos from ../shared/data. Every
picture records exactly which words it shows, how high they are and at what angle.
"""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, ImageOps

# Words of signs, receipts, slides and screenshots; with accents, digits and prices.
WORDS = ("SALE open closed exit platform Hauptbahnhof Zürich café bakery pharmacy parking level receipt total "
         "invoice revenue quarter meeting agenda error warning timeout station museum garden harbour market "
         "Lisboa São Paulo Kraków Malmö 42.50 17.99 2024 1987 B2 gate tickets hotel bistro library "
         "garage repairs fresh bread coffee tea pizza sushi dentist office welcome entrance north south "
         "avenue street bridge river forest school theatre cinema gallery airport bus taxi").split()
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


@dataclasses.dataclass(frozen=True)
class Line:
    text: str
    height: int  # rendered cap height in pixels of the saved picture
    angle: float


@dataclasses.dataclass(frozen=True)
class TextPicture:
    path: Path
    lines: tuple[Line, ...]

    @property
    def words(self) -> list[str]:
        return [w for line in self.lines for w in line.text.split()]


def fonts() -> list[str]:
    """TrueType fonts installed here (Latin-capable ones by name), or [] to use Pillow's own."""
    found = sorted(str(p) for base in ("/usr/share/fonts", "/usr/local/share/fonts")
                   for p in Path(base).rglob("*.ttf") if "Math" not in p.name)
    return found


def _font(path: str | None, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size) if path else ImageFont.load_default(size)


def photo_backgrounds(limit: int = 40) -> list[Path]:
    """Real photos from the shared corpus (none when it is absent)."""
    base = SHARED / "photos" / "flickr8k"
    return sorted(base.glob("*.jpg"))[:limit] if base.is_dir() else []


def background(rng: random.Random, size: tuple[int, int], photos: list[Path]) -> Image.Image:
    if photos and rng.random() < 0.5:
        with Image.open(rng.choice(photos)) as im:
            return ImageOps.fit(im.convert("RGB"), size)
    top = tuple(rng.randrange(256) for _ in range(3))
    bottom = tuple(rng.randrange(256) for _ in range(3))
    grad = Image.linear_gradient("L").resize(size)
    return Image.composite(Image.new("RGB", size, bottom), Image.new("RGB", size, top), grad)


def _text_layer(text: str, font: ImageFont.FreeTypeFont, rng: random.Random) -> Image.Image:
    """The text on a sign plate (half the time) or bare with an outline, on a transparent layer."""
    left, top, right, bottom = font.getbbox(text)
    pad = max(4, (bottom - top) // 3)
    layer = Image.new("RGBA", (right - left + 2 * pad, bottom - top + 2 * pad), (0, 0, 0, 0))
    d = ImageDraw.Draw(layer)
    dark = rng.random() < 0.5
    ink = tuple(rng.randrange(0, 70) for _ in range(3)) if dark else tuple(rng.randrange(200, 256) for _ in range(3))
    paper = tuple(rng.randrange(200, 256) for _ in range(3)) if dark else tuple(rng.randrange(0, 70) for _ in range(3))
    if rng.random() < 0.5:
        d.rectangle((0, 0, layer.width - 1, layer.height - 1), fill=(*paper, 255))
        d.text((pad - left, pad - top), text, font=font, fill=(*ink, 255))
    else:
        d.text((pad - left, pad - top), text, font=font, fill=(*ink, 255), stroke_width=max(1, font.size // 16),
               stroke_fill=(*paper, 255))
    return layer


def _perspective(layer: Image.Image, rng: random.Random, amount: float) -> Image.Image:
    """A mild keystone: one side shorter than the other by up to ``amount`` of the height."""
    w, h = layer.size
    k = rng.uniform(-amount, amount) * h
    src = [(0, 0), (w, 0), (w, h), (0, h)]
    dst = [(0, max(k, 0)), (w, max(-k, 0)), (w, h - max(-k, 0)), (0, h - max(k, 0))]
    coeffs = _coefficients(dst, src)
    return layer.transform((w, h), Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BICUBIC)


def _coefficients(dst: list[tuple[float, float]], src: list[tuple[float, float]]) -> list[float]:
    import numpy as np

    rows = []
    for (x, y), (u, v) in zip(dst, src, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
    b = np.array([c for p in src for c in p], dtype=float)
    return list(np.linalg.solve(np.array(rows, dtype=float), b))


def render(rng: random.Random, photos: list[Path], size: tuple[int, int] = (1024, 768), max_angle: float = 30.0,
           heights: tuple[int, int] = (16, 64), perspective: float = 0.15,
           n_lines: int | None = None) -> tuple[Image.Image, tuple[Line, ...]]:
    """One picture and the lines it shows (placed without overlapping, fully inside)."""
    img = background(rng, size, photos)
    faces = fonts() or [None]
    placed: list[tuple[int, int, int, int]] = []
    lines: list[Line] = []
    for _ in range(n_lines or rng.randint(1, 3)):
        text = " ".join(rng.sample(WORDS, rng.randint(1, 3)))
        height = rng.randint(*heights)
        angle = rng.uniform(-max_angle, max_angle) if max_angle and rng.random() < 0.5 else 0.0
        font = _font(rng.choice(faces), round(height / 0.72))  # cap height ~0.72 of the em size
        layer = _text_layer(text, font, rng)
        if perspective and rng.random() < 0.3:
            layer = _perspective(layer, rng, perspective)
        if angle:
            layer = layer.rotate(angle, expand=True, resample=Image.Resampling.BICUBIC)
        if layer.width >= size[0] - 8 or layer.height >= size[1] - 8:
            continue
        for _try in range(30):
            x, y = rng.randrange(4, size[0] - layer.width - 4), rng.randrange(4, size[1] - layer.height - 4)
            box = (x, y, x + layer.width, y + layer.height)
            if not any(box[0] < b[2] + 8 and b[0] < box[2] + 8 and box[1] < b[3] + 8 and b[1] < box[3] + 8
                       for b in placed):
                img.paste(layer, (x, y), layer)
                placed.append(box)
                lines.append(Line(text, height, angle))
                break
    return img, tuple(lines)


def write_text_corpus(folder: Path, seed: int, n: int, photos: list[Path], **kw: object) -> list[TextPicture]:
    """``n`` pictures with text as JPEGs in ``folder``, with what each shows, on ``photos`` or plain."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    out = []
    for i in range(n):
        img, lines = render(rng, photos, **kw)  # type: ignore[arg-type]
        path = folder / f"text_{seed}_{i:03d}.jpg"
        img.save(path, quality=90)
        out.append(TextPicture(path, lines))
    return out


def write_textless(folder: Path, seed: int, n: int, photos: list[Path]) -> list[Path]:
    """Pictures without any text: ``photos`` (resized) and plain gradients."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    out = []
    for i in range(n):
        path = folder / f"plain_{seed}_{i:03d}.jpg"
        background(rng, (1024, 768), photos).save(path, quality=90)
        out.append(path)
    return out
