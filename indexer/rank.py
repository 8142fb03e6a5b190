"""From a query vector to results: candidates, filters, hubness correction, calibration.

* Filters run in SQLite. When they are selective the search is exact over the files
  that pass (no ANN candidate list can then lose a hit); otherwise the ANN is asked
  for more and more candidates until enough survive.
* Hubness correction (after DBNorm, dual-bank normalisation): a "hub" is a gallery
  item close to everything. Each candidate's score is reduced by α times its mean
  top-k similarity to a bank of reference queries plus a sample of the gallery, so
  hubs stop crowding every result list.
* Calibration: raw cosines mean different things for different models and queries,
  so each score is turned into a 0..1 relevance from its z-score against the same
  gallery sample (how far above "typical" this item is for this query). A default
  cutoff on that relevance lets a nonsense query return little instead of everything.
* Hits are grouped per photo and per video *moment*: one video can return several
  distinct moments while neighbouring frames of one moment collapse into one result.
"""

from __future__ import annotations

import dataclasses
import random
import threading
from typing import Any

import numpy as np

from indexer.ann import AnnIndex
from indexer.filters import Filters
from indexer.store import Store

EXACT_MAX_VECTORS = 50_000  # a filter leaving this few vectors is searched exactly...
EXACT_FRACTION = 0.05  # ...as is one leaving this share of the library (the ANN would need a huge k)
SAMPLE_SIZE = 2048
HUB_K = 10
HUB_ALPHA = 0.5
Z_MID, Z_SCALE = 2.0, 0.6  # relevance 0.5 at z = 2; ~0.96 at z = 4


@dataclasses.dataclass(frozen=True)
class Hit:
    """One search result: a photo, or a moment of a video.

    ``score`` is the calibrated relevance (0..1); ``similarity`` the raw cosine.
    """

    path: str
    score: float
    kind: str
    timestamp: float | None = None
    start: float | None = None
    end: float | None = None
    file_id: int = 0
    width: int | None = None
    height: int | None = None
    taken_at: float | None = None
    camera: str | None = None
    similarity: float = 0.0
    text: str | None = None  # the line of text in the picture that matched the words (textsearch.py)
    text_box: tuple[float, float, float, float] | None = None  # where it is: fractions of width and height
    text_score: float = 0.0  # share of the query's words found in the picture's text
    file_date: float | None = None  # the file's modification time (when it was not taken_at)

    @property
    def when(self) -> float | None:
        """When the photo was taken, else the file's date (``date_is_file_date``)."""
        return self.taken_at if self.taken_at is not None else self.file_date

    @property
    def date_is_file_date(self) -> bool:
        return self.taken_at is None and self.file_date is not None

    def to_json(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "date": self.when, "date_is_file_date": self.date_is_file_date}


