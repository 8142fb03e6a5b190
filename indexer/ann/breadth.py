"""The search breadth a large library's inverted lists need, measured on its own vectors at build.

The lists' probes per search come from a formula of their number, tuned on bench_query's vectors
(recall@10 0.9995 at 300k). On bench/vectors.py's clustered vectors the same probes found only
0.941 of the true 10 at 200k (64 probes: 0.975, 96: 0.989; issue #39): how many lists hold a
query's neighbours depends on how the library's clusters fall, which no formula of its size
knows. So when the lists are built, ``least`` asks the finished index ``QUERIES`` questions
between the library's own vectors (``between``), each against the exact answer over every vector,
and keeps the fewest probes of ``STEPS`` times the formula's (and more, up to every list) that find
``TARGET`` of the true 10 — never fewer than the formula's, so a library the formula suits searches
exactly as before. Measured on those vectors (same runs): 98 of 800 lists at 200k, recall 0.9895
where the formula's 39 found 0.941; at 1M the formula's 64 of 4,000 kept, 0.9955. The lists keep
what was measured for their centres (``InvertedLists.measured``); new centres are measured again.

Why by hand: hnswlib has no inverted lists to tune, and an exact scan is one matrix product.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from indexer.ann.coded_lists import CodedLists
from indexer.ann.inverted_file import InvertedLists
from indexer.ann.projection import FullVectors

# recall@10 on the questions between the library's photos: where it was 0.995, the benches' new points
# between clusters (bench/vectors.py) found 0.99 or more, at 200k and at 1M (docs/benchmarks.md)
TARGET = 0.995
QUERIES = 200  # the exact answers and the searches: ~4 s of a 15 s build at 200k (AVX-512 EPYC)
STEPS = (1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0)  # times the formula's probes, tried in turn (then 1.5x more each)
K = 10
MIX = 3  # library vectors summed into one question (``between``)
# coded lists (``least``): within this recall of what twice the formula's probes find. With 4x as the
# ceiling, 200k power-law vectors took 172 of 800 probes (new points: 0.999 in 1.18 ms) where 104
# found 0.994; twice keeps 1M at its 112 (the questions flat past it) and takes ~104 at 200k
CEILING_SLACK, CEILING_STEP = 0.005, 2.0


def exact_top(full: FullVectors, queries: np.ndarray, k: int) -> np.ndarray:
    """Labels of each query's ``k`` nearest among every full vector (one product per block)."""
    best_s = np.full((len(queries), k), -np.inf, np.float32)
    best_l = np.zeros((len(queries), k), np.int64)
    for labels, rows in full.batches(65_536):
        sims = queries @ rows.astype(np.float32).T
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k] if sims.shape[1] > k else np.indices(sims.shape)[1]
        sims = np.concatenate([best_s, np.take_along_axis(sims, top, 1)], axis=1)
        owners = np.concatenate([best_l, labels[top]], axis=1)
        keep = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        best_s, best_l = np.take_along_axis(sims, keep, 1), np.take_along_axis(owners, keep, 1)
    return best_l


def between(full: FullVectors, n: int, seed: int = 0, mix: int = MIX) -> np.ndarray:
    """``n`` questions between the library's photos: each the normalised sum of ``mix`` of its vectors.

    A question asked with one of its own vectors finds itself and its cluster in the first lists
    (recall 1.000 at the formula's probes at 200k, where the benches' new points between clusters
    found 0.941). Mixes of two were still easy (0.983 there, 0.9945 at 58 probes where new points
    found 0.969); mixes of three ask as hard as the new points within half a percent at 200k and
    1M (bench/vectors.py's clustered vectors, docs/benchmarks.md). A described scene lies between
    the photos it matches, as these do."""
    rng = np.random.default_rng(seed)
    pos = rng.choice(full.n, (n, mix))
    q = sum(full.rows_at(pos[:, i]) for i in range(mix))
    return q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)


def recall(search: Callable[[np.ndarray, int], np.ndarray], queries: np.ndarray, truth: np.ndarray,
           breadth: int) -> float:
    """Share of the true ``K`` nearest each query's search finds."""
    return float(np.mean([len(set(true.tolist()).intersection(search(q, breadth).tolist())) / K
                          for q, true in zip(queries, truth, strict=True)]))


def least(search: Callable[[np.ndarray, int], np.ndarray], full: FullVectors, formula: int, most: int,
          ceiling: bool = False) -> int:
    """The fewest probes of ``STEPS`` × ``formula``, then half as many again each step up to ``most``,
    whose searches find ``TARGET`` of the true neighbours of ``QUERIES`` questions between the
    library's vectors (``most`` when none does). ``search(query, probes)`` returns the top ``K`` labels.

    With ``ceiling`` (coded lists) the goal is what ``CEILING_STEP`` × the formula's probes find,
    less ``CEILING_SLACK``, and nothing past them is tried: there a search's recall is bounded by the
    projection and the codes as well as by the lists probed, and on questions between power-law
    vectors that bound is lower than on new points (1M, 96-d: 0.939 at 224 probes where new points
    found 0.995; 0.937 at 112, where new points found 0.9915; docs/benchmarks.md)."""
    queries = between(full, QUERIES)
    truth = exact_top(full, queries, K)
    steps = [step for step in STEPS if step <= CEILING_STEP] if ceiling else list(STEPS)
    while not ceiling and formula * steps[-1] < most:
        steps.append(steps[-1] * 1.5)
    tried = sorted({min(most, max(1, round(formula * step))) for step in steps})
    goal = recall(search, queries, truth, tried[-1]) - CEILING_SLACK if ceiling else TARGET
    for probes in tried:
        if recall(search, queries, truth, probes) >= goal:
            return probes
    return tried[-1]


def measure(lists: InvertedLists | CodedLists, full: FullVectors, search: Callable[[np.ndarray, int], np.ndarray]) -> None:
    """Set ``lists``' probes as ``least`` finds them for their present clustering (after a build, and
    again after they re-clustered for a library that doubled: the probes found before were for fewer,
    larger lists)."""
    lists.measured = least(search, full, lists.formula(), lists.lists, ceiling=isinstance(lists, CodedLists))
