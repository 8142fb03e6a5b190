"""Queries that understand intent: composition, weights, filters, hubness, relevance, duplicates."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from indexer import Filters, Library, Query
from indexer.search.rank import GalleryStats, SearchOptions, relevance, search_vector
from indexer.store.database import FileRecord, Store, VectorIn
from tests import semantics, world
from tests.conftest import MODEL_SPEC


@pytest.mark.parametrize("method", ["fusion", "pdv"])
def test_composed_methods_beat_image_only_and_text_only(embedder, method: str) -> None:
    from indexer.search.query import compose, compose_pdv, derive_caption

    bank = sorted({world.caption(s) for s in world.all_scenes()})
    bank_vecs = embedder.encode_texts(bank)

    def composed(ref_vec, text_vec, trip):
        if method == "fusion":
            return compose(ref_vec, text_vec, 0.5)
        caption = derive_caption(ref_vec, bank, bank_vecs)  # derived, not given
        return compose_pdv(ref_vec, text_vec, embedder.encode_texts([caption])[0], 0.5)

    r = semantics.composed_recall(embedder.encode_images, embedder.encode_texts, seed=5150, compose=composed)
    print(method, r)
    assert r["composed"] > r["image only"] + 0.2 and r["composed"] > r["text only"] + 0.2, r


@pytest.fixture(scope="module")
def rich(tmp_path_factory: pytest.TempPathFactory):
    """Photos in two folders, with EXIF camera/GPS/date on some, and near-duplicates."""
    root = tmp_path_factory.mktemp("rich")
    scenes = world.distinct_scenes(random.Random(77), 30)
    items = world.write_corpus(root / "main", scenes[:24], seed=77)
    small = world.write_corpus(root / "trip", scenes[24:], seed=78, size=96, fmt="png")
    for i, it in enumerate(items[:6]):  # camera, GPS and date on the first six
        img = Image.open(it.path)
        exif = Image.Exif()
        exif[0x010F], exif[0x0110] = "Pentax", "Pentax K-1"
        exif.get_ifd(0x8769)[0x9003] = f"20{10 + i}:06:01 10:00:00"
        if i % 2 == 0:
            exif.get_ifd(0x8825).update({1: "N", 2: (48.0, 0.0, 0.0), 3: "E", 4: (2.0, 0.0, 0.0)})
        img.save(it.path, exif=exif, quality=92)
    dup = root / "main" / "copy_of_scene_003.jpg"
    world.perturb(Image.open(items[3].path), seed=1).save(dup)
    lib = Library.open(tmp_path_factory.mktemp("lib"), model=MODEL_SPEC)
    lib.index([root])
    yield lib, root, items, small, dup
    lib.close()


def test_filters_select_exactly_and_lose_nothing(rich) -> None:
    lib, root, items, small, _ = rich
    q = Query("a blue circle", limit=50, min_score=0)
    trip = lib.search(Query("a blue circle", limit=50, min_score=0, filters=Filters(folder=str(root / "trip"))))
    assert sorted(h.path for h in trip) == sorted(str(s.path) for s in small)  # all 6, even low-ranked ones
    assert {Path(h.path).suffix for h in lib.search(Query("a star", limit=50, min_score=0,
                                                         filters=Filters(extensions=("png",))))} == {".png"}
    cams = lib.search(Query("a star", limit=50, min_score=0, filters=Filters(camera="pentax")))
    assert sorted(h.path for h in cams) == sorted(str(i.path) for i in items[:6])
    gps = lib.search(Query("a star", limit=50, min_score=0, filters=Filters(has_gps=True)))
    assert sorted(h.path for h in gps) == sorted(str(items[i].path) for i in (0, 2, 4))
    import datetime as dt
    dated = lib.search(Query("a star", limit=50, min_score=0, filters=Filters(
        after=dt.datetime(2012, 1, 1).timestamp(), before=dt.datetime(2014, 1, 1).timestamp())))
    assert sorted(h.path for h in dated) == sorted(str(items[i].path) for i in (2, 3))
    big = lib.search(Query("a star", limit=50, min_score=0, filters=Filters(min_size=150)))
    assert all(h.width >= 150 for h in big) and len(big) == 25
    assert len(lib.search(q)) == 31


def test_negative_terms_steer_away(rich) -> None:
    lib, *_ = rich
    plain = lib.search(Query("a red object", limit=8, min_score=0))
    steered = lib.search(Query("a red object", minus=("a red star:0.8",), limit=8, min_score=0))
    def stars(hits):
        return sum(1 for h in hits if "star" in world.caption(_scene_of(rich, h.path)))
    assert stars(steered) < stars(plain) or stars(plain) == 0


def _scene_of(rich, path: str) -> world.Scene:
    _, _, items, small, dup = rich
    for it in items + small:
        if str(it.path) == path:
            return it.scene
    return items[3].scene if path == str(dup) else world.Scene("", "", "", "", "", "")


def test_weighted_positive_terms_mix_concepts(rich) -> None:
    lib, *_ = rich
    hits = lib.search(Query("a green object", also=("a square:1.0",), limit=3, min_score=0))
    top = _scene_of(rich, hits[0].path)
    assert top.colour == "green" or top.shape == "square"


def test_default_view_refuses_words_that_match_nothing_and_hides_nothing_else(rich) -> None:
    """Out-of-domain words get "no good matches"; a real description is answered; 0 shows everything."""
    lib, _, items, _, _ = rich
    target = items[5]
    real = lib.search(Query(world.caption(target.scene), limit=50))
    assert real and real[0].path == str(target.path) and not real.no_good_matches
    total = lib.status().photos
    for text in ["zqx vlorp quantum tax invoice", "my tax return 2019"]:
        hits = lib.search(Query(text, limit=50))
        assert len(hits) <= 3, (text, len(hits))
    partial = lib.search(Query(f"a {target.scene.colour} object", limit=50))
    assert str(target.path) in [h.path for h in partial]  # a partial description keeps what it names
    # what the bar held back is said, so a client can offer it; with no cutoff nothing is held back
    assert len(partial) < min(50, total) and partial.more_below
    everything = lib.search(Query(f"a {target.scene.colour} object", limit=50, min_score=0))
    assert len(everything) == min(50, total) and not everything.more_below
    assert len(lib.search(Query("zqx vlorp quantum tax invoice", limit=50, min_score=0))) == min(50, total)
    lib.update_settings(min_score=0.9)  # a library-wide cutoff, if the user sets one
    try:
        assert all(h.score >= 0.9 for h in lib.search(Query(world.caption(target.scene), limit=50)))
    finally:
        lib.update_settings(min_score=None)


def test_duplicates_are_grouped_and_more_like_this_finds_the_copy(rich) -> None:
    lib, _, items, _, dup = rich
    groups = lib.searching.duplicates(threshold=0.9)
    assert sorted([str(items[3].path), str(dup)]) in groups
    assert lib.similar(str(items[3].path), limit=1)[0].path == str(dup)


def test_hubness_correction_stops_a_hub_from_winning_everything(tmp_path: Path) -> None:
    """A vector close to everything (a hub) tops most queries until it is normalised away."""
    rng = np.random.default_rng(0)
    d = 64

    def units(x: np.ndarray) -> np.ndarray:
        return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)

    common = units(rng.normal(size=d))
    noise = units(rng.normal(size=(200, d)))
    gallery = units(0.7 * common + 0.71 * noise)  # every item shares one direction...
    hub = common  # ...and the item closest to that shared direction is near everything
    fresh = units(rng.normal(size=(100, d)))
    queries = units(0.7 * common + 0.71 * units(0.3 * noise[:100] + 0.95 * fresh))  # each near one item
    store = Store(tmp_path / "db")
    with store.transaction():
        for i, v in enumerate([*gallery, hub]):
            store.put_file(FileRecord(f"/{i}.jpg", "photo"), [VectorIn(v)])
    from indexer.ann.index import AnnIndex

    ann = AnnIndex.open(tmp_path / "ann", d, store)
    stats = GalleryStats().refresh(store, queries[:50])

    def hub_rate(alpha: float) -> float:
        tops = [search_vector(q, store, ann, SearchOptions(limit=1), stats, alpha)[0].path for q in queries[50:]]
        return tops.count("/200.jpg") / len(tops)

    def accuracy(alpha: float) -> float:
        tops = [search_vector(q, store, ann, SearchOptions(limit=1), stats, alpha)[0].path for q in queries[50:]]
        return sum(t == f"/{50 + i}.jpg" for i, t in enumerate(tops)) / len(tops)

    before, after = hub_rate(0.0), hub_rate(1.0)
    assert before > 0.5 and after < before / 2, (before, after)
    assert accuracy(1.0) > accuracy(0.0)


def test_relevance_is_monotonic_and_bounded() -> None:
    sample = np.random.default_rng(1).normal(0.1, 0.05, 500)
    r = relevance(np.array([0.0, 0.1, 0.2, 0.3]), sample)
    assert np.all(np.diff(r) > 0) and r.min() >= 0 and r.max() <= 1 and r[1] < 0.5 < r[3]


def test_the_nonsense_bar_is_measured_once_and_kept_for_the_next_process(rich) -> None:
    from indexer import Library

    lib = rich[0]
    lib.search(Query("a red star", limit=5))
    stored = json.loads(lib.store.get_meta("null_margin"))
    assert stored["n"] == len(lib.ann) and stored["margin"] > 0
    vec = lib.searching.query_vector(Query("a red star"))
    other = Library.open(lib.folder)
    try:
        here, there = lib.searching.searcher()._nonsense_floors(vec), other.searching.searcher()._nonsense_floors(vec)
        assert (there.best, there.items) == pytest.approx((here.best, here.items))
        assert other.searching.searcher()._nonsense._probes is None  # the other process did not encode the probes again
    finally:
        other.close()
