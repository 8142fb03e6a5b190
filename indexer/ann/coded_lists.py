"""Projected vectors as 8-bit codes in FAISS inverted lists: the ANN of a large library whose vectors
spread over hundreds of directions, as real CLIP vectors do.

At a million power-law vectors (bench/vectors.py: no low basis keeps their neighbours) a graph
walk was bound by the graph's own recall: hnswlib over a 128-d projection needed 2.26 ms for 0.986
and its build took 212 s (issue #39). Their neighbours do lie in few k-means lists of a 96-d
projection — 112 of 4,000 lists hold 0.99 of the exact top 10 — but scanning those ~28k rows as
float32 reads 11 MB a search. As 8-bit codes (FAISS's uniform ones: one scale for every
dimension) its SIMD scanner reads 2.7 MB, and the best ``RERANK`` by the codes' scores are
re-ranked exactly from the full vectors: recall@10 0.9915 in 0.87-1.00 ms p50 cold on one core,
built in ~130 s (AVX-512 EPYC, bench_ann and by hand, docs/benchmarks.md). Codes are not residuals: with an inner
product FAISS adds the coarse quantiser's distance to a residual's score, which from an L2
quantiser is meaningless. (FAISS's "direct" byte codes were tried as a faster scan: faiss-cpu
1.15.1 on AVX-512 scores them wrong when the width is a multiple of 32, and at 112-d, where they
are right, a search took as long as with these.)

Why FAISS: numpy has no fast 8-bit product (its integer matmul is a plain loop), and FAISS's IVF
keeps ids, adds, removals and serialisation; hnswlib (fixed by the product) has no inverted file.
The 32-d lists of a library near a subspace stay numpy's (``inverted_file.py``: float32 rows are
few bytes there). When the library doubled (``grown``) the index
rebuilds them from the full vectors beside the live one (the codes only approximate the vectors,
and the k-means over every vector takes ~100 s at 1M).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from indexer.ann import inverted_file
from indexer.base import atomic

if TYPE_CHECKING:
    import faiss

LIST_SIZE = 250  # vectors per list on average: 4,000 lists at 1M
KMEANS_STEPS = 15
PROBES_AT_4000 = 112  # of 4,000 lists: recall@10 0.991-0.993 at 1M power-law vectors, held-out queries (96: 0.989)
RERANK = 150  # rows re-ranked from the full vectors (100: 0.988, 200: 0.9925 at 112 probes; 0.07 ms more each 50)


def default_probes(lists: int) -> int:
    """Lists scanned per search by default: the float32 lists' formula, from these lists' 112 at 4,000."""
    return inverted_file.default_probes(lists, PROBES_AT_4000)


def _faiss():
    """FAISS, imported at first use: ~0.15 s that a library below 200k vectors (never coded) need not
    pay each time it opens its index."""
    import faiss

    return faiss


def _half_copy(index: faiss.IndexIVFScalarQuantizer) -> faiss.IndexScalarQuantizer:
    """The lists' centres in float16, which a search compares the query with: half the memory read
    of FAISS's float32 quantiser, cold at a million 0.06 ms less of a ~0.95 ms search, the same lists
    chosen (by hand, docs/benchmarks.md). Adds keep the float32 one: its products are BLAS's."""
    faiss = _faiss()
    half = faiss.IndexScalarQuantizer(index.d, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_L2)
    half.add(index.quantizer.reconstruct_n(0, index.nlist))
    return half


