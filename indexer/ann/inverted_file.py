"""Projected vectors cut into k-means lists: the ANN of a large library that lies near a subspace.

Over a 32-d projection a graph walk is bound by its hops, not by the distances: hnswlib at
1M (M 32, ef_construction 400, cell-order insertion) needed 1.15-1.6 ms for recall@10 0.99.
An inverted file reads memory in long runs instead: the query's nearest lists are contiguous
slices of one array, each scored with one product straight from its rows. At 1M on
bench_query's clustered data, 64 of 4,000 lists (~16k vectors) hold the exact top 10 in the
best 50 for recall 0.9955 in 0.32-0.63 ms p50 on the AMX Xeon, the slowest right after an
exact scan of the float32 vectors has emptied the caches (p95 0.69 ms; with a gather before
the product it was 0.56-1.1 ms there, 0.37-0.75 on the EPYC); the build is a k-means on a
sample instead of a graph (the index build 64-175 s instead of 274-381 s).

Why by hand: hnswlib (fixed by the product) has no inverted file, and FAISS would add a
second native ANN library for this one case; numpy's products and gathers do the work here.

Rows ``[0, bounds[-1])`` are sorted by list; rows after them are a tail of recent adds,
scanned whole on every search until it is merged into the lists (when it outgrows
``TAIL_SHARE`` of them). A removed row keeps its place with label -1 and a zero vector until
the next merge drops it. The lists are re-clustered when the library doubled since they were
made (new photos may have drifted from the old centres).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from indexer.ann.projection import lloyd, nearest
from indexer.base import atomic

LIST_SIZE = 250  # vectors per list on average: 4,000 lists at 1M
KMEANS_SAMPLE = 200_000
KMEANS_STEPS = 15
PROBES_AT_4000 = 64  # 64 of 4,000 lists: recall@10 0.996 at 1M (48: 0.991, 32: 0.982)
TAIL_MIN, TAIL_SHARE = 2048, 1 / 64  # merge the tail past max(TAIL_MIN, rows * TAIL_SHARE)


def default_probes(lists: int, at_4000: int = PROBES_AT_4000) -> int:
    """Lists scanned per search, ``at_4000`` of 4,000 lists. Fewer lists are each a larger share of
    the data, so their number shrinks slower than the lists' (as ``ann.default_ef`` grows with n^0.3)."""
    return int(min(lists, max(16, round(at_4000 * (lists / 4000) ** 0.3))))


