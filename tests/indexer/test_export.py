"""Copying results to a folder never overwrites anything; video moments as clips and stills."""

from __future__ import annotations

import os
import random
import threading
from pathlib import Path

import pytest

from indexer import clip, copy_files, still
from indexer.base.errors import ExportFailed
from indexer.media.video import open_video
from tests import world


def test_copies_keep_names_and_dates_and_never_overwrite(tmp_path: Path) -> None:
    src = world.write_corpus(tmp_path / "a", world.distinct_scenes(random.Random(1), 3), seed=1)
    other = tmp_path / "b" / src[0].path.name  # the same name from another folder
    other.parent.mkdir()
    other.write_bytes(src[1].path.read_bytes())
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / src[0].path.name).write_bytes(b"the user's own file")
    events = []
    paths = [str(src[0].path), str(other), str(src[2].path), str(src[0].path)]  # one asked twice
    report = copy_files(paths, dest, events.append)
    stem = src[0].path.stem
    assert [Path(p).name for p in report.copied] == [f"{stem} (2).jpg", f"{stem} (3).jpg", src[2].path.name]
    assert (dest / src[0].path.name).read_bytes() == b"the user's own file"  # untouched
    assert Path(report.copied[1]).read_bytes() == other.read_bytes()
    assert os.stat(report.copied[2]).st_mtime == src[2].path.stat().st_mtime
    assert [e.phase for e in events] == ["exporting"] * 3 + ["done"] and not list(dest.glob(".*part*"))


def test_cancel_stops_between_files(tmp_path: Path) -> None:
    src = world.write_corpus(tmp_path / "a", world.distinct_scenes(random.Random(2), 4), seed=2)
    stop = threading.Event()
    report = copy_files([str(s.path) for s in src], tmp_path / "out",
                        lambda p: p.done == 2 and stop.set(), stop)
    assert report.cancelled and len(report.copied) == 2


def test_a_moment_as_a_clip_and_as_a_still(tmp_path: Path) -> None:
    scenes = world.distinct_scenes(random.Random(3), 3)
    truth = world.write_video(tmp_path / "v.mp4", scenes, [4, 4, 4], size=(160, 120))
    moment = truth[1]
    out = clip(str(tmp_path / "v.mp4"), moment.start, moment.end, tmp_path / "out")
    cap, info = open_video(out)
    cap.release()
    assert abs(info.duration - (moment.end - moment.start + 2.0)) <= 0.3 and (info.width, info.height) == (160, 120)
    again = clip(str(tmp_path / "v.mp4"), moment.start, moment.end, tmp_path / "out")
    assert again != out and again.exists()  # never overwritten
    past = truth[-1].end + 30  # a moment the video does not reach: an error, and no file left behind
    with pytest.raises(ExportFailed, match="no frame from"):
        clip(str(tmp_path / "v.mp4"), past, past + 2, tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted([out.name, again.name])
    pic = still(str(tmp_path / "v.mp4"), moment.start + 1.0, tmp_path / "out")
    assert pic.suffix == ".jpg" and pic.stat().st_size > 0 and "@ 0m05s" in pic.name


def test_the_app_saves_a_moment_through_its_decoding_workers(tmp_path: Path) -> None:
    """The app's export of a moment (``Library.views.moment``) decodes the video in a worker process,
    as thumbnails and previews do: a video that crashes its decoder costs the export, not the window."""
    from indexer import Library, Query
    from tests.conftest import MODEL_SPEC

    scenes = world.distinct_scenes(random.Random(5), 3)
    world.write_video(tmp_path / "videos" / "v.mp4", scenes, [4, 4, 4], size=(160, 120))
    with Library.open(tmp_path / "lib", isolated=True, model=MODEL_SPEC, read_text=False) as lib:
        lib.index([tmp_path / "videos"])
        hit = lib.search(Query(world.caption(scenes[1]), min_score=0.0, limit=1))[0]
        made = lib.views.moment(hit, True, tmp_path / "out")
        cap, info = open_video(made)
        cap.release()
        assert made.suffix == ".mp4" and info.duration > 1.0
        pic = lib.views.moment(hit, False, tmp_path / "out")
        assert pic.suffix == ".jpg" and pic.stat().st_size > 0
