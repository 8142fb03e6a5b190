"""Videos are searched per moment: the right scene, at the right time, several per video."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from indexer import Library, Query
from indexer.media.video import frame_at, moments, sample_frames
from tests import world
from tests.conftest import MODEL_SPEC

SCENES = [world.Scene("circle", "green", "large", "center", "plain", "white"),
          world.Scene("square", "yellow", "large", "left", "dotted", "black"),
          world.Scene("star", "red", "large", "right", "striped", "gray"),
          world.Scene("triangle", "blue", "large", "center", "plain", "black")]


@pytest.fixture(scope="module")
def video_lib(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("videos")
    truth = world.write_video(folder / "party.mp4", SCENES, [6, 8, 6, 10], fps=10)
    world.write_corpus(folder / "photos", world.distinct_scenes(random.Random(4), 10), seed=4)
    (folder / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(500))
    (folder / "empty.webm").write_bytes(b"")
    lib = Library.open(tmp_path_factory.mktemp("lib"), model=MODEL_SPEC)
    lib.index([folder])
    yield lib, folder, truth
    lib.close()


def test_text_finds_a_scene_in_the_middle_of_a_video_at_its_time(video_lib) -> None:
    lib, folder, truth = video_lib
    for seg in truth[1:]:
        hit = lib.search(Query(world.caption(seg.scene), kind="video", limit=1, min_score=0))[0]
        assert hit.path == str(folder / "party.mp4")
        step = lib.settings.video_interval
        assert seg.start - step <= hit.timestamp <= seg.end + step, (seg, hit)
        assert hit.start is not None and hit.end is not None and hit.start <= hit.timestamp <= hit.end


def test_image_query_with_a_frame_finds_that_moment(video_lib, tmp_path: Path) -> None:
    lib, _, truth = video_lib
    seg = truth[2]
    frame = tmp_path / "frame.png"
    world.render(seg.scene, 160, seed=99).save(frame)
    hit = lib.search(Query(images=(frame,), kind="video", limit=1))[0]
    assert seg.start - 2 <= hit.timestamp <= seg.end + 2


def test_distinct_moments_of_one_video_are_separate_results(video_lib) -> None:
    lib, folder, truth = video_lib
    hits = lib.search(Query("a large object", kind="video", limit=10, min_score=0))
    starts = {h.start for h in hits if h.path == str(folder / "party.mp4")}
    assert len(starts) >= 3  # several moments, not one mean vector and not every frame
    assert len(hits) == len({(h.path, h.start) for h in hits})


def test_kind_filter_and_broken_videos(video_lib) -> None:
    lib, folder, _ = video_lib
    assert {h.kind for h in lib.search(Query("a red star", kind="photo", limit=5, min_score=0))} == {"photo"}
    reasons = {Path(f.path).name: f.error for f in lib.errors()}
    assert reasons["empty.webm"] == "empty file (0 bytes)"
    assert "video" in reasons["broken.mp4"]


def test_changed_video_replaces_its_frames_and_unchanged_is_skipped(tmp_path: Path, where) -> None:
    v = tmp_path / "v" / "clip.mp4"
    v.parent.mkdir()
    world.write_video(v, SCENES[:2], [4, 4])
    with Library.open(where, model=MODEL_SPEC) as lib:
        lib.index([v.parent])
        first = lib.store.vector_ids()
        assert lib.index().unchanged == 1
        world.write_video(v, SCENES[2:], [4, 6])
        report = lib.index()
        assert report.updated == 1
        assert not (lib.store.vector_ids() & first)
        hit = lib.search(Query(world.caption(SCENES[3]), limit=1, min_score=0))[0]
        assert hit.path == str(v) and hit.timestamp >= 3


def test_sampling_covers_the_video_and_sees_cuts(tmp_path: Path) -> None:
    v = tmp_path / "cuts.mp4"
    truth = world.write_video(v, SCENES, [3, 3, 3, 3], fps=10)
    info, frames = sample_frames(v, interval=2.0)
    ts = [f.ts for f in frames]
    assert info.duration == pytest.approx(12, abs=0.2)
    for seg in truth:  # every scene is sampled at least once
        assert any(seg.start <= t < seg.end for t in ts)
    assert frame_at(v, truth[2].start + 1).size[0] > 0


def test_moments_group_similar_neighbours() -> None:
    import numpy as np

    a, b = np.eye(4, dtype=np.float32)[0], np.eye(4, dtype=np.float32)[1]
    bounds = moments([0, 2, 4, 6, 8], np.stack([a, a, b, b, a]), 10.0)
    assert bounds == [(0.0, 3.0), (0.0, 3.0), (3.0, 7.0), (3.0, 7.0), (7.0, 10.0)]


def test_seeking_sampler_on_a_normal_frame_rate_video(tmp_path: Path) -> None:
    """At 30 fps samples are 60 frames apart: frames are reached by seeking, in parallel slices."""
    v = tmp_path / "phone.mp4"
    truth = world.write_video(v, SCENES, [5, 7, 5, 7], fps=30)
    info, frames = sample_frames(v, interval=2.0, workers=2)
    ts = [f.ts for f in frames]
    assert ts == sorted(ts) and len(set(ts)) == len(ts)
    for seg in truth:
        assert any(seg.start <= t < seg.end for t in ts)
    regular = {round(t, 3) for t in ts if abs(t / 2.0 - round(t / 2.0)) < 1e-6}
    assert len(regular) == 12  # every 2 s over 24 s
    assert len(ts) > len(regular)  # plus frames halfway into the cuts between samples
