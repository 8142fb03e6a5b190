"""Measurements of what an embedding model understands about the synthetic world.

Shared by the training script (to report on a model it just made) and the tests (to
hold the committed model to its thresholds). Every figure is computed on fresh renders
from the seed given, never on training images.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image

from tests import world

EncodeImages = Callable[[Sequence[Image.Image]], np.ndarray]
EncodeTexts = Callable[[Sequence[str]], np.ndarray]


def _normalise(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _gallery(seed: int, n: int, held_out: bool | None) -> tuple[list[world.Scene], list[Image.Image]]:
    scenes = world.distinct_scenes(random.Random(seed), n, held_out)
    images = [world.render(s, size=128, seed=seed * 7919 + i) for i, s in enumerate(scenes)]
    return scenes, images


def text_to_image_r1(enc_img: EncodeImages, enc_txt: EncodeTexts, seed: int, n: int = 100,
                     held_out: bool | None = True) -> float:
    """Fraction of full captions whose own image ranks first among ``n`` distinct scenes."""
    scenes, images = _gallery(seed, n, held_out)
    sims = enc_txt([world.caption(s) for s in scenes]) @ enc_img(images).T
    return float(np.mean(sims.argmax(axis=1) == np.arange(n)))


def attribute_accuracy(enc_img: EncodeImages, enc_txt: EncodeTexts, seed: int, n: int = 60) -> dict[str, float]:
    """Per attribute: how often the true caption beats every caption differing only there."""
    scenes, images = _gallery(seed, n, None)
    img = enc_img(images)
    out = {}
    for attr in world.ATTRIBUTES:
        hits = 0
        for i, s in enumerate(scenes):
            options = [s.with_(**{attr: v}) for v in world.VALUES[attr]]
            scores = enc_txt([world.caption(o) for o in options]) @ img[i]
            hits += world.VALUES[attr][int(scores.argmax())] == getattr(s, attr)
        out[attr] = hits / n
    return out


def near_duplicate_r1(enc_img: EncodeImages, seed: int, n: int = 100) -> float:
    """Fraction of perturbed copies whose original ranks first among ``n`` distinct scenes."""
    _, images = _gallery(seed, n, None)
    queries = [world.perturb(im, seed + i) for i, im in enumerate(images)]
    sims = enc_img(queries) @ enc_img(images).T
    return float(np.mean(sims.argmax(axis=1) == np.arange(n)))


def composed_gallery(seed: int, n_triplets: int = 40, reference_shots: bool = False,
                     ) -> tuple[list[world.Triplet], list[world.Scene], list[Image.Image]]:
    """Triplets plus a gallery of their targets and hard distractors.

    For every reference the gallery holds the target and scenes that differ from the
    reference in one *other* attribute, and scenes that share only the new value, so
    that neither the image alone nor the text alone is enough. References themselves
    are left out, as in the composed-retrieval literature, unless ``reference_shots``:
    then another shot of each reference (a different render of its scene, as a burst of
    photos gives) is in the gallery too, the distractor an image-dominated query picks.
    """
    rng = random.Random(seed)
    trips = list(world.triplets(rng, n_triplets))
    scenes: dict[tuple[str, ...], world.Scene] = {}
    for t in trips:
        scenes.setdefault(t.target.key(), t.target)
        for attr in world.ATTRIBUTES:
            if attr == t.attr:
                continue
            other = rng.choice([v for v in world.VALUES[attr] if v != getattr(t.reference, attr)])
            d = t.reference.with_(**{attr: other})
            scenes.setdefault(d.key(), d)
        for _ in range(2):
            d = world.random_scene(rng).with_(**{t.attr: t.value})
            scenes.setdefault(d.key(), d)
    refs = {t.reference.key() for t in trips} - {t.target.key() for t in trips}
    if reference_shots:
        scenes.update((t.reference.key(), t.reference) for t in trips)
        refs = set()
    gallery = [s for k, s in scenes.items() if k not in refs]
    images = [world.render(s, size=128, seed=seed * 31 + i) for i, s in enumerate(gallery)]
    return trips, gallery, images


def composed_recall(enc_img: EncodeImages, enc_txt: EncodeTexts, seed: int,
                    compose: Callable[[np.ndarray, np.ndarray, world.Triplet], np.ndarray] | None = None,
                    n_triplets: int = 40, k: int = 1) -> dict[str, float]:
    """R@k on composed triplets for image-only, text-only, oracle and (if given) ``compose``.

    ``oracle`` queries with the full caption of the target: the ceiling the ground truth
    allows. ``compose(ref_vec, text_vec, triplet)`` returns a query vector.
    """
    trips, gallery, images = composed_gallery(seed, n_triplets)
    g = enc_img(images)
    index = {s.key(): i for i, s in enumerate(gallery)}
    target = np.array([index[t.target.key()] for t in trips])
    refs = enc_img([world.render(t.reference, size=128, seed=seed + 5 + i) for i, t in enumerate(trips)])
    texts = enc_txt([t.text for t in trips])
    oracle = enc_txt([world.caption(t.target) for t in trips])
    queries = {"image only": refs, "text only": texts, "oracle caption": oracle}
    if compose is not None:
        queries["composed"] = np.stack([compose(refs[i], texts[i], t) for i, t in enumerate(trips)])

    def recall(q: np.ndarray) -> float:
        top = np.argsort(-(_normalise(q) @ g.T), axis=1)[:, :k]
        return float(np.mean([target[i] in top[i] for i in range(len(trips))]))

    return {name: recall(q) for name, q in queries.items()}
