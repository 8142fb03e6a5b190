"""Retrieval quality of the query features, on the committed tiny models and their world.

First table: per query type and per test model (five tiny models with different
similarity scales), the plain cosine app vs Glimpse's defaults, on seeds no default was
chosen on (tests/retrieval.py; the same check runs in `make test`). Then, on the
original model: composed retrieval per method, prompt ensembles, hubness correction.
"""

from __future__ import annotations

import random
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np

from bench.common import report, table
from tests import semantics, world
from tests.conftest import MODEL_SPEC


def composed_table(emb) -> str:
    from indexer.search.query import compose, compose_pdv, derive_caption, unit

    bank = sorted({world.caption(s) for s in world.all_scenes()})
    bank_vecs = emb.encode_texts(bank)
    methods = {
        "plain sum": lambda r, t, tr: unit(r + t),
        "WeiMoCIR fusion s=0.3": lambda r, t, tr: compose(r, t, 0.3),
        "WeiMoCIR fusion s=0.5": lambda r, t, tr: compose(r, t, 0.5),
        "WeiMoCIR fusion s=0.7": lambda r, t, tr: compose(r, t, 0.7),
        "PDV λ=0.5, derived caption": lambda r, t, tr: compose_pdv(
            r, t, emb.encode_texts([derive_caption(r, bank, bank_vecs)])[0], 0.5),
        "PDV λ=0.5, given caption": lambda r, t, tr: compose_pdv(
            r, t, emb.encode_texts([world.caption(tr.reference)])[0], 0.5),
    }
    rows = []
    base1 = semantics.composed_recall(emb.encode_images, emb.encode_texts, seed=90210, n_triplets=80, k=1)
    base5 = semantics.composed_recall(emb.encode_images, emb.encode_texts, seed=90210, n_triplets=80, k=5)
    for name in ("image only", "text only"):
        rows.append([name, base1[name], base5[name]])
    for name, fn in methods.items():
        r1 = semantics.composed_recall(emb.encode_images, emb.encode_texts, 90210, fn, 80, 1)["composed"]
        r5 = semantics.composed_recall(emb.encode_images, emb.encode_texts, 90210, fn, 80, 5)["composed"]
        rows.append([name, r1, r5])
    rows.append(["target caption (ceiling)", base1["oracle caption"], base5["oracle caption"]])
    return table(["composed query", "R@1", "R@5"], rows)


def ensemble_table(emb) -> str:
    rows = []
    for name, templates in (("caption as typed (default)", ("{}",)),
                            ("ensemble: '{}', 'a photo of {}.'", ("{}", "a photo of {}.")),
                            ("ensemble of the 4 training templates", world.TEMPLATES)):
        def enc_txt(texts, templates=templates):
            out = [emb.encode_texts([t.format(x) for t in templates]).mean(axis=0) for x in texts]
            out = np.stack(out)
            return out / np.linalg.norm(out, axis=1, keepdims=True)

        full = np.mean([semantics.text_to_image_r1(emb.encode_images, enc_txt, seed=s, n=150, held_out=None)
                        for s in (1, 2, 3)])
        rows.append([name, full])
    return table(["text encoding", "text→image R@1 (150 scenes, 3 seeds)"], rows)


