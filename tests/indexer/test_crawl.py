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


def test_a_file_deleted_while_its_folder_is_listed_is_gone_not_a_problem(tmp_path: Path, monkeypatch) -> None:
    """The soak's watcher listed a folder as another process moved a photo out of it: the photo is gone,
    not "cannot read"; an error row for it would outlive the file."""
    import indexer.media.crawl as crawl

    for name in ("a.jpg", "b.jpg", "c.jpg"):
        (tmp_path / name).write_bytes(b"x")
    listed = os.scandir

    def listed_then_moved(folder):
        entries = list(listed(folder))
        (tmp_path / "b.jpg").unlink()  # between the listing and the file's stat, as a move races a crawl
        return iter(entries)

    monkeypatch.setattr(crawl.os, "scandir", listed_then_moved)
    problems: list[CrawlProblem] = []
    assert sorted(r.path.name for r in walk(tmp_path, problems=problems)) == ["a.jpg", "c.jpg"]
    assert problems == []


def test_a_problem_the_crawl_no_longer_meets_is_forgotten(tmp_path: Path) -> None:
    from indexer import Library
    from tests import world
    from tests.conftest import MODEL_SPEC

    world.write_corpus(tmp_path / "photos", world.distinct_scenes(__import__("random").Random(3), 3), seed=3)
    with Library.open(tmp_path / "lib", model=MODEL_SPEC, read_text=False) as lib:
        lib.index([tmp_path / "photos"])
        root = lib.roots()[0]
        lib.store.set_problems([root.id], [(str(tmp_path / "photos" / "sub"), "cannot open folder: denied", root.id)])
        assert [r.path for r in lib.errors()] == [str(tmp_path / "photos" / "sub")]
        lib.index()  # the folder is readable now (here: not there at all)
        assert lib.errors() == [] and lib.status().photos == 3
