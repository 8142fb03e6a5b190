"""Small things in large photos are found by their region vectors, and every result says why it matched.

Measured on held-out seeds of the three test models (seeds that chose nothing: the crop layout
and ``REGION_MARGIN`` were chosen on others, see regions.py and rank.py), each time against the
same photos indexed without regions in the same run.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from indexer import Library, Query
from indexer.base.progress import Phase
from indexer.cli.main import main
from indexer.media.regions import boxes, crops, detail, eligible
from tests import retrieval, smallworld, world
from tests.conftest import MODEL_SPEC, once_per_run

ASSETS = Path(__file__).resolve().parents[1] / "assets"
MODELS = {"vit": ASSETS / "tiny-clip", "gap": ASSETS / "tiny-clip-gap", "conv": ASSETS / "tiny-clip-conv"}
HELD_OUT = (7201, 7202)
ORDINARY_SEED = 7203


def _small_object_run(tmp: Path, spec: str, regions: bool) -> dict[str, object]:
    """R@5 of the small objects' descriptions with the default view; where the hit's region lies."""
    found, contained = [], []
    for seed in HELD_OUT:
        targets = smallworld.write(tmp / f"photos{seed}", seed)
        lib = Library.open(tmp / f"lib{seed}-{regions}", model=spec, precision="fp32", regions=regions)
        try:
            lib.index([tmp / f"photos{seed}"])
            for t in targets:
                hits = lib.search(Query(t.text, limit=5))
                assert len({h.path for h in hits}) == len(hits)  # a photo appears once, however many regions
                mine = [h for h in hits if h.path == str(t.path)]
                found.append(bool(mine))
                if mine and mine[0].region is not None:
                    contained.append(smallworld.inside(mine[0].region, t.box))
        finally:
            lib.close()
    return {"R@5": float(np.mean(found)), "contained": contained}


@pytest.fixture(scope="module")
def small_objects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, dict[str, object]]]:
    def measure(tmp: Path) -> dict[str, dict[str, dict[str, object]]]:
        return {name: {mode: _small_object_run(tmp / name, f"local-dir:{folder}", mode == "regions")
                       for mode in ("whole", "regions")} for name, folder in MODELS.items()}

    return once_per_run(tmp_path_factory, "small-objects", measure)


def test_regions_find_small_objects_the_whole_photo_misses(small_objects) -> None:
    """Held-out R@5 of "a red star" (object 0.3-1.2 % of the picture), regions vs whole photo only:
    vit 0.38 → 0.67, gap 0.50 → 0.71, conv 0.50 → 0.88 when written (mean gain +0.29). The gap
    model's crops are the least distinct: it gains +0.21, under the +0.25 the mean holds."""
    gains = {m: r["regions"]["R@5"] - r["whole"]["R@5"] for m, r in small_objects.items()}
    assert np.mean(list(gains.values())) >= 0.25, gains
    assert all(g >= 0.1 for g in gains.values()), gains


def test_the_region_shown_holds_the_object(small_objects) -> None:
    """The box a hit names contains the object it was asked for (most of its area) in >= 80 % of hits."""
    for name, r in small_objects.items():
        shares = r["regions"]["contained"]
        assert shares, name
        assert np.mean(np.array(shares) >= 0.8) >= 0.8, (name, shares)


@pytest.fixture(scope="module", params=list(MODELS))
def ordinary(request, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, dict[str, float]]]:
    """The retrieval benchmark's photo queries on ordinary photos large enough for regions, with and without."""
    def measure(folder: Path) -> dict[str, dict[str, dict[str, float]]]:
        out = {}
        for regions in (False, True):
            case = retrieval.build(folder / str(regions), f"local-dir:{MODELS[request.param]}", ORDINARY_SEED,
                                   n_videos=0, upscale=2, regions=regions)
            try:
                assert bool(case.lib.store.region_count()[0]) == regions
                out["regions" if regions else "whole"] = retrieval.evaluate(case, ORDINARY_SEED + 1)
            finally:
                case.lib.close()
        return out

    return once_per_run(tmp_path_factory, f"ordinary-{request.param}", measure)


