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
* A large photo may have region vectors (regions.py): its score is the best of its whole
  picture and its regions, a region counting only when it beats the whole by
  ``REGION_MARGIN`` of the query's spread over the library; the hit names the region.
"""

from __future__ import annotations

import dataclasses
import random
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from indexer.ann.index import AnnIndex
from indexer.base import atomic
from indexer.base.filters import Filters
from indexer.media.regions import region_name
from indexer.store.database import Store

EXACT_MAX_VECTORS = 50_000  # a filter leaving this few vectors is searched exactly...
EXACT_FRACTION = 0.05  # ...as is one leaving this share of the library (the ANN would need a huge k)
SAMPLE_SIZE = 2048
HUB_K = 10
HUB_ALPHA = 0.5
Z_MID, Z_SCALE = 2.0, 0.6  # relevance 0.5 at z = 2; ~0.96 at z = 4
# In spreads of the query's scores over the library. A crop shows its object larger and off its
# place in the photo, so for words about size or position ("a large red object on the left")
# some crop of an unrelated photo can outscore the right whole photo. Chosen on tuning seeds of
# the three test models (tests/indexer/test_regions.py, docs/benchmarks.md): small-object R@5
# over whole-photo only +0.33/+0.25/+0.17 at 0.1, +0.25/+0.25/+0.17 at 0.5, +0.17/+0.21/+0.21
# at 1.0; partial-description mAP -0.14/-0.08/-0.13, -0.04/-0.01/-0.09, -0.01/0/-0.07.
REGION_MARGIN = 0.5


@dataclasses.dataclass(frozen=True, kw_only=True)
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
    region: tuple[float, float, float, float] | None = None  # the part of the photo that matched best (regions.py)
    whole_score: float | None = None  # with a region: the whole photo's own score, for comparison
    image_share: float | None = None  # composed queries: the share of the match owed to the example image

    @property
    def when(self) -> float | None:
        """When the photo was taken, else the file's date (``date_is_file_date``)."""
        return self.taken_at if self.taken_at is not None else self.file_date

    @property
    def date_is_file_date(self) -> bool:
        return self.taken_at is None and self.file_date is not None

    def to_json(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "date": self.when, "date_is_file_date": self.date_is_file_date,
                "region_name": region_name(self.region) if self.region else None}


class GalleryStats:
    """A random sample of the library's vectors plus the reference-query bank, per version.

    ``cache``: a file in the library keeping the sample for the next process, so a search from
    the shell does not read every vector id to draw it again (100 ms at 100k items).
    """

    def __init__(self, cache: Path | None = None) -> None:
        self.cache = cache
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
            version = store.version()  # one-row lookup: keeps COUNT(*) off the search path
            if version != self._version:
                self._follow(store, version)
            if query_bank is not None and len(query_bank) and not self._banked and len(self.sample):
                self._set_bank(query_bank)
            return self

    def _follow(self, store: Store, version: int) -> None:
        """After a write: keep the sample unless the library changed size by more than a fifth."""
        n = store.vector_count()
        if self._version < 0:
            self._load(store.model)  # the sample an earlier process drew, if any
        self._version = version
        if self._count and abs(n - self._count) <= 0.2 * max(self._count, 1):
            return
        self.sample = _sample(store, store.vector_ids(regions=False))  # whole pictures and video frames
        self._count = n
        self.bank, self.sample_hub, self._banked = np.zeros((0, 1), np.float32), np.zeros(0, np.float32), False
        self._save(store.model)

    def _load(self, model: str) -> None:
        try:
            with np.load(self.cache) as saved:
                if str(saved["model"]) == model:
                    self.sample, self._count = saved["sample"].astype(np.float32), int(saved["count"])
        except (OSError, ValueError, KeyError, TypeError):
            pass  # no cache (yet), or one from another Glimpse: drawn again

    def _save(self, model: str) -> None:
        if self.cache is None:
            return
        try:
            with atomic.replacing(self.cache) as tmp, open(tmp, "wb") as f:
                np.savez(f, sample=self.sample.astype(np.float16), count=self._count, model=model)
        except OSError:
            pass  # only a cache

    def _set_bank(self, query_bank: np.ndarray) -> None:
        """Hubness scores need the bank; with hubness off (the default) no caller passes one."""
        self.bank = np.concatenate([query_bank, self.sample])
        self.sample_hub = hub_scores(self.sample, self.bank)
        self._banked = True