def best(sims: np.ndarray, wide: int) -> np.ndarray:
    """Positions of the ``wide`` largest ``sims``, unordered.

    ``np.argpartition`` over the ~16k scores of a search at 1M took ~155 us. A threshold from
    every 16th score (the ``wide // 8``-th largest of them) leaves ~100 candidates to partition
    (~30 us); it is exact whenever at least ``wide`` scores reach it, and falls back otherwise.
    """
    if len(sims) <= wide:
        return np.arange(len(sims))
    if len(sims) > 16 * wide and wide >= 8:
        sub = sims[::16]
        threshold = np.partition(sub, len(sub) - wide // 8)[len(sub) - wide // 8]
        near = np.flatnonzero(sims >= threshold)
        if len(near) >= wide:
            return near[np.argpartition(sims[near], len(near) - wide)[len(near) - wide:]]
    return np.argpartition(sims, len(sims) - wide)[len(sims) - wide:]


class InvertedLists:
    """Labelled points (already projected) in k-means lists, searched by inner product."""

    def __init__(self, centres: np.ndarray, points: np.ndarray, labels: np.ndarray, bounds: np.ndarray,
                 clustered_n: int, measured: int = 0) -> None:
        self.centres = centres
        self.points, self.labels, self.n = points, labels, len(labels)
        self.removed = int(np.count_nonzero(labels < 0))  # blank rows (counted: a search asks how many live)
        self.bounds = bounds  # list i is rows bounds[i]:bounds[i + 1]
        self.clustered_n = clustered_n  # rows when the centres were made
        # probes per search as measured on the library's own vectors for these centres (ann/breadth.py);
        # 0: not measured yet (new centres, or saved before probes were measured): the formula's
        self.measured = measured
        self._centre_norms = np.sum(centres * centres, axis=1)

    @classmethod
    def build(cls, points: np.ndarray, labels: np.ndarray, seed: int = 0) -> InvertedLists:
        """k-means centres from a sample, every point in its nearest list."""
        points = points.astype(np.float32, copy=False)
        out = cls(np.zeros((1, points.shape[1]), np.float32), np.zeros((0, points.shape[1]), np.float32),
                  np.zeros(0, np.int64), np.zeros(2, np.int64), 0)
        out._cluster(points, seed)
        out._sort(points, labels.astype(np.int64))
        return out

    def _cluster(self, points: np.ndarray, seed: int = 0) -> None:
        """New centres: k-means on a sample of ``points``, one per ``LIST_SIZE`` of them."""
        rng = np.random.default_rng(seed)
        lists = max(1, len(points) // LIST_SIZE)
        sample = points[np.sort(rng.choice(len(points), min(len(points), KMEANS_SAMPLE), replace=False))]
        self.centres = lloyd(sample, sample[rng.choice(len(sample), lists, replace=False)].copy(), KMEANS_STEPS)
        self._centre_norms = np.sum(self.centres * self.centres, axis=1)
        self.clustered_n = len(points)
        self.measured = 0  # measured for the old centres: does not carry (fewer, larger lists)

    @property
    def live(self) -> int:
        return self.n - self.removed

    @property
    def lists(self) -> int:
        return len(self.centres)

    @property
    def dim(self) -> int:
        return int(self.points.shape[1])

    def formula(self) -> int:
        return default_probes(len(self.centres))

    def probes(self) -> int:
        """Lists a search scans by default: as measured for these centres, else the formula's."""
        return min(self.lists, self.measured or self.formula())

    def live_labels(self) -> np.ndarray:
        return self.labels[:self.n][self.labels[:self.n] >= 0]

    def _sort(self, points: np.ndarray, labels: np.ndarray) -> None:
        """Lay ``points`` out by list (stable: within a list, in the order given)."""
        own = nearest(points, self.centres)
        order = np.argsort(own, kind="stable")
        self.points, self.labels, self.n = np.ascontiguousarray(points[order]), labels[order], len(labels)
        self.removed = 0
        self.bounds = np.searchsorted(own[order], np.arange(len(self.centres) + 1)).astype(np.int64)

    # changes ------------------------------------------------------------------------
    def add(self, labels: np.ndarray, points: np.ndarray) -> None:
        """Append to the tail (a label already present is replaced); merge a tail grown too long."""
        labels, points = labels.astype(np.int64), points.astype(np.float32, copy=False)
        if len(labels) == 0:
            return
        if self.n and labels.min() <= self.labels[:self.n].max():
            self.remove(labels)
        if self.n + len(labels) > len(self.labels):
            self._grow(max(self.n + len(labels), int(len(self.labels) * 1.25)))
        self.labels[self.n:self.n + len(labels)], self.points[self.n:self.n + len(labels)] = labels, points
        self.n += len(labels)
        if self.n - int(self.bounds[-1]) > max(TAIL_MIN, self.bounds[-1] * TAIL_SHARE):
            self.merge()

    def _grow(self, capacity: int) -> None:
        labels, points = np.full(capacity, -1, np.int64), np.zeros((capacity, self.points.shape[1]), np.float32)
        labels[:self.n], points[:self.n] = self.labels[:self.n], self.points[:self.n]
        self.labels, self.points = labels, points

    def remove(self, labels: np.ndarray | list[int]) -> int:
        """Blank the rows of these labels (dropped at the next merge); returns how many there were."""
        wanted = np.asarray(labels, np.int64)
        hit = np.flatnonzero(np.isin(self.labels[:self.n], wanted[wanted >= 0]))
        self.labels[hit], self.points[hit] = -1, 0.0
        self.removed += len(hit)
        return len(hit)

    def merge(self) -> None:
        """Put the tail into its lists and drop removed rows; re-cluster a library that doubled."""
        keep = self.labels[:self.n] >= 0
        points, labels = self.points[:self.n][keep], self.labels[:self.n][keep]
        if len(labels) >= 2 * self.clustered_n and len(labels) >= 2 * LIST_SIZE:
            self._cluster(points)
        self._sort(points, labels)

    # search -------------------------------------------------------------------------
    def search(self, point: np.ndarray, wide: int, probes: int | None = None) -> np.ndarray:
        """Labels of the (about) ``wide`` best rows by projected inner product: the nearest
        ``probes`` lists and the whole tail. Unordered; the caller re-ranks them exactly."""
        probes = min(len(self.centres), probes or self.probes())
        near = np.sort(np.argpartition(self._centre_norms - 2 * (self.centres @ point), probes - 1)[:probes])
        starts = np.append(self.bounds[near], self.bounds[-1])  # the probed lists in memory order, then the tail
        ends = np.append(self.bounds[near + 1], self.n)
        sims, offsets = self._scores(point.astype(np.float32, copy=False), starts, ends)
        picked = best(sims, wide)
        part = np.searchsorted(offsets, picked, side="right") - 1  # which slice each pick came from
        labels = self.labels[starts[part] + picked - offsets[part]]
        return labels[labels >= 0]

    def _scores(self, point: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every row's score, slice by slice into one array, and where each slice starts in it.

        One product per list straight from its rows: gathering the ~16k rows first (one
        ``np.take``, then one product) wrote a 2 MB copy that the product read again. On the
        AMX Xeon at 1M: 1.06 -> 0.65 ms p50 with the caches emptied between searches, 0.50 ->
        0.40 ms warm (bench_query). Sorted lists are also read in address order.
        """
        lengths = ends - starts
        offsets = np.concatenate(([0], np.cumsum(lengths)[:-1]))
        sims = np.empty(int(lengths.sum()), np.float32)
        for s, e, o in zip(starts.tolist(), ends.tolist(), offsets.tolist(), strict=True):
            if e > s:
                np.matmul(self.points[s:e], point, out=sims[o:o + e - s])
        return sims, offsets

    # persistence --------------------------------------------------------------------
    def save(self, path: Path) -> None:
        with atomic.replacing(path) as tmp, open(tmp, "wb") as f:
            np.savez(f, centres=self.centres, points=self.points[:self.n], labels=self.labels[:self.n],
                     bounds=self.bounds, clustered_n=np.int64(self.clustered_n),
                     measured=np.int64(self.measured))

    @classmethod
    def load(cls, path: Path) -> InvertedLists:
        """Read whole (as the full vectors: a fresh memory map costs page faults per search)."""
        with np.load(path) as z:
            centres, points, labels, bounds = z["centres"], z["points"], z["labels"], z["bounds"]
            clustered_n = int(z["clustered_n"])
            # saved before probes were measured: the formula's until the index measures them (its next add)
            measured = int(z["measured"]) if "measured" in z.files else 0
        if (points.ndim != 2 or len(points) != len(labels) or centres.shape[1] != points.shape[1]
                or len(bounds) != len(centres) + 1 or bounds[-1] > len(labels) or points.dtype != np.float32):
            raise ValueError("inverted lists do not fit together")
        return cls(centres.astype(np.float32), points, labels.astype(np.int64), bounds.astype(np.int64), clustered_n,
                   measured)
