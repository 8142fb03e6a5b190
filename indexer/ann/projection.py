"""A low-dimensional basis for the ANN of a large library, used only where it keeps the neighbours.

At a million vectors hnswlib over the full 512-d vectors needs ~2.6 ms for recall@10 0.98
(bench_query). Where the library's vectors lie close to a low-dimensional subspace, 32-d
projections of them are searched instead (``inverted_file.py``: 16 times less memory read per
vector) and the best ``RERANK`` re-ranked with the full vectors, which gives back exact
similarities. ``fit`` measures on a sample of the library whether a basis keeps each vector's
neighbours and returns none otherwise.

Where no such basis exists — real CLIP vectors spread over hundreds of directions — ``fit_wide``
offers 3/16 of the dimensions for 8-bit coded inverted lists (``coded_lists.py``) whose best
``coded_lists.RERANK`` are re-ranked with the full vectors: on power-law vectors (bench/vectors.py)
the top 96 of 512 directions keep only ~0.75 of the energy, yet with 150 re-ranked the exact top
10 were found 0.991 of the time at a million (issue #39; the 128-d graph this replaced: 0.986 in
2.26 ms, built in 212 s). Where even that loses the neighbours (no dominant directions at all) the
full graph stays.

The basis is uncentred (the top right-singular vectors of the sample): ``(q P) . (x P)``
approximates the inner product ``q . x`` itself, not distances around a mean.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from indexer.base import atomic

PROJECT_MIN = 200_000  # below this the full graph answers in about a millisecond (1.1 ms at 100k): not worth a rebuild
SAMPLE = 20_000
CHECK_QUERIES = 200
ENERGY = 0.999  # the least share of the sample's energy a basis keeps before its neighbours are checked
NEIGHBOURS_KEPT = 0.995  # of the sample queries' exact 10 nearest, the share in the projected 20 nearest
WIDE_SHARE = 3 / 16  # of the dimensions in a basis for coded lists: 96 of 512 (112-d: 0.9905 at 0.98 ms,
# 128-d: 0.9925 at 1.12 ms against 96-d's 0.991 at 0.92 ms; 1M power-law vectors, docs/benchmarks.md)
WIDE_KEPT = 0.85  # of the sample's exact 10 nearest, the share a wide basis keeps among its projected 20
RERANK = 50  # projected results re-ranked with the full vectors (at 1M the exact top 10 were all in the projected
# top 50; 50 and 100 gave the same recall)


@dataclasses.dataclass(frozen=True)
class Spectrum:
    """A sample cut into test queries and the rest, with the rest's principal directions: both
    checks (``fit``, then ``fit_wide``) read it, so the sample's SVD is done once."""

    queries: np.ndarray
    base: np.ndarray
    s: np.ndarray  # singular values, largest first
    vt: np.ndarray  # principal directions, one a row

    @classmethod
    def of(cls, sample: np.ndarray) -> Spectrum:
        queries, base = _split(sample)
        _, s, vt = np.linalg.svd(base, full_matrices=False)
        return cls(queries, base, s, vt)