def _sample(store: Store, ids: set[int]) -> np.ndarray:
    pick = random.Random(0).sample(sorted(ids), min(SAMPLE_SIZE, len(ids)))
    vecs = store.vectors_by_id(pick)
    return np.stack(vecs) if vecs else np.zeros((0, 1), np.float32)


def hub_scores(vecs: np.ndarray, bank: np.ndarray, k: int = HUB_K) -> np.ndarray:
    """Mean of each vector's top-k similarities to the bank: high for hubs."""
    if len(bank) == 0 or len(vecs) == 0:
        return np.zeros(len(vecs), np.float32)
    sims = vecs @ bank.T
    k = min(k, sims.shape[1])
    return np.sort(sims, axis=1)[:, -k:].mean(axis=1).astype(np.float32)


def spread(sample_scores: np.ndarray) -> tuple[float, float]:
    """(median, robust standard deviation) of a query's scores over the library sample."""
    med = float(np.median(sample_scores))
    return med, 1.4826 * float(np.median(np.abs(sample_scores - med))) or float(sample_scores.std()) or 1e-6


def relevance(scores: np.ndarray, sample_scores: np.ndarray) -> np.ndarray:
    """Robust z-score against this query's scores over the gallery sample, squashed to 0..1.

    Median and MAD rather than mean and standard deviation, so that the matches
    themselves (a few items far above the rest) do not widen the scale they are
    measured on. With the default cutoff (relevance 0.5, z = 2) a query can only
    return items well above what is typical for it, never the whole library.
    """
    if len(sample_scores) < 2:
        return np.clip((scores + 1) / 2, 0, 1)
    med, sd = spread(sample_scores)
    z = (scores - med) / sd
    return 1.0 / (1.0 + np.exp(np.clip(-(z - Z_MID) / Z_SCALE, -50, 50)))


@dataclasses.dataclass(frozen=True, kw_only=True)
class SearchOptions:
    """What one ranking keeps: how many, above which bars, among which files.

    ``min_score`` cuts on the calibrated relevance, ``min_similarity`` on the raw cosine
    (the default view's nonsense floor, ``search/relevance.py``); ``within`` limits the
    search to these files (the ones whose text holds a quoted phrase); ``share`` gives a
    composed query's image share of a matched vector (``Hit.image_share``); ``regions=False``
    matches whole pictures and video frames only; ``hubness=False`` turns the hubness
    correction off for this search.
    """

    limit: int = 20
    filters: Filters = Filters()
    min_score: float | None = None
    exclude: frozenset[int] = frozenset()
    hubness: bool = True
    min_similarity: float | None = None
    within: frozenset[int] | None = None
    share: Callable[[np.ndarray], float | None] | None = None
    regions: bool = True
    allowed: frozenset[int] | None = None  # set by the ranking: the files the filters leave


def search_vector(vec: np.ndarray, store: Store, ann: AnnIndex, options: SearchOptions = SearchOptions(),
                  stats: GalleryStats | None = None, hub_alpha: float = HUB_ALPHA) -> list[Hit]:
    """Best photos and video moments for ``vec`` under ``options``, most relevant first."""
    cut, limit, min_similarity = options, options.limit, options.min_similarity
    if not options.hubness:
        hub_alpha = 0.0
    if options.filters.is_set() or options.within is not None:
        allowed = {r.id for r in store.filtered(options.filters)}
        if options.within is not None:
            allowed &= options.within
        if not allowed:
            return []
        n_vec = store.vector_count_of(allowed)
        if n_vec <= EXACT_MAX_VECTORS or n_vec <= EXACT_FRACTION * max(len(ann), 1):
            ids, vecs = store.vectors_of_files(allowed)
            return _rank(vec, ids, vecs, store, cut, stats, hub_alpha)
        cut = dataclasses.replace(cut, allowed=frozenset(allowed))
    k = max(limit * 4, 32)
    while True:
        ids, sims = ann.search(vec, k)
        # the candidates' vectors only where the ranking needs more than their similarity
        # (hubness, a composed query's image share): reading them cost 7 ms at 100k items
        vecs = None
        if hub_alpha or cut.share:
            try:
                vecs = ann.vectors(ids)
            except KeyError:  # a removal let a candidate's vector go since the search: once more
                ids, sims = ann.search(vec, k)
                vecs = ann.vectors(ids)
        hits = _rank(vec, ids, vecs, store, cut, stats, hub_alpha, sims)
        if len(hits) >= limit or len(ids) < k or (min_similarity is not None and float(sims.min()) < min_similarity):
            return hits
        k *= 4


