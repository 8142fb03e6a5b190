"""The hnswlib index: a persisted cache of the ``vectors`` table for fast search.

SQLite is the truth. The index is saved atomically (write a new file, then swap the
small ``ann.json`` pointer) together with the store ``version`` and highest vector id
it reflects. On open, a missing or unreadable index is rebuilt from SQLite; one that
is merely behind (a crash after a commit but before a save) is patched: vectors
newer than its highest id are added and tombstoned ids since its version removed.

A large library whose vectors lie near a low-dimensional subspace gets a graph over
their projection instead, re-ranked exactly from the full vectors kept beside it
(``indexer/projection.py``): the same answers at a million items in a third of the time.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import numpy as np

from indexer import atomic, projection
from indexer.projection import FullVectors
from indexer.store import Store

M = 16
EF_CONSTRUCTION = 500  # a better graph: at 1M, recall 0.98 at ef ~350 instead of ~700 (2.4x build time)
EF_SEARCH = 200  # the least ef used: recall@10 >= 0.98 needs 128 at 100k on CLIP-like data
# the projected graph's: 32-d steps are cheap, and at 1M M=16/ef_construction 200 left the graph
# at recall 0.86 for ef 192 where M=32/400 reached 0.99 at ef 384 in 0.89 ms (bench_ann)
PROJECTED_M, PROJECTED_EF_CONSTRUCTION = 32, 400


def default_ef(n: int) -> int:
    """Search breadth for ``n`` vectors: recall@10 >= 0.98 on CLIP-like data (bench/bench_query.py).

    Measured at 1M with M=16: ef_construction 200 needs ef ~700 (2.5 ms); 500 needs ~400
    (bench: ef 355 → 0.978, ef 384 → 0.984). M=32 gave no better recall per ms. Grows as
    n^0.3 from 200 at 100k to ~400 at 1M.
    """
    return int(min(1000, max(EF_SEARCH, EF_SEARCH * (n / 100_000) ** 0.3)))


class AnnIndex:
    """Cosine-space HNSW over every vector in the store, keyed by vector id."""

    def __init__(self, folder: Path, dim: int, model: str | None = None) -> None:
        self.folder = folder
        self.dim = dim
        self.model = model  # whose vectors it holds (None: the store's active model)
        self._lock = threading.RLock()
        self.basis: np.ndarray | None = None  # dim x d when the graph holds projected vectors
        self._full: FullVectors | None = None  # then the full vectors, for re-ranking
        self.fit_checked = 0  # the size at which a projection was last looked for
        self._energy_since_fit = np.zeros(2)  # energy of the vectors added since: kept by the basis, all
        self._index = self._new(1024)
        self.version = 0
        self.max_id = 0
        self.deleted: set[int] = set()
        self.dirty = False

    @property
    def live(self) -> int:
        return self._index.get_current_count() - len(self.deleted)

    def ids(self) -> set[int]:
        """Labels that searches can return (for consistency checks)."""
        with self._lock:
            return set(self._index.get_ids_list()) - self.deleted

    def _new(self, capacity: int):
        import hnswlib

        if self.basis is None:
            idx = hnswlib.Index(space="ip", dim=self.dim)
            idx.init_index(max_elements=capacity, ef_construction=EF_CONSTRUCTION, M=M, allow_replace_deleted=False)
        else:
            idx = hnswlib.Index(space="ip", dim=self.basis.shape[1])
            idx.init_index(max_elements=capacity, ef_construction=PROJECTED_EF_CONSTRUCTION, M=PROJECTED_M,
                           allow_replace_deleted=False)
        idx.set_ef(EF_SEARCH)
        return idx

    # persistence --------------------------------------------------------------------
    @classmethod
    def open(cls, folder: Path, dim: int, store: Store, model: str | None = None) -> AnnIndex:
        """Load the saved index of ``model``'s vectors and bring it level with ``store`` (rebuild if unusable)."""
        ann = cls(folder, dim, model)
        if not ann._load():
            ann.rebuild(store)
            return ann
        ann.catch_up(store)
        return ann

    def _load(self) -> bool:
        import hnswlib

        pointer = self.folder / "ann.json"
        try:
            info = json.loads(pointer.read_text())
            if info.get("dim") != self.dim:
                return False
            basis, full = None, None
            if info.get("basis"):
                basis = np.load(self.folder / info["basis"])
                full = FullVectors.load(self.folder / info["labels"], self.folder / info["full"])
                if basis.shape[0] != self.dim or full.rows.shape[1] != self.dim:
                    return False
            idx = hnswlib.Index(space="ip", dim=self.dim if basis is None else basis.shape[1])
            idx.load_index(str(self.folder / info["file"]), max_elements=max(1024, int(info["capacity"])))
            idx.set_ef(EF_SEARCH)
            deleted = np.load(self.folder / info["deleted"]) if info.get("deleted") else np.zeros(0, np.int64)
        except (OSError, ValueError, KeyError, RuntimeError):
            return False
        self.basis, self._full, self.fit_checked = basis, full, int(info.get("fit_checked", 0))
        self._index, self.version, self.max_id = idx, int(info["version"]), int(info["max_id"])
        self.deleted = {int(x) for x in deleted}
        return True

    def save(self) -> None:
        """Write a new index file, then atomically point ``ann.json`` at it."""
        with self._lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            name = f"ann-{self.version}.hnsw"
            with atomic.replacing(self.folder / name) as tmp:
                self._index.save_index(str(tmp))
            dname = f"ann-{self.version}.deleted.npy"
            with open(self.folder / dname, "wb") as f:
                np.save(f, np.fromiter(self.deleted, np.int64, len(self.deleted)))
                f.flush()
                os.fsync(f.fileno())
            info = {"file": name, "deleted": dname, "dim": self.dim, "version": self.version, "max_id": self.max_id,
                    "capacity": self._index.get_max_elements(), "fit_checked": self.fit_checked}
            if self.basis is not None and self._full is not None:
                info |= {"basis": f"ann-{self.version}.basis.npy", "labels": f"ann-{self.version}.labels.npy",
                         "full": f"ann-{self.version}.full.npy"}
                with atomic.replacing(self.folder / info["basis"]) as tmp, open(tmp, "wb") as f:
                    np.save(f, self.basis)
                self._full.save(self.folder / info["labels"], self.folder / info["full"])
            atomic.write_text(self.folder / "ann.json", json.dumps(info))
            keep = {v for k, v in info.items() if k in ("file", "deleted", "basis", "labels", "full")}
            for old in self.folder.glob("ann-*"):
                if old.name not in keep:
                    old.unlink(missing_ok=True)
            self.dirty = False

    # keeping level with the store ---------------------------------------------------
    def rebuild(self, store: Store) -> None:
        """Build from scratch from every vector in SQLite."""
        with self._lock:
            version = store.version()
            n = store.vector_count(self.model)
            self.max_id, self.deleted = 0, set()
            self.basis, self._full = None, None
            if n < projection.PROJECT_MIN:
                self._index = self._new(max(1024, int(n * 1.2)))
                for ids, vecs in store.vectors_since(0, model=self.model):
                    self.add(ids, vecs)
            else:
                self._rebuild_large(store)
            self.version = version
            self.save()

    def _rebuild_large(self, store: Store) -> None:
        """Read every vector once, fit a projection on a sample of them, build the graph over it
        (or over the full vectors when no projection keeps the neighbours)."""
        full = FullVectors(self.dim)
        for ids, vecs in store.vectors_since(0, model=self.model):
            full.add(ids, vecs)
        rows = full.rows[:full.n]
        pick = np.random.default_rng(0).choice(full.n, min(full.n, projection.SAMPLE), replace=False)
        self.basis = projection.fit(rows[np.sort(pick)])
        self.fit_checked, self._energy_since_fit = full.n, np.zeros(2)
        self._full = full if self.basis is not None else None
        self._index = self._new(max(1024, int(full.n * 1.2)))
        points = self._graph_points(rows)
        order = np.arange(full.n) if self.basis is None else projection.locality_order(points)
        for start in range(0, full.n, 20_000):
            part = order[start:start + 20_000]
            self._add_graph(full.labels[part], points[part])

    def catch_up(self, store: Store) -> int:
        """Apply what the store committed since this index was saved; returns changes."""
        with self._lock:
            version = store.version()
            if version == self.version:
                return 0
            changes = 0
            for ids, vecs in store.vectors_since(self.max_id, model=self.model):
                self.add(ids, vecs)
                changes += len(ids)
            dead = store.tombstones_since(self.version)
            self.remove(dead)
            self.version = version
            self.dirty = True
            if self._projection_due(store):
                self.rebuild(store)
            return changes + len(dead)

    def _projection_due(self, store: Store) -> bool:
        """Whether the graph should be rebuilt: the library doubled since a projection was last
        looked for and one now fits a sample, or the vectors added since the fit keep less than
        ten times the energy the fit allowed to lose (their photos lie outside its subspace)."""
        n = self.live
        if self.basis is not None:
            kept, energy = self._energy_since_fit
            return energy >= 1000 and kept / energy < 1 - 10 * (1 - projection.ENERGY)
        if n < projection.PROJECT_MIN or n < 2 * self.fit_checked:
            return False
        self.fit_checked = n  # looked for once per doubling, found or not
        sample = store.sample_vectors(projection.SAMPLE, self.model)
        return len(sample) > projection.CHECK_QUERIES and projection.fit(sample) is not None

    def add(self, ids: np.ndarray, vecs: np.ndarray) -> None:
        with self._lock:
            if len(ids) == 0:
                return
            points = self._graph_points(vecs)
            if self._full is not None:
                self._full.add(ids, vecs)
                self._energy_since_fit += (float(np.sum(points ** 2)), float(np.sum(vecs ** 2)))
            self._add_graph(ids, points)
            self.deleted.difference_update(int(i) for i in ids)
            self.dirty = True

    def _graph_points(self, vecs: np.ndarray) -> np.ndarray:
        """Vectors as the graph holds them: projected, or as they are."""
        vecs = vecs.astype(np.float32, copy=False)
        return vecs if self.basis is None else vecs @ self.basis

    def _add_graph(self, ids: np.ndarray, points: np.ndarray) -> None:
        """Insert points already in the graph's space (``_graph_points``)."""
        need = self._index.get_current_count() + len(ids)
        if need > self._index.get_max_elements():
            self._index.resize_index(max(need, int(self._index.get_max_elements() * 1.5)))
        self._index.add_items(points, ids.astype(np.int64), replace_deleted=False)
        self.max_id = max(self.max_id, int(ids.max()))

    def remove(self, ids: list[int]) -> None:
        with self._lock:
            for i in ids:
                if int(i) in self.deleted:
                    continue
                try:
                    self._index.mark_deleted(int(i))
                    self.deleted.add(int(i))
                except RuntimeError:
                    pass  # never added: nothing to do
            self.dirty = self.dirty or bool(ids)

    # search -------------------------------------------------------------------------
    def search(self, query: np.ndarray, k: int, ef: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (ids, cosine similarities) for one unit query vector."""
        with self._lock:
            k = min(k, self.live)
            if k <= 0:
                return np.zeros(0, np.int64), np.zeros(0, np.float32)
            ef = ef or default_ef(self._index.get_current_count())
            if self._full is None or self.basis is None:
                self._index.set_ef(max(ef, k))
                labels, dist = self._index.knn_query(query.astype(np.float32)[None, :], k=k)
                return labels[0].astype(np.int64), (1.0 - dist[0]).astype(np.float32)
            wide = min(max(k, projection.RERANK), self.live)
            self._index.set_ef(max(ef, wide))
            labels, _ = self._index.knn_query((query.astype(np.float32) @ self.basis)[None, :], k=wide)
            cand = labels[0].astype(np.int64)
            sims = self._full.get(cand) @ query.astype(np.float32)
            best = np.argsort(-sims, kind="stable")[:k]
            return cand[best], sims[best]

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        """The stored vectors of these labels (for re-ranking candidates)."""
        with self._lock:
            if len(ids) == 0:
                return np.zeros((0, self.dim), np.float32)
            if self._full is not None:
                return self._full.get(np.asarray(ids, np.int64))
            return np.asarray(self._index.get_items(ids.tolist()), dtype=np.float32)

    def __len__(self) -> int:
        return self.live
