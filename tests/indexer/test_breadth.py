"""A large library's inverted lists (float32 or 8-bit coded) scan as many lists as its own vectors
need: more where the formula of their number misses neighbours, never fewer than it, and the
measure is kept with them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from indexer.ann import breadth, coded_lists, inverted_file
from indexer.ann.index import AnnIndex
from indexer.ann.projection import FullVectors
from indexer.store.database import Store
from tests.indexer.test_projection import DIM, clustered, fill, recall, small_min, spread  # noqa: F401 - small_min: fixture


def test_the_exact_top_matches_one_product_over_every_vector() -> None:
    rng = np.random.default_rng(3)
    vecs = clustered(rng, 3000)
    full = FullVectors(DIM)
    full.add(np.arange(1, 3001), vecs)
    queries = clustered(rng, 20)
    got = breadth.exact_top(full, queries, 11)
    kept = full.rows_at(np.arange(3000))  # as kept (16-bit floats)
    for q, labels in zip(queries, got, strict=True):
        assert set(labels.tolist()) == set((np.argsort(-(kept @ q))[:11] + 1).tolist())


def too_few_probes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make: Callable, owner: object, probes: int,
                   seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, AnnIndex, AnnIndex, Store]:
    """4,000 vectors from ``make`` in a store whose lists' formula (``owner.default_probes``) says
    ``probes``: (the vectors, their ids, 100 new queries, the index as measured, the same lists left
    at the formula's, the store)."""
    rng = np.random.default_rng(seed)
    vecs, queries = make(rng, 4000), make(rng, 100)
    store = Store(tmp_path / "db")
    ids = np.array(fill(store, vecs))
    monkeypatch.setattr(owner, "default_probes", lambda lists: probes)
    measured = AnnIndex.open(tmp_path / "ann", DIM, store)
    plain = AnnIndex.open(tmp_path / "plain", DIM, store)
    plain._lists.measured = 0  # the formula alone, same lists, same run
    return vecs, ids, queries, measured, plain, store


@pytest.mark.usefixtures("small_min")
def test_lists_whose_formula_probes_too_few_probe_more_and_find_the_neighbours(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    vecs, ids, queries, measured, plain, store = too_few_probes(tmp_path, monkeypatch, clustered, inverted_file, 1, 4)
    assert measured.probed and measured._lists is not None
    assert measured._lists.probes() > 1  # 1 of 160 lists: too few here
    assert f"{measured._lists.probes()} of 160 probed" in measured.describe()
    before, now = recall(plain, vecs, ids, queries), recall(measured, vecs, ids, queries)
    assert before < 0.9 <= breadth.TARGET - 0.03 <= now  # new queries, not the ones measured on
    measured.save()
    again = AnnIndex.open(tmp_path / "ann", DIM, store)
    assert again._lists is not None and again._lists.probes() == measured._lists.probes()


def lists_of(tmp_path: Path, seed: int) -> tuple[np.random.Generator, Store, AnnIndex]:
    """A store of 4,000 clustered vectors and its index (inverted lists under ``small_min``)."""
    rng = np.random.default_rng(seed)
    store = Store(tmp_path / "db")
    fill(store, clustered(rng, 4000))
    return rng, store, AnnIndex.open(tmp_path / "ann", DIM, store)


@pytest.mark.usefixtures("small_min")
def test_lists_the_formula_suits_probe_as_the_formula_says(tmp_path: Path) -> None:
    _, _, ann = lists_of(tmp_path, 5)
    assert ann._lists is not None and ann._lists.probes() == inverted_file.default_probes(160) == 24


@pytest.mark.usefixtures("small_min")
def test_lists_that_re_cluster_for_a_library_that_doubled_are_measured_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(6)
    store = Store(tmp_path / "db")
    old = clustered(rng, 4000)
    old_ids = fill(store, old)
    monkeypatch.setattr(inverted_file, "default_probes", lambda lists: 1)
    ann = AnnIndex.open(tmp_path / "ann", DIM, store)
    assert ann._lists is not None and ann._lists.measured > 1
    ann._lists.measured = 1  # as if 1 probe had been found for these centres
    vecs = clustered(rng, 4000)
    ids = np.array(fill(store, vecs, start=4000))
    ann.catch_up(store)
    assert ann._lists.clustered_n == 8000 and ann._lists.measured > 1  # re-clustered, and measured for it
    assert ann._lists.probes() > 1
    every, every_id = np.concatenate([old, vecs]), np.concatenate([old_ids, ids])
    assert recall(ann, every, every_id, clustered(rng, 50)) >= breadth.TARGET - 0.03


@pytest.mark.usefixtures("small_min")
def test_lists_saved_before_probes_were_measured_are_measured_at_the_next_add(tmp_path: Path) -> None:
    rng, store, ann = lists_of(tmp_path, 7)
    ann._lists.measured = 0  # as saved by the version before
    ann.save()
    again = AnnIndex.open(tmp_path / "ann", DIM, store)
    assert again._lists is not None and again._lists.measured == 0  # loads, searches with the formula's
    fill(store, clustered(rng, 10), start=4000)
    again.catch_up(store)
    assert again._lists.measured > 0 and again._lists.probes() == again._lists.measured


@pytest.mark.usefixtures("small_min")
def test_coded_lists_probe_up_to_what_their_codes_can_find(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Coded lists are measured against their own ceiling (what 2x the formula's probes find): the
    projection bounds their recall below the float32 lists' 0.995, which would otherwise send every
    search through every list."""
    vecs, ids, queries, measured, plain, _ = too_few_probes(tmp_path, monkeypatch, spread, coded_lists, 2, 8)
    assert isinstance(measured._lists, coded_lists.CodedLists)
    assert 2 < measured._lists.probes() <= 4  # more than the formula (2 of 160: too few), never past its ceiling
    before, now = recall(plain, vecs, ids, queries), recall(measured, vecs, ids, queries)
    assert before < 0.97 and now >= 0.99  # new queries, not the ones measured on