def _rank(vec: np.ndarray, ids: np.ndarray, vecs: np.ndarray | None, store: Store, cut: SearchOptions,
          stats: GalleryStats | None, alpha: float, sims: np.ndarray | None = None) -> list[Hit]:
    """``sims``: the candidates' similarities to ``vec`` where known (else from ``vecs``)."""
    if len(ids) == 0:
        return []
    sims = vecs @ vec if sims is None else np.asarray(sims, np.float32)
    adjusted = sims.copy()
    sample_scores = np.zeros(0, np.float32)
    if stats is not None and len(stats.sample):
        sample_scores = stats.sample @ vec
        if alpha:
            adjusted = sims - alpha * hub_scores(vecs, stats.bank)
            sample_scores = sample_scores - alpha * stats.sample_hub
    top = np.argsort(-adjusted)[: max(cut.limit * 8, 256)]
    rows = store.vector_rows([int(ids[i]) for i in top])
    regional = np.array([rows[int(ids[i])].box is not None if int(ids[i]) in rows else False for i in top], bool)
    if regional.any() and len(sample_scores) >= 2:  # a region counts when it beats the whole by a margin
        adjusted[top[regional]] -= REGION_MARGIN * spread(sample_scores)[1]
    order = top[np.argsort(-adjusted[top], kind="stable")]
    rel = relevance(adjusted, sample_scores)
    files = store.files_by_id({r.file_id for r in rows.values()})
    best: dict[tuple[int, float | None], Hit] = {}
    for i in order:
        row = rows.get(int(ids[i]))
        if row is None or (cut.min_score is not None and rel[i] < cut.min_score) or (row.box and not cut.regions):
            continue
        if cut.min_similarity is not None and sims[i] < cut.min_similarity:
            continue
        f = files.get(row.file_id)
        if f is None or f.status != "ok" or f.id in cut.exclude or (cut.allowed is not None and f.id not in cut.allowed):
            continue
        key = (f.id, row.start if f.kind == "video" else None)
        if key in best:
            continue  # best first: the first frame seen is the moment's best, a photo's best part
        best[key] = Hit(path=f.path, score=float(rel[i]), kind=f.kind, timestamp=row.ts, start=row.start, end=row.end,
                        file_id=f.id, width=f.width, height=f.height, taken_at=f.taken_at, camera=f.camera,
                        similarity=float(sims[i]), file_date=f.mtime, region=row.box,
                        image_share=cut.share(vecs[i]) if cut.share else None)
        if len(best) >= cut.limit:
            break
    return _with_whole_scores(list(best.values()), vec, store, stats, alpha, sample_scores)


def _with_whole_scores(hits: list[Hit], vec: np.ndarray, store: Store, stats: GalleryStats | None, alpha: float,
                       sample_scores: np.ndarray) -> list[Hit]:
    """Hits that matched by a region also carry their whole photo's score ("why it matched")."""
    wholes = store.whole_vectors([h.file_id for h in hits if h.region is not None])
    if not wholes:
        return hits
    fids = list(wholes)
    mat = np.stack([wholes[f] for f in fids])
    scores = mat @ vec
    if alpha and stats is not None and len(stats.bank):
        scores = scores - alpha * hub_scores(mat, stats.bank)
    whole = dict(zip(fids, relevance(scores, sample_scores).tolist(), strict=True))
    return [dataclasses.replace(h, whole_score=whole.get(h.file_id)) if h.region is not None else h for h in hits]