class CodedLists:
    """Labelled projected points as 8-bit codes in k-means lists, searched by inner product."""

    def __init__(self, index: faiss.IndexIVFScalarQuantizer, clustered_n: int, measured: int = 0) -> None:
        self.index = index
        self.coarse = _half_copy(index)
        self.clustered_n = clustered_n  # rows when the lists were trained
        self.measured = measured  # probes measured on the library for these lists (ann/breadth.py); 0: the formula's

    @classmethod
    def build(cls, points: np.ndarray, labels: np.ndarray, seed: int = 0) -> CodedLists:
        """Train the lists' centres and the codes' scale on a sample, then add every point."""
        points = np.ascontiguousarray(points, np.float32)
        dim, lists = points.shape[1], max(1, len(points) // LIST_SIZE)
        faiss = _faiss()
        index = faiss.IndexIVFScalarQuantizer(faiss.IndexFlatL2(dim), dim, lists,
                                              faiss.ScalarQuantizer.QT_8bit_uniform, faiss.METRIC_INNER_PRODUCT)
        index.by_residual = False
        index.cp.niter, index.cp.seed = KMEANS_STEPS, seed
        # FAISS's own sample: up to 256 points a list, every point at 1M. Trained on 200k (50 a list)
        # the lists were less even: 112 probes found 0.990 in 0.99 ms where these find 0.992 in 0.88 ms
        # (k-means 23 s -> 104 s at 1M; by hand, docs/benchmarks.md)
        index.train(points)
        index.add_with_ids(points, labels.astype(np.int64))
        return cls(index, len(points))

    @property
    def lists(self) -> int:
        return int(self.index.nlist)

    @property
    def dim(self) -> int:
        return int(self.index.d)

    @property
    def live(self) -> int:
        return int(self.index.ntotal)

    def formula(self) -> int:
        return default_probes(self.lists)

    def probes(self) -> int:
        """Lists a search scans by default: as measured for these lists, else the formula's."""
        return min(self.lists, self.measured or self.formula())

    def grown(self) -> bool:
        """The library doubled since the lists were trained: new photos may lie far from the old centres."""
        return self.live >= 2 * self.clustered_n and self.live >= 2 * LIST_SIZE

    def live_labels(self) -> np.ndarray:
        lists = self.index.invlists
        parts = [_faiss().rev_swig_ptr(lists.get_ids(i), lists.list_size(i)).copy()
                 for i in range(self.lists) if lists.list_size(i)]
        return np.concatenate(parts) if parts else np.zeros(0, np.int64)

    # changes ------------------------------------------------------------------------
    def add(self, labels: np.ndarray, points: np.ndarray) -> None:
        """Add to the lists of their nearest centres (a label already present is replaced)."""
        if len(labels) == 0:
            return
        self.remove(labels)
        self.index.add_with_ids(np.ascontiguousarray(points, np.float32), labels.astype(np.int64))

    def remove(self, labels: np.ndarray | list[int]) -> int:
        """Drop these labels' codes; returns how many there were."""
        wanted = np.asarray(labels, np.int64)
        wanted = wanted[wanted >= 0]
        return int(self.index.remove_ids(_faiss().IDSelectorBatch(wanted))) if len(wanted) else 0

    # search -------------------------------------------------------------------------
    def search(self, point: np.ndarray, wide: int, probes: int | None = None) -> np.ndarray:
        """Labels of the (about) ``wide`` best codes by projected inner product in the nearest
        ``probes`` lists; the caller re-ranks them exactly."""
        query = np.ascontiguousarray(point[None, :], np.float32)
        self.index.nprobe = min(self.lists, probes or self.probes())  # the caller holds the index's lock
        _, near = self.coarse.search(query, self.index.nprobe)
        _, labels = self.index.search_preassigned(query, wide, near, np.zeros(near.shape, np.float32))
        return labels[0][labels[0] >= 0]

    # persistence --------------------------------------------------------------------
    def save(self, path: Path) -> None:
        with atomic.replacing(path) as tmp, open(tmp, "wb") as f:
            np.savez(f, index=_faiss().serialize_index(self.index), clustered_n=np.int64(self.clustered_n),
                     measured=np.int64(self.measured))

    @classmethod
    def load(cls, path: Path) -> CodedLists:
        with np.load(path) as z:
            faiss = _faiss()
            index = faiss.deserialize_index(z["index"])
            clustered_n, measured = int(z["clustered_n"]), int(z["measured"])
        if not isinstance(index, faiss.IndexIVFScalarQuantizer) or index.by_residual:
            raise ValueError("not the coded lists this version writes")
        return cls(index, clustered_n, measured)
