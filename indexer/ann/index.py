"""The hnswlib index: a persisted cache of the ``vectors`` table for fast search.

SQLite is the truth. The index is saved atomically (write a new file, then swap the
small ``ann.json`` pointer) together with the store ``version`` and highest vector id
it reflects. On open, a missing or unreadable index is rebuilt from SQLite; one that
is merely behind (a crash after a commit but before a save) is patched: vectors
newer than its highest id are added and tombstoned ids since its version removed.

A large library is searched through a projection (``indexer/ann/projection.py``), re-ranked
exactly from the full vectors kept beside it: where its vectors lie near a low-dimensional
subspace, inverted lists over the projection (``indexer/ann/inverted_file.py``; at a million items
recall@10 0.99 in under a millisecond where the full graph needed 2.6 ms for 0.98); where they
spread over hundreds of directions, as real CLIP vectors do, 8-bit codes of a 96-d projection in
FAISS's inverted lists (``indexer/ann/coded_lists.py``; at a million power-law vectors 0.99 in about
a millisecond where the full graph needed 2.8 ms, built in a tenth of its time).
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import numpy as np

from indexer.ann import breadth, coded_lists, projection
from indexer.ann.coded_lists import CodedLists
from indexer.ann.inverted_file import InvertedLists
from indexer.ann.projection import FullVectors
from indexer.base import atomic
from indexer.store.database import Store

M = 16
EF_CONSTRUCTION = 500  # a better graph: at 1M, recall 0.98 at ef ~350 instead of ~700 (2.4x build time)
STALE_TEMP_S = 600  # a temp file untouched this long is a killed save's, not a running one
EF_SEARCH = 200  # the least ef used: recall@10 >= 0.98 needs 128 at 100k on CLIP-like data
# what a rebuild replaces when it swaps the index it built beside this one in
_STATE = ("basis", "_full", "_lists", "fit_checked", "fit_lost", "_energy_since_fit", "_index", "version", "max_id",
          "deleted")


def default_ef(n: int) -> int:
    """Search breadth for ``n`` vectors: recall@10 >= 0.98 on CLIP-like data (bench/bench_query.py).

    Measured at 1M with M=16: ef_construction 200 needs ef ~700 (2.5 ms); 500 needs ~400
    (bench: ef 355 → 0.978, ef 384 → 0.984). M=32 gave no better recall per ms. Grows as
    n^0.3 from 200 at 100k to ~400 at 1M.
    """
    return int(min(1000, max(EF_SEARCH, EF_SEARCH * (n / 100_000) ** 0.3)))


class AnnIndex:
    """Cosine-space search over every vector in the store, keyed by vector id: an HNSW graph over
    the full vectors, or (large) inverted lists over a projection of them — float32 rows near a
    subspace, 8-bit codes where they spread wide — re-ranked from the full vectors."""

    def __init__(self, folder: Path, dim: int, model: str | None = None) -> None:
        self.folder = folder
        self.dim = dim
        self.model = model  # whose vectors it holds (None: the store's active model)
        self._lock = threading.RLock()
        # Saves of this folder, one at a time: each deletes the files its ann.json does not name,
        # so a rebuild's save must not interleave with the live index's (always taken before _lock).
        self._saving = threading.RLock()  # re-entered by the fresh index of a rebuild, which shares it
        self.basis: np.ndarray | None = None  # dim x d when the vectors are searched projected
        self._full: FullVectors | None = None  # then the full vectors, for re-ranking,
        self._lists: InvertedLists | CodedLists | None = None  # and the projected vectors in lists
        self.fit_checked = 0  # the size at which a projection was last looked for
        self.fit_lost = 0.0  # the share of the sample's energy the basis left out
        self._energy_since_fit = np.zeros(2)  # energy of the vectors added since: kept by the basis, all
        self._index = self._new(1024)
        self.version = 0
        self.max_id = 0
        self.deleted: set[int] = set()
        self.dirty = False
        self._rebuilding = False  # a rebuild runs beside this index: nobody starts another

    @property
    def probed(self) -> bool:
        """Searched by probing inverted lists (a search's breadth is probes), not by walking a graph (ef)."""
        return self._lists is not None

    def describe(self) -> str:
        """What a search walks, for benchmarks and diagnostics."""
        if self._lists is not None and self.basis is not None:
            kind = "8-bit coded" if isinstance(self._lists, CodedLists) else "inverted"
            return (f"{self.basis.shape[1]}-d {kind} lists, {self._lists.probes()} of {self._lists.lists:,} probed, "
                    f"best {self._rerank(10)} re-ranked")
        return f"{self.dim}-d HNSW, ef {self._default_ef()}"

    def _default_ef(self) -> int:
        return default_ef(self._index.get_current_count())

    def _rerank(self, k: int) -> int:
        """Candidates a projected search re-ranks from the full vectors."""
        return max(k, coded_lists.RERANK if isinstance(self._lists, CodedLists) else projection.RERANK)

    @property
    def live(self) -> int:
        if self._lists is not None:
            return self._lists.live
        return self._index.get_current_count() - len(self.deleted)

    def ids(self) -> set[int]:
        """Labels that searches can return (for consistency checks)."""
        with self._lock:
            if self._lists is not None:
                return set(self._lists.live_labels().tolist())
            return set(self._index.get_ids_list()) - self.deleted

    def _new(self, capacity: int):
        import hnswlib

        idx = hnswlib.Index(space="ip", dim=self.dim)
        idx.init_index(max_elements=capacity, ef_construction=EF_CONSTRUCTION, M=M, allow_replace_deleted=False)
        idx.set_ef(EF_SEARCH)
        return idx

    # persistence --------------------------------------------------------------------
    @classmethod
    def open(cls, folder: Path, dim: int, store: Store, model: str | None = None) -> AnnIndex:
        """Load the saved index of ``model``'s vectors and bring it level with ``store`` (rebuild if unusable)."""
        ann = cls(folder, dim, model)
        ann._remove_stale_temp()
        if not ann._load():
            ann.rebuild(store)
            return ann
        ann.catch_up(store)
        return ann

    def _remove_stale_temp(self) -> None:
        """A save killed half way leaves an index-sized hidden temp file (atomic.replacing's); gone at the
        next open — not one a save running in another process writes on (its pid still runs)."""
        for tmp in self.folder.glob(".ann*"):  # atomic.replacing names them ".ann-….tmp", ".ann.json.….tmp"
            try:
                if atomic.is_stale(tmp, STALE_TEMP_S):
                    tmp.unlink()
            except OSError:
                pass  # gone meanwhile, or not ours to remove

    def _load(self) -> bool:
        import hnswlib

        pointer = self.folder / "ann.json"
        try:
            info = json.loads(pointer.read_text())
            if info.get("dim") != self.dim:
                return False
            basis, full, lists, idx = None, None, None, self._index
            if info.get("basis"):
                basis = np.load(self.folder / info["basis"])
                full = FullVectors.load(self.folder / info["labels"], self.folder / info["full"])
                if basis.ndim != 2 or basis.shape[0] != self.dim or full.dim != self.dim:
                    return False
            if info.get("lists"):
                kind = CodedLists if info.get("coded") else InvertedLists
                lists = kind.load(self.folder / info["lists"])
                if basis is None or basis.shape[1] != lists.dim:
                    return False
            elif basis is not None:
                return False  # a graph over a projection, as #39's first step saved it: rebuilt as coded lists
            else:
                idx = hnswlib.Index(space="ip", dim=self.dim)
                idx.load_index(str(self.folder / info["file"]), max_elements=max(1024, int(info["capacity"])))
                idx.set_ef(EF_SEARCH)
            deleted = np.load(self.folder / info["deleted"]) if info.get("deleted") else np.zeros(0, np.int64)
        except (OSError, ValueError, KeyError, RuntimeError):
            return False
        self.basis, self._full, self._lists, self.fit_checked = basis, full, lists, int(info.get("fit_checked", 0))
        self.fit_lost = float(info.get("fit_lost", 1 - projection.ENERGY))
        self._index, self.version, self.max_id = idx, int(info["version"]), int(info["max_id"])
        self.deleted = {int(x) for x in deleted}
        return True

    def save(self) -> None:
        """Write a new index file, then atomically point ``ann.json`` at it."""
        with self._saving, self._lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            info: dict = {"dim": self.dim, "version": self.version, "max_id": self.max_id, "fit_checked": self.fit_checked,
                          "fit_lost": self.fit_lost}
            if self.basis is not None and self._full is not None:
                info |= {"basis": f"ann-{self.version}.basis.npy", "labels": f"ann-{self.version}.labels.npy",
                         "full": f"ann-{self.version}.full.npy"}
                with atomic.replacing(self.folder / info["basis"]) as tmp, open(tmp, "wb") as f:
                    np.save(f, self.basis)
                self._full.save(self.folder / info["labels"], self.folder / info["full"])
            if self._lists is not None:
                coded = isinstance(self._lists, CodedLists)
                info |= {"lists": f"ann-{self.version}.{'coded' if coded else 'lists'}.npz", "coded": coded}
                self._lists.save(self.folder / info["lists"])
            else:
                info |= {"file": f"ann-{self.version}.hnsw", "capacity": self._index.get_max_elements()}
                with atomic.replacing(self.folder / info["file"]) as tmp:
                    self._index.save_index(str(tmp))
            dname = f"ann-{self.version}.deleted.npy"
            with open(self.folder / dname, "wb") as f:
                np.save(f, np.fromiter(self.deleted, np.int64, len(self.deleted)))
                f.flush()
                os.fsync(f.fileno())
            info["deleted"] = dname
            atomic.write_text(self.folder / "ann.json", json.dumps(info))
            keep = {v for k, v in info.items() if k in ("file", "deleted", "basis", "labels", "full", "lists")}
            for old in self.folder.glob("ann-*"):
                if old.name not in keep:
                    old.unlink(missing_ok=True)
            self.dirty = False

    # keeping level with the store ---------------------------------------------------
    def rebuild(self, store: Store) -> None:
        """Build from scratch from every vector in SQLite, beside the index searches use meanwhile
        (at 200k the projection and its lists take tens of seconds), save it, then swap it in."""
        fresh = AnnIndex(self.folder, self.dim, self.model)
        fresh._saving = self._saving
        fresh._build(store)
        with self._saving:  # a save of this index waits, then saves the fresh state it holds by then
            fresh.save()  # seconds of writing at 200k: not while searches wait for the lock
            with self._lock:
                for name in _STATE:
                    setattr(self, name, getattr(fresh, name))
                self.dirty = bool(self._level(store))  # what was committed while it was built

    def _build(self, store: Store) -> None:
        version, n = store.version(), store.vector_count(self.model)
        if n < projection.PROJECT_MIN:
            self._index = self._new(max(1024, int(n * 1.2)))
            for ids, vecs in store.vectors_since(0, model=self.model):
                self.add(ids, vecs)
        else:
            self._rebuild_large(store, n)
        self.version = version

    def _rebuild_large(self, store: Store, n: int) -> None:
        """Read every vector once, fit a projection on a sample of them, build inverted lists over
        it, or else coded lists over 3/16 of the dimensions, or else (no projection keeps the
        neighbours) the graph over the full vectors."""
        full = FullVectors(self.dim, expect=n)  # all in one block: one gather a search
        for ids, vecs in store.vectors_since(0, model=self.model):
            full.add(ids, vecs)
        sample = full.rows_at(np.sort(np.random.default_rng(0).choice(full.n, min(full.n, projection.SAMPLE),
                                                                      replace=False)))
        spectrum = projection.Spectrum.of(sample)
        self.basis = projection.fit(spectrum)
        self.fit_checked, self._energy_since_fit = full.n, np.zeros(2)
        self.max_id = int(full.labels[full.n - 1])
        kind = InvertedLists
        if self.basis is None:
            self.basis, kind = projection.fit_wide(spectrum), CodedLists
        if self.basis is not None:
            self.fit_lost = projection.lost_share(sample, self.basis)
            points = np.concatenate([rows @ self.basis for _, rows in full.batches(FullVectors.BLOCK)])
            self._full, self._lists = full, kind.build(points, full.labels[:full.n])
            self._index = self._new(1024)  # let a graph built before the projection go
            breadth.measure(self._lists, full, self._probed)
            return
        self._full, self.fit_lost = None, 0.0
        self._index = self._new(max(1024, int(full.n * 1.2)))
        for labels, rows in full.batches(20_000):
            self._add_graph(labels, rows.astype(np.float32))

    def catch_up(self, store: Store, rebuild: bool = True) -> int:
        """Apply what the store committed since this index was saved; returns changes. With
        ``rebuild`` (the writer's call, not a search's), also rebuild when the library grew into or
        out of its projection: searches go on with this index while that runs."""
        with self._lock:
            changes = self._level(store)
            due = self._projection_due() if rebuild and not self._rebuilding else ""
            self._rebuilding = self._rebuilding or bool(due)
        if due:  # the lock is free: the sample's fit and the build take seconds
            try:
                if due == "rebuild" or self._sample_fits(store):
                    self.rebuild(store)
            finally:
                self._rebuilding = False
        return changes

    def _level(self, store: Store) -> int:
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
        return changes + len(dead)

    def _projection_due(self) -> str:
        """"rebuild" when the vectors added since the projection was fitted lose half as much energy
        again as the fit's sample did, and a percent more (their photos lie outside its subspace), or
        when coded lists' library doubled since they were trained (beside the live index: their k-means
        over every vector takes ~100 s at 1M); "look" when the library doubled since a projection was
        last looked for; else ""."""
        if self.basis is not None:
            kept, energy = self._energy_since_fit
            drifted = energy >= 1000 and 1 - kept / energy > 1.5 * self.fit_lost + 0.01
            return "rebuild" if drifted or (isinstance(self._lists, CodedLists) and self._lists.grown()) else ""
        n = self.live
        if n < projection.PROJECT_MIN or n < 2 * self.fit_checked:
            return ""
        self.fit_checked = n  # looked for once per doubling, found or not
        return "look"

    def _sample_fits(self, store: Store) -> bool:
        """Whether a projection fits a sample of the library (then the graph is rebuilt as lists)."""
        sample = store.sample_vectors(projection.SAMPLE, self.model)
        if len(sample) <= projection.CHECK_QUERIES:
            return False
        spectrum = projection.Spectrum.of(sample)
        return projection.fit(spectrum) is not None or projection.fit_wide(spectrum) is not None

    def add(self, ids: np.ndarray, vecs: np.ndarray) -> None:
        with self._lock:
            if len(ids) == 0:
                return
            vecs = vecs.astype(np.float32, copy=False)
            points = vecs
            if self._full is not None and self.basis is not None:
                points = vecs @ self.basis
                self._full.add(ids, vecs)
                self._energy_since_fit += (float(np.sum(points ** 2)), float(np.sum(vecs ** 2)))
            if self._lists is not None:
                self._lists.add(ids, points)
                self.max_id = max(self.max_id, int(ids.max()))
                if not self._lists.measured and self._full is not None:
                    breadth.measure(self._lists, self._full, self._probed)  # re-clustered (or saved unmeasured)
            else:
                self._add_graph(ids, points)
                self.deleted.difference_update(int(i) for i in ids)
            self.dirty = True

    def _add_graph(self, ids: np.ndarray, points: np.ndarray) -> None:
        need = self._index.get_current_count() + len(ids)
        if need > self._index.get_max_elements():
            self._index.resize_index(max(need, int(self._index.get_max_elements() * 1.5)))
        self._index.add_items(points, ids.astype(np.int64), replace_deleted=False)
        self.max_id = max(self.max_id, int(ids.max()))

    def remove(self, ids: list[int]) -> None:
        with self._lock:
            if self._full is not None:
                self._full.drop(np.asarray(ids, np.int64))
            if self._lists is not None:
                self.dirty = bool(self._lists.remove(ids)) or self.dirty
                return
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
    def search(self, query: np.ndarray, k: int, ef: int | None = None,
               probes: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (ids, cosine similarities) for one unit query vector; ``ef`` is the graph's
        search breadth, ``probes`` the inverted lists' (each by library size when None)."""
        with self._lock:
            k = min(k, self.live)
            if k <= 0:
                return np.zeros(0, np.int64), np.zeros(0, np.float32)
            query = query.astype(np.float32)
            if self._full is None or self.basis is None or self._lists is None:
                self._index.set_ef(max(ef or self._default_ef(), k))
                labels, dist = self._index.knn_query(query[None, :], k=k)
                return labels[0].astype(np.int64), (1.0 - dist[0]).astype(np.float32)
            cand = self._lists.search(query @ self.basis, self._rerank(k), probes)
            sims = self._full.get(cand) @ query
            best = np.argsort(-sims, kind="stable")[:k]
            return cand[best], sims[best]

    def _probed(self, query: np.ndarray, probes: int) -> np.ndarray:
        return self.search(query, breadth.K, probes=probes)[0]

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