def hubness_table() -> str:
    from indexer import Library, SearchOptions

    rng = random.Random(2024)
    scenes = world.distinct_scenes(rng, 300)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        world.write_corpus(Path(tmp) / "p", scenes, seed=2024, size=128)
        lib = Library.open(Path(tmp) / "lib", model=MODEL_SPEC, precision="fp32", hub_alpha=0.5)
        lib.index([Path(tmp) / "p"])
        bank = [world.caption(world.random_scene(rng), rng.sample(world.ATTRIBUTES, rng.randint(1, 6)))
                for _ in range(300)]
        lib.searching.set_query_bank(bank)
        queries = [(world.caption(s, rng.sample(world.ATTRIBUTES, rng.randint(2, 4))), None) for s in scenes[:150]]
        queries += [(world.caption(s), f"scene_{i:03d}") for i, s in enumerate(scenes[150:], start=150)]
        for alpha in (0.0, 0.5, 1.0):
            lib.update_settings(hub_alpha=alpha)
            counts: Counter[str] = Counter()
            r1 = []
            for text, target in queries:
                vec = lib.searching.query_vector(__import__("indexer").Query(text))
                hits = lib.searching.by_vector(vec, SearchOptions(limit=10, min_score=0.0, hubness=alpha > 0))
                counts.update(h.path for h in hits)
                if target:
                    r1.append(Path(hits[0].path).stem == target)
            top_path, top_n = counts.most_common(1)[0]
            rows.append([f"α = {alpha}" + (" (off)" if alpha == 0 else ""), top_n / len(queries),
                         sum(1 for c in counts.values() if c >= 0.1 * len(queries)), float(np.mean(r1))])
        lib.close()
    return table(["hubness correction", "most frequent item: share of top-10 lists", "items in >= 10% of lists",
                  "R@1 (full captions)"], rows)


MODELS = {"vit (original)": "tiny-clip", "gap (80 px, fixed temperature)": "tiny-clip-gap",
          "conv (ResNet + wide text)": "tiny-clip-conv", "weak (text tower trained less)": "tiny-clip-weak",
          "wide (128-d, temperature 1/30)": "tiny-clip-wide"}
HELD_OUT = (7103, 7207, 7301)
SHOTS = "composed R@1, another shot of the reference in the library"


def defaults_table() -> str:
    """Plain app vs Glimpse default per query type and model, averaged over held-out seeds."""
    from tests import retrieval

    assets = Path(__file__).resolve().parent.parent / "tests" / "assets"
    rows = []
    for name, folder in MODELS.items():
        runs = []
        for seed in HELD_OUT:
            with tempfile.TemporaryDirectory() as tmp:
                case = retrieval.build(Path(tmp), f"local-dir:{assets / folder}", seed)
                runs.append(retrieval.evaluate(case, seed + 1))
                case.lib.close()
            with tempfile.TemporaryDirectory() as tmp:
                case = retrieval.build(Path(tmp), f"local-dir:{assets / folder}", seed, n_videos=0,
                                       reference_shots=True)
                runs[-1][SHOTS] = retrieval.composed(case)
                case.lib.close()
        for metric in runs[0]:
            agg = np.max if "max" in metric else np.mean
            vals = {k: float(agg([r[metric][k] for r in runs])) for k in runs[0][metric]}
            rows.append([name, metric, vals["plain"], vals["default"], vals.get("no cutoff", "")])
    return table(["model", "query type", "plain app", "Glimpse default", "Glimpse, no cutoff"], rows)


def main() -> None:
    import argparse

    from indexer.model.openclip import Embedder

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--defaults-only", action="store_true", help="only the first table (five models, ~20 min)")
    args = ap.parse_args()

    report(f"Defaults vs a plain cosine app (five tiny models, held-out seeds {', '.join(map(str, HELD_OUT))})",
           defaults_table(),
           "Plain app: brute-force cosine over every stored vector, composed = image + text vectors, no cutoff. "
           "Glimpse default: Library.search(Query(...)) unchanged. 'nonsense' rows count results shown for 8 "
           "made-up phrases (mean, and max over phrases and seeds). The last composed row's library also holds "
           "another shot of each reference photo (as a burst gives): the distractor an image-dominated query picks. "
           "'told from nonsense': the partial descriptions whose best match stands out more than any of the 8 "
           "made-up phrases' does on the same library. Short clips: 2-5 s, one event or two.")
    if args.defaults_only:
        return
    emb = Embedder(MODEL_SPEC)
    report("Composed retrieval (tiny model, 80 fresh triplets)", composed_table(emb),
           "Gallery: each target plus hard distractors (one other attribute changed, or only the new value shared).")
    report("Prompt ensembles (tiny model)", ensemble_table(emb))
    report("Hubness correction (tiny model, 300-photo library, 300 mixed queries)", hubness_table())


if __name__ == "__main__":
    main()
