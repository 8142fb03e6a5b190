"""The projected search: same answers as the full graph — inverted lists where the library's vectors
lie near a subspace, 8-bit coded lists over 3/16 of their dimensions where they spread over many (as
real CLIP vectors do) — kept level with the store through adds, deletes, saves and growth, and left alone
where no projection keeps the neighbours."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest

from indexer.ann import coded_lists, inverted_file, projection
from indexer.ann.coded_lists import CodedLists
from indexer.ann.index import AnnIndex
from indexer.ann.projection import FullVectors
from indexer.store.database import FileRecord, Store, VectorIn

DIM = 128


def clustered(rng: np.random.Generator, n: int, latent: int = 16, centers: int = 60) -> np.ndarray:
    """Unit vectors near a ``latent``-d subspace, in clusters (as bench_query's CLIP-like data)."""
    lift = np.random.default_rng(42).normal(size=(latent, DIM)).astype(np.float32)
    c = np.random.default_rng(7).normal(size=(centers, latent)).astype(np.float32)
    z = c[rng.integers(0, centers, n)] + 0.5 * rng.normal(size=(n, latent)).astype(np.float32)
    x = z @ lift + 0.01 * rng.normal(size=(n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def spread(rng: np.random.Generator, n: int, centers: int = 60) -> np.ndarray:
    """Unit vectors in clusters whose variance falls as 1/i over all directions (bench/vectors.py's
    power law): the top 32 of 128 directions keep ~0.8 of the energy, no low basis keeps the neighbours."""
    scale = np.arange(1, DIM + 1, dtype=np.float32) ** -0.5
    turn = np.linalg.qr(np.random.default_rng(43).normal(size=(DIM, DIM)))[0].astype(np.float32)
    c = np.random.default_rng(7).normal(size=(centers, DIM)).astype(np.float32) * scale
    x = (c[rng.integers(0, centers, n)] + 0.6 * rng.normal(size=(n, DIM)).astype(np.float32) * scale) @ turn
    return x / np.linalg.norm(x, axis=1, keepdims=True)


# how a library of each kind is searched: (vectors, its lists' kind, its basis's width)
KINDS = {"near a subspace": (clustered, inverted_file.InvertedLists, 32), "spread": (spread, CodedLists, DIM * 3 // 16)}


def isotropic(rng: np.random.Generator, n: int) -> np.ndarray:
    x = rng.normal(size=(n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def fill(store: Store, vecs: np.ndarray, start: int = 0) -> list[int]:
    with store.transaction():
        return [store.put_file(FileRecord(f"/p/{start + i}.jpg", "photo"), [VectorIn(v)])[0]
                for i, v in enumerate(vecs)]


def recall(ann: AnnIndex, vecs: np.ndarray, ids: np.ndarray, queries: np.ndarray) -> float:
    hits = []
    for q in queries:
        exact = set(ids[np.argpartition(-(vecs @ q), 10)[:10]].tolist())
        hits.append(len(exact & set(ann.search(q, 10)[0].tolist())) / 10)
    return float(np.mean(hits))


@pytest.fixture
def small_min(monkeypatch: pytest.MonkeyPatch) -> None:
    """A projection from 2,000 vectors up (200,000 in the product) so a test builds in seconds."""
    monkeypatch.setattr(projection, "PROJECT_MIN", 2000)
    monkeypatch.setattr(projection, "SAMPLE", 2000)
    monkeypatch.setattr(inverted_file, "LIST_SIZE", 25)  # 160 lists at 4,000, 24 of them probed
    monkeypatch.setattr(coded_lists, "LIST_SIZE", 25)


def test_a_basis_is_fitted_only_where_it_keeps_the_neighbours() -> None:
    rng = np.random.default_rng(0)
    low = clustered(rng, 3000)
    basis = projection.fit(low)
    assert basis is not None and basis.shape[1] <= 32
    assert np.allclose(basis.T @ basis, np.eye(basis.shape[1]), atol=1e-4)
    assert projection.kept_neighbours(low[200:], low[:200], basis) >= projection.NEIGHBOURS_KEPT
    assert projection.fit(isotropic(rng, 3000)) is None
    wide = spread(rng, 3000)
    assert projection.fit(wide) is None  # no low basis: 32 directions keep ~0.8 of the energy
    wide_basis = projection.fit_wide(wide)
    assert wide_basis is not None and wide_basis.shape == (DIM, DIM * 3 // 16)
    assert 0.1 < projection.lost_share(wide, wide_basis) < 0.4
    assert projection.fit_wide(isotropic(rng, 3000)) is None  # not even 3/16 of the directions keeps these


@pytest.mark.parametrize("kind", KINDS)
def test_projected_search_answers_as_the_full_graph_does(tmp_path: Path, small_min: None, kind: str) -> None:
    make, lists, width = KINDS[kind]
    rng = np.random.default_rng(1)
    vecs, queries = make(rng, 4000), make(rng, 50)
    store = Store(tmp_path / "db")
    ids = np.array(fill(store, vecs))
    projected = AnnIndex.open(tmp_path / "ann", DIM, store)
    assert isinstance(projected._lists, lists) and projected.basis is not None and projected.basis.shape[1] <= width
    assert "of 160 probed" in projected.describe()
    plain = AnnIndex(tmp_path / "plain", DIM)  # the full graph over the same vectors, same run
    plain.add(ids, vecs)
    assert recall(projected, vecs, ids, queries) >= recall(plain, vecs, ids, queries) - 0.01
    got, sims = projected.search(queries[0], 5)
    stored = np.stack([store.vectors_by_id([int(i)])[0] for i in got])  # as SQLite keeps them (16-bit floats)
    assert np.allclose(sims, stored @ queries[0], atol=1e-5)  # exact similarities, not projected ones
    assert np.array_equal(projected.vectors(got), stored)


@pytest.mark.parametrize("kind", KINDS)
def test_projected_search_keeps_level_with_the_store(tmp_path: Path, small_min: None, kind: str) -> None:
    make, lists, _ = KINDS[kind]
    rng = np.random.default_rng(2)
    vecs = make(rng, 3000)
    store = Store(tmp_path / "db")
    fill(store, vecs)
    ann = AnnIndex.open(tmp_path / "ann", DIM, store)
    assert ann.basis is not None and isinstance(ann._lists, lists)
    new = make(rng, 5)
    new_ids = fill(store, new, start=3000)
    gone = ann.search(vecs[0], 1)[0][0]
    with store.transaction():
        store.delete_files([store.vector_rows([int(gone)])[int(gone)].file_id])
    ann.catch_up(store)
    assert ann.search(new[0], 1)[0][0] == new_ids[0]
    assert gone not in ann.search(vecs[0], 10)[0]
    ann.save()
    reopened = AnnIndex.open(tmp_path / "ann", DIM, store)
    assert reopened.basis is not None and np.array_equal(reopened.basis, ann.basis) and isinstance(reopened._lists, lists)
    assert reopened.search(new[1], 1)[0][0] == new_ids[1] and gone not in reopened.ids()
    assert reopened.ids() == store.vector_ids()
    later = make(rng, 1)
    later_id = fill(store, later, start=4000)[0]
    reopened.catch_up(store)
    assert reopened.search(later[0], 1)[0][0] == later_id and reopened.search(new[2], 1)[0][0] == new_ids[2]


def test_a_growing_library_gets_its_projection_and_loses_it_when_photos_leave_the_subspace(
        tmp_path: Path, small_min: None) -> None:
    rng = np.random.default_rng(3)
    store = Store(tmp_path / "db")
    fill(store, clustered(rng, 500))
    ann = AnnIndex.open(tmp_path / "ann", DIM, store)
    assert ann.basis is None  # too small to bother
    fill(store, clustered(rng, 2500), start=500)
    ann.catch_up(store)
    assert ann.basis is not None and ann.live == 3000
    odd = isotropic(rng, 3000)
    odd_ids = fill(store, odd, start=3000)
    ann.catch_up(store)
    assert ann.basis is None  # rebuilt over the full vectors: no projection keeps these neighbours
    assert ann.search(odd[7], 1)[0][0] == odd_ids[7] and ann.live == 6000



def test_coded_lists_are_rebuilt_when_photos_leave_their_directions(tmp_path: Path, small_min: None) -> None:
    rng = np.random.default_rng(11)
    store = Store(tmp_path / "db")
    fill(store, spread(rng, 3000))
    ann = AnnIndex.open(tmp_path / "ann", DIM, store)
    assert ann.basis is not None and isinstance(ann._lists, CodedLists)
    more = spread(rng, 600)  # like the rest: the basis loses no more of them than of the sample
    fill(store, more, start=3000)
    ann.catch_up(store)
    assert ann.basis is not None and ann.live == 3600
    odd = isotropic(rng, 3000)
    odd_ids = fill(store, odd, start=3600)
    ann.catch_up(store)
    assert ann.basis is None  # rebuilt over the full vectors: 3/16 of the directions lose these
    assert ann.search(odd[7], 1)[0][0] == odd_ids[7] and ann.live == 6600


def test_coded_lists_are_trained_again_when_the_library_doubled(tmp_path: Path, small_min: None) -> None:
    """New photos may lie far from centres trained on half the library: the lists are trained again
    from the full vectors still in it (removed photos stay out), and find the new photos."""
    rng = np.random.default_rng(12)
    store = Store(tmp_path / "db")
    first = spread(rng, 3000)
    first_ids = fill(store, first)
    ann = AnnIndex.open(tmp_path / "ann", DIM, store)
    assert isinstance(ann._lists, CodedLists) and ann._lists.clustered_n == 3000 and ann._lists.lists == 120
    with store.transaction():
        store.delete_files([store.file(f"/p/{i}.jpg").id for i in range(100)])
    more = spread(rng, 3200)
    more_ids = fill(store, more, start=3000)
    ann.catch_up(store)
    assert isinstance(ann._lists, CodedLists) and ann._lists.clustered_n >= 5800 and ann._lists.lists >= 232
    assert ann._lists.measured and ann.live == 6100 == len(ann._lists.live_labels())
    assert first_ids[0] not in set(ann._lists.live_labels().tolist())  # removed before the re-training
    assert ann.search(more[3100], 1)[0][0] == more_ids[3100] and ann.search(first[500], 1)[0][0] == first_ids[500]


def test_an_index_saved_as_a_graph_over_a_projection_is_rebuilt_as_coded_lists(tmp_path: Path, small_min: None) -> None:
    store = Store(tmp_path / "db")
    vecs = spread(np.random.default_rng(13), 3000)
    ids = fill(store, vecs)
    AnnIndex.open(tmp_path / "ann", DIM, store).save()
    pointer = tmp_path / "ann" / "ann.json"
    info = json.loads(pointer.read_text())
    (tmp_path / "ann" / info.pop("lists")).unlink()
    pointer.write_text(json.dumps(info | {"file": "ann-old.hnsw", "capacity": 3600}))  # as #39's first step saved it
    again = AnnIndex.open(tmp_path / "ann", DIM, store)
    assert isinstance(again._lists, CodedLists) and again.search(vecs[9], 1)[0][0] == ids[9]


def about_to_project(tmp_path: Path, seed: int) -> tuple[Store, np.ndarray, AnnIndex, list[int]]:
    """A graph over 500 vectors with 2,500 more committed: its next catch-up grows into a projection."""
    store = Store(tmp_path / "db")
    vecs = clustered(np.random.default_rng(seed), 3000)
    fill(store, vecs[:500])
    ann = AnnIndex.open(tmp_path / "ann", DIM, store)
    return store, vecs, ann, fill(store, vecs[500:], start=500)


def held(monkeypatch: pytest.MonkeyPatch, owner: object, name: str) -> tuple[threading.Event, threading.Event]:
    """``owner.name`` made to wait, once called, until released: (called, release)."""
    called, release = threading.Event(), threading.Event()
    original = getattr(owner, name)

    def waiting(*args, **kwargs):
        called.set()
        assert release.wait(30)
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, waiting)
    return called, release


def test_searches_go_on_while_the_projection_is_built(tmp_path: Path, small_min: None,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Growing into a projection rebuilds the index (tens of seconds at 200k): the writer builds it
    beside the graph, and a search meanwhile is answered by the graph instead of waiting."""
    store, vecs, ann, ids = about_to_project(tmp_path, 4)
    building, release = held(monkeypatch, inverted_file.InvertedLists, "build")
    writer = threading.Thread(target=ann.catch_up, args=(store,))
    writer.start()
    assert building.wait(30)
    answers: list[np.ndarray] = []
    searcher = threading.Thread(target=lambda: answers.append(ann.search(vecs[2000], 1)[0]))
    searcher.start()
    searcher.join(10)
    assert answers and answers[0][0] == ids[1500] and not ann.probed  # the graph answered at once
    release.set()
    writer.join(30)
    assert ann.probed and ann.search(vecs[2000], 1)[0][0] == ids[1500] and ann.live == 3000


def test_a_save_during_the_rebuilds_own_save_leaves_a_loadable_index(tmp_path: Path, small_min: None,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Each save deletes the files its ann.json does not name: a save of the live index (closing the
    library) while the rebuild writes its files must wait, or the next start finds half an index."""
    store, vecs, ann, ids = about_to_project(tmp_path, 5)
    writing, release = held(monkeypatch, FullVectors, "save")  # the rebuild's, between its first file and ann.json
    writer = threading.Thread(target=ann.catch_up, args=(store,))
    writer.start()
    assert writing.wait(30)
    closing = threading.Thread(target=ann.save)
    closing.start()
    closing.join(0.5)
    release.set()
    writer.join(30)
    closing.join(30)
    again = AnnIndex(tmp_path / "ann", DIM)
    assert again._load() and again.probed and again.live == 3000
    assert again.search(vecs[2000], 1)[0][0] == ids[1500]


def test_full_vectors_by_label() -> None:
    full = FullVectors(4)
    full.add(np.array([1, 3]), np.eye(4, dtype=np.float32)[:2])
    full.add(np.array([2, 3]), np.eye(4, dtype=np.float32)[2:])  # out of order, and 3 again
    assert full.labels[:full.n].tolist() == [1, 2, 3]
    assert full.get(np.array([3, 1])).tolist() == [[0, 0, 0, 1], [1, 0, 0, 0]]
    with pytest.raises(KeyError):
        full.get(np.array([4]))
    full.add(np.array([9]), np.full((1, 4), 2, np.float32))  # appended after a merge
    assert full.get(np.array([9, 2])).tolist() == [[2, 2, 2, 2], [0, 0, 1, 0]]
    with pytest.raises(KeyError):
        full.get(np.array([5]))  # between labels


def test_full_vectors_across_blocks_and_a_reload(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows appended after a load go into new blocks (the loaded one is never copied to grow)
    and every row is found by its label, in a search and after saving and loading again."""
    monkeypatch.setattr(FullVectors, "BLOCK", 4)
    rng = np.random.default_rng(3)
    vecs = rng.standard_normal((23, 6)).astype(np.float16).astype(np.float32)  # as the store keeps them
    labels = np.arange(10, 33)
    full = FullVectors(6)
    for start, stop in ((0, 5), (5, 9), (9, 12)):  # batches that straddle blocks
        full.add(labels[start:stop], vecs[start:stop])
    assert len(full._blocks) == 3
    paths = tmp_path / "l.npy", tmp_path / "r.npy"
    full.save(*paths)
    loaded = FullVectors.load(*paths)
    loaded.add(labels[12:], vecs[12:])
    assert len(loaded._blocks) == 1 + 3  # the 12 loaded rows, then 11 new in blocks of 4
    order = rng.permutation(23)
    assert np.array_equal(loaded.get(labels[order]), vecs[order])
    assert np.array_equal(np.concatenate([rows for _, rows in loaded.batches(5)]), vecs)
    loaded.save(*paths)
    again = FullVectors.load(*paths)
    assert again.labels.tolist() == labels.tolist() and np.array_equal(again.get(labels), vecs)


def test_full_vectors_are_kept_as_the_store_keeps_them_and_older_saves_still_load(tmp_path: Path) -> None:
    """Half the memory of float32 (1 GB at a million 512-d vectors) and nothing lost: the store holds
    float16. A save written as float32 (before) loads as the same vectors."""
    vecs = np.random.default_rng(4).standard_normal((9, 6)).astype(np.float16).astype(np.float32)
    full = FullVectors(6)
    full.add(np.arange(1, 10), vecs)
    assert all(b.dtype == np.float16 for b in full._blocks) and np.array_equal(full.get(np.arange(1, 10)), vecs)
    np.save(tmp_path / "l.npy", np.arange(1, 10))
    np.save(tmp_path / "r.npy", vecs)  # float32, as saved before
    older = FullVectors.load(tmp_path / "l.npy", tmp_path / "r.npy")
    assert np.array_equal(older.get(np.arange(1, 10)), vecs) and older._blocks[0].dtype == np.float16


def test_rows_of_removed_photos_leave_the_saved_file_and_then_memory(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A removed photo's full vector was kept in memory and in every save until a rebuild, so a
    library that lost a folder carried its vectors for good. Gone rows are left out of saves and
    let go once they are a quarter of all rows; the rest are found by label as before."""
    monkeypatch.setattr(FullVectors, "BLOCK", 4)
    rng = np.random.default_rng(8)
    vecs = rng.standard_normal((20, 6)).astype(np.float16).astype(np.float32)  # as the store keeps them
    labels = np.arange(1, 21)
    full = FullVectors(6)
    full.add(labels[:10], vecs[:10])
    assert full.drop(np.array([2, 5, 99])) == 2  # 99 was never held
    full.add(labels[10:], vecs[10:])  # appended after the drop: not gone
    paths = tmp_path / "l.npy", tmp_path / "r.npy"
    full.save(*paths)
    loaded = FullVectors.load(*paths)
    kept = np.array([i for i in range(20) if labels[i] not in (2, 5)])
    assert loaded.n == 18 and loaded.labels.tolist() == labels[kept].tolist()
    assert np.array_equal(loaded.get(labels[kept]), vecs[kept])
    with pytest.raises(KeyError):
        loaded.get(np.array([2]))
    assert loaded.drop(labels[kept[:4]]) == 4 and loaded.n == 18  # 4 of 18: kept in memory for now
    assert loaded.drop(labels[kept[4:6]]) == 2 and loaded.n == 12  # 6 of 18: let go
    assert np.array_equal(loaded.get(labels[kept[6:]]), vecs[kept[6:]])
    loaded.add(np.array([3]), vecs[2:3])  # a label added again merges in
    assert loaded.n == 13 and np.array_equal(loaded.get(np.array([3])), vecs[2:3])


@pytest.mark.parametrize("kind", KINDS)
def test_a_projected_index_saves_without_the_removed_photos(tmp_path: Path, small_min: None, kind: str) -> None:
    make, lists, _ = KINDS[kind]
    rng = np.random.default_rng(9)
    store = Store(tmp_path / "db")
    vecs = make(rng, 3000)
    ids = np.array(fill(store, vecs))
    ann = AnnIndex.open(tmp_path / "ann", DIM, store)
    assert ann.basis is not None and isinstance(ann._lists, lists)
    ann.remove(ids[:300].tolist())
    ann.save()
    again = AnnIndex(tmp_path / "ann", DIM)
    assert again._load() and again._full is not None and again._full.n == 2700
    assert again.search(vecs[2000], 1)[0][0] == ids[2000]
    assert ids[5] not in set(again.search(vecs[5], 10)[0].tolist())


def test_a_search_racing_a_large_removal_asks_again(tmp_path: Path, small_min: None,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A removal of a quarter of a projected library lets its full vectors go at once; a search
    whose candidates were found just before asks again instead of failing on a missing vector."""
    from indexer.search import rank

    rng = np.random.default_rng(10)
    store = Store(tmp_path / "db")
    vecs = clustered(rng, 3000)
    fill(store, vecs)
    ann = AnnIndex.open(tmp_path / "ann", DIM, store)
    search = ann.search
    leaving = [store.file(f"/p/{i}.jpg").id for i in range(1000)]
    pending = list(leaving)

    def search_then_remove(*args, **kwargs):
        found = search(*args, **kwargs)
        if pending:  # the first search's candidates lose their vectors before they are read
            ann.remove(store.delete_files(pending))
            pending.clear()
        return found

    monkeypatch.setattr(ann, "search", search_then_remove)
    hits = rank.search_vector(vecs[10], store, ann, rank.SearchOptions(limit=5), hub_alpha=0.5)
    assert ann._full is not None and ann._full.n == 2000  # let go at once: a third of the rows
    assert hits and not {h.file_id for h in hits} & set(leaving)