@pytest.mark.parametrize("metric", ["exact text R@1", "photo→photo R@1", "composed R@1"])
def test_regions_cost_ordinary_photos_nothing(ordinary, metric: str) -> None:
    assert ordinary["regions"][metric]["default"] >= ordinary["whole"][metric]["default"] - 1e-9, \
        (metric, ordinary["whole"][metric], ordinary["regions"][metric])


def test_partial_descriptions_pay_a_stated_price(ordinary) -> None:
    """The cost regions.py and rank.REGION_MARGIN state: words about size or position ("a large red
    object") can match a crop of another photo. Held-out mAP with regions, when written: 0.97, 0.99
    and 0.88 of the whole-photo figure."""
    whole, regions = ordinary["whole"]["partial text mAP"], ordinary["regions"]["partial text mAP"]
    assert regions["default"] >= 0.85 * whole["default"], (whole, regions)


# what a user does with regions ------------------------------------------------------------------
def test_crops_cover_the_photo_and_the_gate_skips_what_shows_nothing() -> None:
    square, wide = boxes(600, 600), boxes(640, 480)
    assert (len(square), len(wide)) == (5, 7)  # 2 x 2 + centre; 3 x 2 + centre
    for bs in (square, wide):
        assert all(0 <= b[0] < b[2] <= 1 + 1e-9 and 0 <= b[1] < b[3] <= 1 + 1e-9 for b in bs)
        assert min(b[0] for b in bs) == 0 and max(b[2] for b in bs) == pytest.approx(1)
        assert min(b[1] for b in bs) == 0 and max(b[3] for b in bs) == pytest.approx(1)
    scene = world.render(world.random_scene(random.Random(1)).with_(texture="striped"), 600, 3, (600, 600))
    half = Image.new("RGB", (1200, 600), (128, 128, 128))
    half.paste(scene, (600, 0))
    kept = [b for b, _ in crops(half)]
    assert kept and all(b[2] > 0.5 for b in kept)  # every crop wholly in the flat grey half is skipped
    assert len(kept) < len(boxes(1200, 600))
    assert detail(Image.new("RGB", (64, 64), (200, 10, 10))) == 0
    assert eligible(128, 200, 64) and not eligible(127, 200, 64)


@pytest.fixture
def small_lib(tmp_path: Path, where):
    """A library of small-object photos, in a folder and on a real PostgreSQL (regions are rows and
    vectors like any other: both kinds of store keep them)."""
    targets = smallworld.write(tmp_path / "photos", 7301, targets=6, distractors=10)
    world.write_corpus(tmp_path / "photos" / "tiny", world.distinct_scenes(random.Random(5), 4), seed=5, size=100)
    lib = Library.open(where, model=MODEL_SPEC)
    lib.index([tmp_path / "photos"])
    yield lib, targets, tmp_path
    lib.close()


def test_turning_regions_on_adds_them_to_photos_already_indexed_and_off_removes_them(small_lib) -> None:
    lib, targets, _ = small_lib
    assert lib.store.region_count() == (0, 0) and lib.find_regions().done == 0  # off: nothing made
    lib.update_settings(regions=True)
    assert Phase.REGIONS in [after.phase for after in lib.passes()]
    report = lib.find_regions()
    large = [f for f in lib.store.files(status="ok") if min(f.width, f.height) >= 128]
    assert report.done == len(large) == 16 and report.vectors >= 5 * 16 * 0.8  # the 100 px photos get none
    assert lib.find_regions().done == 0  # resumable: nothing is made twice
    hits = [h for t in targets for h in lib.search(Query(t.text, min_score=0, limit=10))]
    assert any(h.region is not None and h.whole_score is not None for h in hits)
    assert all(h.kind == "photo" and h.region is None for h in lib.similar(str(targets[0].path)))
    lib.update_settings(regions=False)
    assert lib.store.region_count() == (0, 0)
    assert all(h.region is None for t in targets for h in lib.search(Query(t.text, min_score=0, limit=10)))
    assert lib.ann.ids() == lib.store.vector_ids()  # the index forgot them too


