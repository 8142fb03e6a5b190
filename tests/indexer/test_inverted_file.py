"""Inverted lists on their own: the probed lists find what an exact scan finds, and adds,
removals, merges, re-clustering and a save keep every label findable exactly once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from indexer.ann import inverted_file
from indexer.ann.inverted_file import InvertedLists, best


def points(rng: np.random.Generator, n: int, dim: int = 16, centers: int = 40) -> np.ndarray:
    c = np.random.default_rng(9).normal(size=(centers, dim)).astype(np.float32)
    y = c[rng.integers(0, centers, n)] + 0.3 * rng.normal(size=(n, dim)).astype(np.float32)
    return y / np.linalg.norm(y, axis=1, keepdims=True)  # unit vectors: each one's best match is itself


def top(lists: InvertedLists, q: np.ndarray, every: dict[int, np.ndarray], k: int = 10) -> np.ndarray:
    """The top ``k`` of the lists' candidates, re-ranked as AnnIndex does."""
    cand = lists.search(q, 50)
    sims = np.stack([every[int(i)] for i in cand]) @ q
    return cand[np.argsort(-sims)[:k]]


@pytest.fixture(autouse=True)
def small_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inverted_file, "LIST_SIZE", 25)
    monkeypatch.setattr(inverted_file, "TAIL_MIN", 100)


def test_probed_lists_find_the_exact_neighbours() -> None:
    rng = np.random.default_rng(0)
    y, queries = points(rng, 5000), points(rng, 40)
    labels = np.arange(10, 5010)
    lists = InvertedLists.build(y, labels)
    assert len(lists.centres) == 200 and np.diff(lists.bounds).min() >= 0 and lists.bounds[-1] == 5000
    every = dict(zip(labels.tolist(), y, strict=True))
    hits = []
    for q in queries:
        exact = set(labels[np.argpartition(-(y @ q), 10)[:10]].tolist())
        hits.append(len(exact & set(top(lists, q, every).tolist())) / 10)
        assert len(lists.search(q, 50, probes=2)) <= 50
    assert np.mean(hits) >= 0.98
    one = [len(set(labels[np.argpartition(-(y @ q), 10)[:10]].tolist()) & set(lists.search(q, 10, probes=1).tolist()))
           for q in queries]
    assert np.mean(one) < 10 * np.mean(hits)  # one list alone misses some: the probes matter


def test_adds_removals_merges_and_a_save_keep_every_label_once(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    y = points(rng, 1000)
    lists = InvertedLists.build(y, np.arange(1000))
    every = dict(enumerate(y))
    new = points(rng, 50)
    lists.add(np.arange(1000, 1050), new)  # a short tail: scanned whole, not merged yet
    every |= dict(zip(range(1000, 1050), new, strict=True))
    assert lists.bounds[-1] == 1000 and lists.n == 1050
    assert top(lists, new[3], every, 1)[0] == 1003
    assert lists.remove([1003, 5, 99_999]) == 2
    assert 1003 not in top(lists, new[3], every).tolist() and 5 not in lists.live_labels()
    moved = -y[7]
    lists.add(np.array([7]), moved[None, :])  # a label again: its old row goes
    every[7] = moved
    assert top(lists, moved, every, 1)[0] == 7 and np.sum(lists.live_labels() == 7) == 1
    more = points(rng, 200)
    lists.add(np.arange(2000, 2200), more)  # the tail outgrew TAIL_MIN: merged, removed rows dropped
    every |= dict(zip(range(2000, 2200), more, strict=True))
    assert lists.bounds[-1] == lists.n == lists.live == 1050 - 2 + 200
    assert top(lists, more[9], every, 1)[0] == 2009
    lists.save(tmp_path / "lists.npz")
    again = InvertedLists.load(tmp_path / "lists.npz")
    assert sorted(again.live_labels().tolist()) == sorted(lists.live_labels().tolist())
    assert top(again, more[9], every, 1)[0] == 2009 and top(again, moved, every, 1)[0] == 7


def test_a_library_that_doubled_is_clustered_again() -> None:
    rng = np.random.default_rng(2)
    lists = InvertedLists.build(points(rng, 500), np.arange(500))
    assert len(lists.centres) == 20
    far = -points(rng, 600)  # photos unlike the first ones, more of them than there were
    lists.add(np.arange(500, 1100), far)
    assert lists.clustered_n == 1100 and len(lists.centres) == 44 and lists.bounds[-1] == lists.n == 1100
    every = dict(zip(range(500, 1100), far, strict=True))
    assert top(lists, far[0], every | {i: np.zeros(16, np.float32) for i in range(500)}, 1)[0] == 500


def test_lists_that_do_not_fit_together_are_refused(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    lists = InvertedLists.build(points(rng, 300), np.arange(300))
    lists.bounds = lists.bounds[:-1]
    lists.save(tmp_path / "bad.npz")
    with pytest.raises(ValueError):
        InvertedLists.load(tmp_path / "bad.npz")


def test_best_is_the_exact_top_whatever_the_scores() -> None:
    rng = np.random.default_rng(4)
    for sims in (rng.normal(size=16_000), rng.normal(size=16_000) ** 8, np.repeat(rng.normal(size=400), 40),
                 np.concatenate([np.ones(60), np.zeros(16_000)]), rng.normal(size=30)):
        sims = sims.astype(np.float32)
        wide = min(50, len(sims))
        got = best(sims, wide)
        assert len(got) == len(set(got.tolist())) == wide
        assert np.sort(sims[got]).tolist() == np.sort(sims)[len(sims) - wide:].tolist()


def test_each_probed_list_and_the_tail_are_scored_and_mapped_back_to_their_labels() -> None:
    """The scores come list by list (no gather): the picks are exactly the best rows of the probed
    lists and the tail, empty lists included, with their own labels."""
    rng = np.random.default_rng(3)
    dim, lists_n = 8, 6
    centres = np.eye(lists_n, dim, dtype=np.float32)
    sizes = [40, 0, 25, 0, 60, 30]  # two empty lists
    bounds = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
    pts = rng.normal(size=(int(bounds[-1]) + 15, dim)).astype(np.float32)  # 15 rows of tail
    labels = rng.permutation(10_000)[:len(pts)].astype(np.int64)
    lists = InvertedLists(centres, pts, labels, bounds, int(bounds[-1]))
    for q in rng.normal(size=(20, dim)).astype(np.float32):
        for probes in (1, 3, 6):
            near = np.argpartition(lists._centre_norms - 2 * (centres @ q), probes - 1)[:probes]
            rows = np.concatenate([np.arange(bounds[i], bounds[i + 1]) for i in near] + [np.arange(bounds[-1], len(pts))])
            want = set(labels[rows[np.argsort(-(pts[rows] @ q))[:12]]].tolist())
            assert set(lists.search(q, 12, probes=probes).tolist()) == want