def fit(sample: np.ndarray | Spectrum) -> np.ndarray | None:
    """An orthonormal ``dim x d`` basis (d a multiple of 16, at most dim/4) that keeps the sample's
    neighbours, or None when no such basis exists (real CLIP vectors usually spread wider)."""
    sp = sample if isinstance(sample, Spectrum) else Spectrum.of(sample)
    energy = np.cumsum(sp.s.astype(np.float64) ** 2) / np.sum(sp.s.astype(np.float64) ** 2)
    for d in range(16, min(len(sp.s), sp.base.shape[1] // 4) + 1, 16):
        if energy[d - 1] < ENERGY:
            continue
        basis = np.ascontiguousarray(sp.vt[:d].T, dtype=np.float32)
        if kept_neighbours(sp.base, sp.queries, basis) >= NEIGHBOURS_KEPT:
            return basis
    return None


def fit_wide(sample: np.ndarray | Spectrum) -> np.ndarray | None:
    """A ``dim x dim*3/16`` basis for coded lists over projected vectors, or None where even that loses
    the sample's neighbours (vectors with no dominant directions: the full graph stays). Checked among
    the projected 20 on the sample, which is stricter than the ``coded_lists.RERANK`` a search re-ranks."""
    sp = sample if isinstance(sample, Spectrum) else Spectrum.of(sample)
    d = min(int(sp.base.shape[1] * WIDE_SHARE), len(sp.base))
    basis = np.ascontiguousarray(sp.vt[:d].T, dtype=np.float32)
    return basis if kept_neighbours(sp.base, sp.queries, basis) >= WIDE_KEPT else None


def lost_share(sample: np.ndarray, basis: np.ndarray) -> float:
    """The share of the sample's energy the basis leaves out (the drift check starts from it)."""
    return float(1.0 - np.sum((sample @ basis) ** 2, dtype=np.float64) / np.sum(sample ** 2, dtype=np.float64))


def _split(sample: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``CHECK_QUERIES`` queries spread over the sample, and the rest: a sample read in label order
    starts with the oldest photos, whose neighbours say nothing of the ones added since."""
    step = max(1, len(sample) // CHECK_QUERIES)
    asked = np.zeros(len(sample), bool)
    asked[::step] = True
    asked[np.flatnonzero(asked)[CHECK_QUERIES:]] = False
    return sample[asked], sample[~asked]


def kept_neighbours(base: np.ndarray, queries: np.ndarray, basis: np.ndarray, k: int = 10,
                    candidates: int = 20) -> float:
    """Share of each query's exact ``k`` nearest in ``base`` found among its ``candidates`` nearest
    after projection (the re-ranking then restores their order)."""
    exact = np.argpartition(-(queries @ base.T), k, axis=1)[:, :k]
    near = np.argpartition(-((queries @ basis) @ (base @ basis).T), candidates, axis=1)[:, :candidates]
    return float(np.mean([len(set(e.tolist()) & set(n.tolist())) / k for e, n in zip(exact, near, strict=True)]))


def lloyd(sample: np.ndarray, centres: np.ndarray, iters: int) -> np.ndarray:
    """k-means steps with BLAS products (OpenCV's kmeans was several times slower here)."""
    for _ in range(iters):
        own = nearest(sample, centres)
        order = np.argsort(own, kind="stable")
        present, starts = np.unique(own[order], return_index=True)
        centres[present] = np.add.reduceat(sample[order], starts, axis=0) / np.diff(np.append(starts, len(own)))[:, None]
    return centres


def nearest(y: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Index of each row's nearest centre (squared distance through one product per block)."""
    # blocks of 4,096 rows: with 65,536 the block's 1 GB temporaries (at 4,000 centres) cost more
    # in page faults than the product (300k rows: 18 s vs 4 s on the benchmark VM)
    norms = np.sum(centres * centres, axis=1)
    return np.concatenate([np.zeros(0, np.int64)] + [np.argmin(norms[None, :] - 2 * (y[i:i + 4096] @ centres.T), axis=1)
                                                     for i in range(0, len(y), 4096)])


class FullVectors:
    """The full vectors behind projected ones, by label: a sorted label array and its rows.

    Rows are float16, as the store keeps every vector (``store/rows.py``): re-ranking from them is
    exact against the store, at half the memory (1 GB at a million 512-d vectors, not 2).

    Labels arrive in ascending order (new vector ids), so adding is an append; anything else is
    merged (a re-added label replaces its row). Rows live in blocks: the block read at load or
    built at a merge, then blocks of ``BLOCK`` rows appended. Growing one array would copy it, and
    at 1M that copy is 2 GB beside the 2 GB it replaces (bench_memory: indexing 60 photos into a
    1M library peaked at 4.3 GB); numpy's in-place resize avoids the copy only where realloc can
    remap the pages, which numpy's huge-page advice prevents. Lookups go through a table of row by
    label (vector ids are dense): at 1M a binary search of 50 labels in the 8 MB label array cost
    ~130 us of a search's budget, the table ~40 us. Rows of removed photos are marked gone: left
    out of every save (so out of memory after the next load), and let go at once when they are
    a quarter of the rows; until then a lookup still finds them, as a search racing the removal may ask.
    """

    BLOCK = 65_536  # rows per appended block: 64 MB at 512-d, touched only as rows arrive
    DTYPE = np.float16
    GONE_SHARE = 0.25  # gone rows kept in memory up to this share of all rows (a copy lets them go)

    def __init__(self, dim: int, expect: int = 0) -> None:
        self.dim = dim
        self._first = max(self.BLOCK, expect)  # rows of the first block: a rebuild knows how many come
        self.labels = np.zeros(0, np.int64)
        self.n = 0
        self._blocks: list[np.ndarray] = []  # each full but the last; rows in label order
        self._starts: list[int] = []  # position of each block's first row (the last block ends at n)
        self._row_of = np.zeros(0, np.int32)  # row of each label up to labels[_indexed - 1]; -1: none
        self._indexed = 0  # labels[:_indexed] are in the table
        self._gone = np.zeros(0, bool)  # by position: rows of removed labels
        self.gone = 0

    def add(self, labels: np.ndarray, vecs: np.ndarray) -> None:
        labels, vecs = labels.astype(np.int64), vecs.astype(self.DTYPE)
        if len(labels) == 0:
            return
        ascending = bool(np.all(np.diff(labels) > 0)) and (self.n == 0 or labels[0] > self.labels[self.n - 1])
        if not ascending:
            self._merge(labels, vecs)
            return
        if self.n + len(labels) > len(self.labels):  # 8 bytes a row: copying these is cheap
            grown = np.zeros(max(self.n + len(labels), int(len(self.labels) * 1.5)), np.int64)
            grown[:self.n] = self.labels[:self.n]
            self.labels = grown
        self.labels[self.n:self.n + len(labels)] = labels
        self._append_rows(vecs)
        self.n += len(labels)  # the table catches up at the next lookup

    def _append_rows(self, vecs: np.ndarray) -> None:
        """Write rows after the ``n`` held, opening a block whenever the last is full."""
        done = 0
        while done < len(vecs):
            at = self.n + done - self._starts[-1] if self._blocks else 0  # next free row of the last block
            if not self._blocks or at == len(self._blocks[-1]):
                self._blocks.append(np.empty((self.BLOCK if self._blocks else self._first, self.dim), self.DTYPE))
                self._starts.append(self.n + done)
                at = 0
            take = min(len(vecs) - done, len(self._blocks[-1]) - at)
            self._blocks[-1][at:at + take] = vecs[done:done + take]
            done += take

    def _end(self, b: int) -> int:
        return self._starts[b + 1] if b + 1 < len(self._starts) else self.n

    def drop(self, labels: np.ndarray) -> int:
        """Mark these labels' rows gone (their photos left the library); returns how many were held."""
        if self._indexed < self.n:
            self._index_rows()
        labels = np.asarray(labels, np.int64)
        labels = labels[(labels >= 0) & (labels < len(self._row_of))]
        pos = self._row_of[labels]
        pos = pos[pos >= 0]
        if len(self._gone) < self.n:  # grown by half: removals come in many small calls
            grown = np.zeros(max(self.n, len(self._gone) * 3 // 2), bool)
            grown[:len(self._gone)] = self._gone
            self._gone = grown
        fresh = pos[~self._gone[pos]]
        self._gone[fresh] = True
        self.gone += len(fresh)
        if self.gone > self.GONE_SHARE * self.n:
            kept = self._kept()
            self._set(self.labels[kept], self._gather(kept))
        return len(fresh)

    def _kept(self) -> np.ndarray:
        """Positions of the rows not gone."""
        if not self.gone:
            return np.arange(self.n)
        gone = np.zeros(self.n, bool)
        held = min(self.n, len(self._gone))  # rows appended since the last drop are not gone
        gone[:held] = self._gone[:held]
        return np.flatnonzero(~gone)

    def _merge(self, labels: np.ndarray, vecs: np.ndarray) -> None:
        kept = self._kept()
        all_labels = np.concatenate([self.labels[kept], labels])
        all_rows = np.concatenate([self._gather(kept), vecs])
        # the last occurrence of a label wins: unique over the reversed order keeps it
        _, last = np.unique(all_labels[::-1], return_index=True)
        keep = len(all_labels) - 1 - last
        self._set(all_labels[keep], all_rows[keep])

    def _set(self, labels: np.ndarray, rows: np.ndarray) -> None:
        """Hold exactly these rows, as one block (after a merge or a load)."""
        self.labels, self.n = labels, len(labels)
        self._blocks, self._starts = [rows.astype(self.DTYPE, copy=False)], [0]
        self._row_of, self._indexed = np.zeros(0, np.int32), 0  # rows moved: the table starts again
        self._gone, self.gone = np.zeros(0, bool), 0

    def rows_at(self, pos: np.ndarray) -> np.ndarray:
        """Rows by position (0..n-1) as float32, for arithmetic."""
        return self._gather(pos).astype(np.float32)

    def _gather(self, pos: np.ndarray) -> np.ndarray:
        """Rows by position as kept (float16: a compaction or a save moves them without a float32
        copy twice their size): one gather when they all lie in the first block, as after a load
        nearly all do, else one per block they lie in."""
        first = self._blocks[0] if self._blocks else np.zeros((0, self.dim), self.DTYPE)
        if len(pos) == 0 or pos.max() < len(first):
            return first[pos]
        out = np.empty((len(pos), self.dim), self.DTYPE)
        block_of = np.searchsorted(self._starts, pos, side="right") - 1
        for b in np.unique(block_of).tolist():
            mine = block_of == b
            out[mine] = self._blocks[b][pos[mine] - self._starts[b]]
        return out

    def batches(self, size: int):
        """(labels, rows) in label order, ``size`` rows at most at a time, without copying rows (float16)."""
        for b, block in enumerate(self._blocks):
            start, end = self._starts[b], self._end(b)
            for at in range(start, end, size):
                stop = min(at + size, end)
                yield self.labels[at:stop], block[at - start:stop - start]

    def get(self, labels: np.ndarray) -> np.ndarray:
        """Rows of these labels; KeyError for one never added."""
        if self._indexed < self.n:
            self._index_rows()
        labels = np.asarray(labels, np.int64)
        if len(labels) and (labels.min() < 0 or labels.max() >= len(self._row_of)):
            raise KeyError("a label without a full vector")
        pos = self._row_of[labels]
        if len(pos) and pos.min() < 0:
            raise KeyError("a label without a full vector")
        return self.rows_at(pos)

    def _index_rows(self) -> None:
        """Enter the labels appended since the last lookup into the table (grown by half)."""
        top = int(self.labels[self.n - 1]) + 1
        if top > len(self._row_of):
            table = np.full(max(top, int(len(self._row_of) * 1.5)), -1, np.int32)
            table[:len(self._row_of)] = self._row_of
            self._row_of = table
        new = slice(self._indexed, self.n)
        self._row_of[self.labels[new]] = np.arange(self._indexed, self.n, dtype=np.int32)
        self._indexed = self.n

    def save(self, labels_path: Path, rows_path: Path) -> None:
        """Write the labels and the rows as .npy files, the rows block by block (never joined),
        without the gone ones."""
        kept = self._kept()
        with atomic.replacing(labels_path) as tmp, open(tmp, "wb") as f:
            np.save(f, self.labels[kept])
        with atomic.replacing(rows_path) as tmp, open(tmp, "wb") as f:
            header = {"descr": np.lib.format.dtype_to_descr(np.dtype(self.DTYPE)), "fortran_order": False,
                      "shape": (len(kept), self.dim)}
            np.lib.format.write_array_header_2_0(f, header)
            if not self.gone:
                for _, rows in self.batches(self.BLOCK):
                    f.write(np.ascontiguousarray(rows).data)
                return
            for at in range(0, len(kept), self.BLOCK):
                f.write(self._gather(kept[at:at + self.BLOCK]).data)

    @classmethod
    def load(cls, labels_path: Path, rows_path: Path) -> FullVectors:
        # read whole, not memory-mapped: a search's ~100 rows from a fresh mapping cost 190 us
        # (page faults) instead of 85 us at 1M, most of the 1 ms budget; the 512-d graph this
        # replaces was read whole too
        labels, rows = np.load(labels_path), np.load(rows_path)
        if labels.ndim != 1 or rows.ndim != 2 or len(labels) != len(rows):
            raise ValueError("full vectors do not match their labels")
        if rows.dtype not in (np.float16, np.float32):  # float32: saved before they were kept as the store keeps them
            raise ValueError("full vectors are not floats")
        out = cls(rows.shape[1])
        out._set(labels.astype(np.int64), rows)
        return out