def test_a_changed_photo_gets_new_regions(small_lib) -> None:
    lib, targets, _ = small_lib
    lib.update_settings(regions=True)
    lib.find_regions()
    path = targets[0].path
    before = lib.store.region_count()
    Image.open(path).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(path, quality=92)
    lib.index([path.parent])
    fid = lib.store.file(str(path)).id
    assert lib.store.region_count()[1] == before[1]  # still marked done, by indexing this time
    assert lib.store.files_missing_regions(lib.store.model, 128) == []
    assert len([1 for _, _, _ in lib.store.vectors_of(fid)]) == 1  # one whole-picture vector, the regions beside it


def test_a_composed_result_says_how_much_came_from_the_example_photo(small_lib) -> None:
    lib, targets, tmp = small_lib
    ref = str(targets[1].path)
    shares = {}
    for strength in (0.2, 0.8):
        hits = lib.search(Query("make it blue", images=(ref,), strength=strength, min_score=0, limit=10))
        got = [h.image_share for h in hits if h.image_share is not None]
        assert got and all(0 <= s <= 1 for s in got)
        assert all(h.region is None for h in hits)  # an example photo is compared whole to whole
        shares[strength] = float(np.mean(got))
    assert shares[0.2] > shares[0.8], shares  # more weight on the words: less of the match is the photo's
    plain = lib.search(Query("a red star", min_score=0))
    assert all(h.image_share is None for h in plain)


def test_cli_says_why_each_result_matched(small_lib, where, capsys: pytest.CaptureFixture[str]) -> None:
    lib, targets, tmp = small_lib
    lib.update_settings(regions=True)
    lib.find_regions()
    lib.close()
    args = ["--library", str(where), "--model", MODEL_SPEC, "search", targets[0].text, "--min-score", "0"]
    assert main([*args, "--json"]) == 0
    results = json.loads(capsys.readouterr().out)["results"]
    regional = [r for r in results if r["region"] is not None]
    assert regional, results
    for r in regional:
        assert len(r["region"]) == 4 and r["region_name"] and r["whole_score"] is not None
        assert r["why"].startswith(f"matched: region {r['region_name']} · {r['score']:.2f} / whole photo")
    assert all("image_share" in r for r in results)
    assert main([*args, "--why", "-n", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 6 and all(line.strip().startswith("matched: ") for line in lines[1::2]), lines


def test_a_model_switch_makes_the_new_models_regions_too(small_lib) -> None:
    lib, targets, tmp = small_lib
    lib.update_settings(regions=True)
    lib.find_regions()
    gap = f"local-dir:{MODELS['gap']}"
    target = lib.switch.start(gap).target
    lib.switch.reembed()  # covers the library, then flips
    assert lib.store.model == target
    vectors, photos = lib.store.region_count()
    large = [f for f in lib.store.files(status="ok") if min(f.width, f.height) >= 160]  # 2 x the gap model's 80 px
    assert photos == len(large) and vectors >= 5 * len(large) * 0.8
    assert lib.find_regions().done == 0  # nothing left for the regions pass
    assert any(h.region is not None for t in targets for h in lib.search(Query(t.text, min_score=0, limit=5)))


def test_the_cli_shows_the_regions_pass_as_it_runs_and_what_it_made(small_lib, where, capsys) -> None:
    """Every pass after indexing shows its progress in the CLI (the regions pass once showed none)."""
    lib, _, _ = small_lib
    lib.update_settings(regions=True, read_text=False)
    lib.close()
    assert main(["--library", str(where), "index"]) == 0
    out, err = capsys.readouterr()
    assert "finding regions [" in err and "/16" in err, err  # its bar, with the 16 large photos as the total
    assert "regions: " in out and "for 16 large photos" in out, out
