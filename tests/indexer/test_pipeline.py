"""The indexing stages give the same library whether they run threaded or one after the other."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np

from indexer import Library
from indexer.indexing.pipeline import STAGES, Pipeline
from indexer.upkeep.doctor import check
from tests import world
from tests.conftest import MODEL_SPEC


def _index(tmp: Path, media: Path, threaded: bool) -> Library:
    lib = Library.open(tmp, model=MODEL_SPEC, read_text=False, batch_size=4)
    root = lib.add_root(media)
    pipe = Pipeline(lib.store, lib.ann, lib.embedder, lib.settings, threaded=threaded)
    report = pipe.run([root])
    assert report.added == len(list(media.rglob("*.*"))) and report.errors == 0
    return lib


def test_single_threaded_stages_index_exactly_like_the_threaded_ones(tmp_path: Path) -> None:
    assert STAGES == ("plan", "decode", "embed", "write", "finish")
    media = tmp_path / "media"
    world.write_corpus(media / "photos", world.distinct_scenes(random.Random(3), 18), seed=3)
    world.write_video(media / "clip.mp4", world.distinct_scenes(random.Random(4), 2), [4, 4])
    libs = [_index(tmp_path / name, media, threaded) for name, threaded in (("one", False), ("many", True))]
    rows = [{f.path: (f.kind, f.width, f.height, f.hash, f.duration) for f in lib.store.files()} for lib in libs]
    assert rows[0] == rows[1]
    for path in rows[0]:
        a, b = (np.stack([v for _, v, _ in lib.store.vectors_of(lib.store.file(path).id)]) for lib in libs)
        assert a.shape == b.shape and np.allclose(a, b, atol=1e-3)
    for lib in libs:
        assert check(lib) == []
        lib.close()
