"""Photos come out upright and small, with their metadata; damaged ones explain themselves."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from indexer.media.decode import DecodeError, load_image


def exif_jpeg(path: Path, size: tuple[int, int], orientation: int) -> Path:
    img = Image.new("RGB", size, (200, 0, 0))
    img.paste((0, 0, 200), (0, 0, size[0] // 2, size[1]))  # left half blue
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "Canon"
    exif[0x0110] = "Canon EOS 5D"
    exif.get_ifd(0x8769)[0x9003] = "2021:07:04 12:30:00"
    exif.get_ifd(0x8825).update({1: "N", 2: (52.0, 30.0, 0.0), 3: "W", 4: (1.0, 15.0, 0.0)})
    img.save(path, exif=exif, quality=90)
    return path


def test_exif_orientation_and_metadata(tmp_path: Path) -> None:
    d = load_image(exif_jpeg(tmp_path / "r.jpg", (400, 200), 6), target=64)
    assert d.image.height > d.image.width  # rotated 90 degrees: portrait
    assert (d.meta.width, d.meta.height) == (200, 400)
    assert d.meta.camera == "Canon EOS 5D"
    assert d.meta.lat == pytest.approx(52.5) and d.meta.lon == pytest.approx(-1.25)
    assert d.meta.taken_at is not None


def test_large_jpeg_is_decoded_with_draft_downscaling(tmp_path: Path) -> None:
    p = tmp_path / "big.jpg"
    Image.new("RGB", (4000, 3000), (10, 120, 30)).save(p)
    d = load_image(p, target=256)
    assert 256 <= min(d.image.size) < 1000
    assert (d.meta.width, d.meta.height) == (4000, 3000)


def test_transparent_and_16bit_images_become_rgb(tmp_path: Path) -> None:
    Image.new("RGBA", (32, 32), (255, 0, 0, 0)).save(tmp_path / "a.png")
    Image.new("I;16", (32, 32), 40000).save(tmp_path / "b.png")
    assert load_image(tmp_path / "a.png").image.getpixel((0, 0)) == (255, 255, 255)
    assert load_image(tmp_path / "b.png").image.mode == "RGB"


@pytest.mark.parametrize("content,reason", [
    (b"", "empty file"),
    (b"GIF89a but not really", "not a recognisable image"),
])
def test_broken_files_raise_a_readable_reason(tmp_path: Path, content: bytes, reason: str) -> None:
    p = tmp_path / "x.gif"
    p.write_bytes(content)
    with pytest.raises(DecodeError, match=reason):
        load_image(p)


def test_decompression_bomb_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = tmp_path / "bomb.png"
    Image.new("1", (4000, 4000)).save(p)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1_000_000)
    with pytest.raises(DecodeError, match="decompression bomb"):
        load_image(p)