class GalleryStats:
    """A random sample of the library's vectors plus the reference-query bank, per version."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version = -1
        self._count = 0
        self.sample = np.zeros((0, 1), np.float32)
        self.bank = np.zeros((0, 1), np.float32)
        self.sample_hub = np.zeros(0, np.float32)
        self._banked = False

    def refresh(self, store: Store, query_bank: np.ndarray | None) -> GalleryStats:
        """Resample when the library has grown or shrunk by a fifth since the last sample.

        ``query_bank`` is only needed for hubness scores; a caller that passes none (the
        composition's spread, the relevance check) gets the sample alone, and the bank is
        added when a caller first passes one.
        """
        with self._lock:
            if query_bank is not None and len(query_bank) and not self._banked and len(self.sample):
                self._set_bank(query_bank)
            version = store.version()  # one-row lookup: keeps COUNT(*) off the search path
            if version == self._version:
                return self
            n = store.vector_count()
            if self._version >= 0 and abs(n - self._count) <= 0.2 * max(self._count, 1) and self._count:
                self._version = version
                return self
            ids = sorted(store.vector_ids())
            pick = random.Random(0).sample(ids, min(SAMPLE_SIZE, len(ids)))
            vecs = store.vectors_by_id(pick)
            self.sample = np.stack(vecs) if vecs else np.zeros((0, 1), np.float32)
            self._set_bank(query_bank)
            self._version, self._count = store.version(), n
            return self

    def _set_bank(self, query_bank: np.ndarray | None) -> None:
        parts = [b for b in (query_bank, self.sample) if b is not None and len(b)]
        self.bank = np.concatenate(parts) if parts else self.sample
        self.sample_hub = hub_scores(self.sample, self.bank) if len(self.sample) else np.zeros(0, np.float32)
        self._banked = query_bank is not None and len(query_bank) > 0


def hub_scores(vecs: np.ndarray, bank: np.ndarray, k: int = HUB_K) -> np.ndarray:
    """Mean of each vector's top-k similarities to the bank: high for hubs."""
    if len(bank) == 0 or len(vecs) == 0:
        return np.zeros(len(vecs), np.float32)
    sims = vecs @ bank.T
    k = min(k, sims.shape[1])
    return np.sort(sims, axis=1)[:, -k:].mean(axis=1).astype(np.float32)


def relevance(scores: np.ndarray, sample_scores: np.ndarray) -> np.ndarray:
    """Robust z-score against this query's scores over the gallery sample, squashed to 0..1.

    Median and MAD rather than mean and standard deviation, so that the matches
    themselves (a few items far above the rest) do not widen the scale they are
    measured on. With the default cutoff (relevance 0.5, z = 2) a query can only
    return items well above what is typical for it, never the whole library.
    """
    if len(sample_scores) < 2:
        return np.clip((scores + 1) / 2, 0, 1)
    med = float(np.median(sample_scores))
    sd = 1.4826 * float(np.median(np.abs(sample_scores - med))) or float(sample_scores.std()) or 1e-6
    z = (scores - med) / sd
    return 1.0 / (1.0 + np.exp(np.clip(-(z - Z_MID) / Z_SCALE, -50, 50)))


def search_vector(vec: np.ndarray, store: Store, ann: AnnIndex, limit: int = 20, filters: Filters | None = None,
                  min_score: float | None = None, exclude: frozenset[int] = frozenset(),
                  stats: GalleryStats | None = None, hub_alpha: float = HUB_ALPHA,
                  min_similarity: float | None = None, within: frozenset[int] | None = None) -> list[Hit]:
    """Best photos and video moments for ``vec``, most relevant first.

    ``min_score`` cuts on the calibrated relevance, ``min_similarity`` on the raw cosine
    (the default view's nonsense floor, ``Library._nonsense_floor``); ``within`` limits the
    search to these files (the ones whose text holds a quoted phrase).
    """
    filters = filters or Filters()
    allowed: set[int] | None = None
    if filters.is_set() or within is not None:
        allowed = {r.id for r in store.filtered(filters)}
        if within is not None:
            allowed &= within
        if not allowed:
            return []
        n_vec = store.vector_count_of(allowed)
        if n_vec <= EXACT_MAX_VECTORS or n_vec <= EXACT_FRACTION * max(len(ann), 1):
            ids, vecs = store.vectors_of_files(allowed)
            return _rank(vec, ids, vecs, store, limit, min_score, exclude, stats, hub_alpha, None, min_similarity)
    k = max(limit * 4, 32)
    while True:
        ids, _ = ann.search(vec, k)
        vecs = ann.vectors(ids)
        hits = _rank(vec, ids, vecs, store, limit, min_score, exclude, stats, hub_alpha, allowed, min_similarity)
        if len(hits) >= limit or len(ids) < k or (min_similarity is not None and float((vecs @ vec).min()) < min_similarity):
            return hits
        k *= 4


def _rank(vec: np.ndarray, ids: np.ndarray, vecs: np.ndarray, store: Store, limit: int, min_score: float | None,
          exclude: frozenset[int], stats: GalleryStats | None, alpha: float, allowed: set[int] | None,
          min_similarity: float | None = None) -> list[Hit]:
    if len(ids) == 0:
        return []
    sims = vecs @ vec
    adjusted = sims.copy()
    sample_scores = np.zeros(0, np.float32)
    if stats is not None and len(stats.sample):
        sample_scores = stats.sample @ vec
        if alpha:
            adjusted = sims - alpha * hub_scores(vecs, stats.bank)
            sample_scores = sample_scores - alpha * stats.sample_hub
    rel = relevance(adjusted, sample_scores)
    order = np.argsort(-adjusted)
    rows = store.vector_rows([int(ids[i]) for i in order[: max(limit * 8, 256)]])
    files = store.files_by_id({r[0] for r in rows.values()})
    best: dict[tuple[int, float | None], Hit] = {}
    for i in order:
        row = rows.get(int(ids[i]))
        if row is None or (min_score is not None and rel[i] < min_score):
            continue
        if min_similarity is not None and sims[i] < min_similarity:
            continue
        file_id, ts, start, end = row
        f = files.get(file_id)
        if f is None or f.status != "ok" or file_id in exclude or (allowed is not None and file_id not in allowed):
            continue
        key = (file_id, start if f.kind == "video" else None)
        if key in best:
            continue  # best first: the first frame seen is the moment's best
        best[key] = Hit(f.path, float(rel[i]), f.kind, ts, start, end, f.id, f.width, f.height, f.taken_at, f.camera,
                        float(sims[i]), file_date=f.mtime)
        if len(best) >= limit:
            break
    return list(best.values())
