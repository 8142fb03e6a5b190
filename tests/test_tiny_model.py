"""The committed tiny model really understands its world (on renders it never saw).

Seeds here differ from the training seed and from each other; text queries use
attribute combinations held out of training.
"""

from __future__ import annotations

import pytest

from tests import semantics


@pytest.fixture(scope="module")
def enc(embedder):
    return embedder.encode_images, embedder.encode_texts


def test_text_to_image_r1_on_held_out_combinations(enc) -> None:
    r1 = semantics.text_to_image_r1(*enc, seed=20261125, n=100, held_out=True)
    assert r1 >= 0.95, r1


def test_every_attribute_is_understood(enc) -> None:
    acc = semantics.attribute_accuracy(*enc, seed=424242)
    print("attribute accuracy:", acc)
    assert min(acc.values()) >= 0.75, acc  # shape is the weakest (about 0.8)


def test_near_duplicates_find_their_original(enc) -> None:
    assert semantics.near_duplicate_r1(enc[0], seed=777, n=100) == 1.0


def test_composition_is_needed_for_composed_targets(enc) -> None:
    """Image alone and modification text alone both fall well short of the target caption."""
    r = semantics.composed_recall(*enc, seed=31337)
    print("composed R@1:", r)
    assert r["oracle caption"] >= 0.85, r
    assert r["image only"] <= r["oracle caption"] - 0.4, r
    assert r["text only"] <= r["oracle caption"] - 0.4, r


def test_partial_captions_match_every_scene_with_those_attributes(embedder) -> None:
    """"a red star" ranks red stars above everything else, whatever their other attributes."""
    import random

    from tests import world

    scenes = world.distinct_scenes(random.Random(99), 60)
    imgs = embedder.encode_images([world.render(s, 128, seed=i) for i, s in enumerate(scenes)])
    probe = scenes[0]
    text = world.caption(probe, ("colour", "shape"))
    scores = imgs @ embedder.encode_texts([text])[0]
    match = [i for i, s in enumerate(scenes) if (s.colour, s.shape) == (probe.colour, probe.shape)]
    top = set(scores.argsort()[::-1][: len(match)].tolist())
    assert len(top & set(match)) >= max(1, int(0.8 * len(match))), (text, match, top)


@pytest.mark.parametrize("variant", ["gap", "conv", "weak", "wide"])
def test_the_other_test_models_understand_their_world_too(variant: str) -> None:
    """The models the search defaults are also chosen on are real retrieval models, not noise."""
    import random
    from pathlib import Path

    import numpy as np

    from indexer.model.openclip import Embedder
    from tests import world

    emb = Embedder(f"local-dir:{Path(__file__).parent / 'assets' / f'tiny-clip-{variant}'}")
    assert semantics.text_to_image_r1(emb.encode_images, emb.encode_texts, seed=20261129, n=100, held_out=True) >= 0.95
    assert semantics.near_duplicate_r1(emb.encode_images, seed=778, n=100) >= 0.97
    if variant == "gap":  # what it is for: captions sit far from their pictures, pictures close to each other
        scenes = world.distinct_scenes(random.Random(5), 40)
        imgs = emb.encode_images([world.render(s, 128, seed=i) for i, s in enumerate(scenes)])
        caps = emb.encode_texts([world.caption(s) for s in scenes])
        matched = float(np.mean(np.sum(imgs * caps, axis=1)))
        image_image = float(np.mean(imgs @ imgs.T))
        assert matched < 0.5 * image_image, (matched, image_image)
    if variant == "wide":  # what it is for: another embedding width (and another fixed temperature)
        assert emb.encode_texts(["a red star"]).shape == (1, 128)


def _partial_over_nonsense(emb) -> float:
    """How far one-attribute descriptions' best matches stand out, in units of the made-up
    words' (the relevance bar's null, search/relevance.py): median over 40 descriptions of the
    top margin, divided by the 95th percentile of the probes' top margins, on 120 renders."""
    import random

    import numpy as np

    from indexer.model.prompts import NONSENSE_PROBES
    from tests import world

    rng = random.Random(3)
    scenes = world.distinct_scenes(rng, 120)
    imgs = emb.encode_images([world.render(s, 128, seed=i) for i, s in enumerate(scenes)])

    def margin(vec: np.ndarray) -> float:
        scores = imgs @ vec
        return float(scores.max() - np.percentile(scores, 10))

    partial = [world.caption(s, [rng.choice(world.ATTRIBUTES)]) for s in rng.sample(scenes, 40)]
    real = np.median([margin(v) for v in emb.encode_texts(partial)])
    null = np.percentile([margin(v) for v in emb.encode_texts(list(NONSENSE_PROBES))], 95)
    return float(real / null)


def test_the_weak_model_tells_partial_descriptions_from_nonsense_less_well(embedder) -> None:
    """What the weak test model is for (issue #38): its text tower, trained less, leaves less
    room between a real partial description and made-up words than the original model does."""
    from pathlib import Path

    from indexer.model.openclip import Embedder

    weak = Embedder(f"local-dir:{Path(__file__).parent / 'assets' / 'tiny-clip-weak'}")
    base, less = _partial_over_nonsense(embedder), _partial_over_nonsense(weak)
    print(f"partial / nonsense margin: original {base:.2f}, weak {less:.2f}")
    assert less < 0.6 * base, (base, less)
