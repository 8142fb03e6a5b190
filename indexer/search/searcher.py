"""Searching one library with one model: the query vector, the relevance bar, the words read in
pictures, and the ranking (``rank.py``) put together.

A ``Searcher`` holds what a search reuses (the gallery sample, the nonsense bar, the
reference query bank) for the model it was made with; ``Library`` makes a new one when
the model or the settings change, and holds its lock while one runs, so a model switch's
flip never lands in the middle of a search.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from indexer.ann.index import AnnIndex
from indexer.base.config import Settings
from indexer.base.isolation import Guard
from indexer.model.encoder import Encoder
from indexer.search.query import DIRECT, Query, QueryVector, encode_texts, query_parts, weighted
from indexer.search.rank import GalleryStats, Hit, SearchOptions, search_vector
from indexer.search.relevance import Floors, NonsenseBar
from indexer.search.words import line_in_moment, parse, phrase_matches, text_hits, with_text, word_matches
from indexer.store.database import Store


class Results(list):
    """Hits, best first; ``no_good_matches`` when the words match nothing better than nonsense does;
    ``more_below`` when the default view's relevance bar held back items that would have fit
    (a weak text tower can rate real matches of a broad description under it: issue #38), so a
    client can offer to show everything."""

    def __init__(self, hits=(), no_good_matches: bool = False, more_below: bool = False) -> None:
        super().__init__(hits)
        self.no_good_matches = no_good_matches
        self.more_below = more_below


def fresh(ann: AnnIndex, store: Store) -> AnnIndex:
    """The ANN index, caught up with writes made since (by us or another process); a rebuild
    that this makes due is left to the writer, so a search never waits for one."""
    if ann.version != store.version():
        ann.catch_up(store, rebuild=False)
    return ann


class Searcher:
    """Searches with one model; thread-safe."""

    def __init__(self, store: Store, encoder: Encoder, ann: AnnIndex, settings: Callable[[], Settings],
                 save_bar: Callable[[str], None], bank_texts: tuple[str, ...] | None = None,
                 guard: Guard = DIRECT) -> None:
        self.store, self.encoder, self.ann = store, encoder, ann
        self.guard = guard  # how example pictures are decoded (in the app: in a worker process)
        self._settings = settings  # the library's, read at each search (a cutoff may change meanwhile)
        self._save_bar = save_bar  # keeps the nonsense bar in the library for the next process
        self._bank_texts = bank_texts
        self._bank: np.ndarray | None = None
        self._nonsense: NonsenseBar | None = None
        self.stats = GalleryStats(ann.folder / "sample.npz")  # kept beside this model's index
        self._lock = threading.RLock()

    @property
    def settings(self) -> Settings:
        return self._settings()

    def query_bank(self) -> tuple[tuple[str, ...], np.ndarray]:
        """(texts, unit vectors) of the reference query bank, encoded once per model."""
        with self._lock:
            if self._bank is None:
                from indexer.model.prompts import SUBJECTS

                self._bank_texts = self._bank_texts or SUBJECTS
                self._bank = encode_texts(self.encoder, list(self._bank_texts), self.settings.templates)
            return self._bank_texts or (), self._bank

    def query_vector(self, query: Query) -> np.ndarray:
        """The unit vector a query searches with (exposed for benchmarks and tools)."""
        return self._query_parts(query).vec

    def _query_parts(self, query: Query) -> QueryVector:
        bank = self.query_bank() if query.method == "pdv" and query.images and query.text else None
        return query_parts(query, self.encoder, self.settings.templates, bank, self._spread(), self.guard)

    def _share(self, parts: QueryVector) -> Callable[[np.ndarray], float | None] | None:
        """A composed query: how much of a matched vector's score the example image gave, against
        the words (each part measured above what it typically gives an item of this library)."""
        if parts.image is None or parts.words is None:
            return None
        sample = self.stats.refresh(self.store, None).sample
        typical = [float(np.median(sample @ p)) if len(sample) >= 8 else 0.0 for p in (parts.image, parts.words)]

        def share(v: np.ndarray) -> float | None:
            img, words = (max(float(v @ p) - t, 0.0) for p, t in zip((parts.image, parts.words), typical, strict=True))
            return img / (img + words) if img + words > 0 else None

        return share

    def _spread(self):
        """The spread of the library's scores for a vector (composition calibrates with it), or None."""
        sample = self.stats.refresh(self.store, None).sample
        if len(sample) < 8:
            return None
        return lambda v: float(np.std(sample @ v))

    def search(self, query: Query) -> Results:
        """Photos and video moments for ``query``, most relevant first.

        The default view (no ``min_score``) of a text query shows what stands out for these
        words more than anything stands out for nonsense (``_nonsense_floors``): a partial
        description keeps the many items it singles out; words that single out nothing get
        an empty result with ``no_good_matches`` set, and ``min_score=0`` shows everything
        anyway. An explicit ``min_score`` (or the library's ``Settings.min_score``) cuts on
        the calibrated relevance as asked; an example image is never cut by default.
        """
        tq = parse(query.text)
        within = phrase_matches(self.store, tq.phrases)  # None: no quoted phrase to hold
        if query.text_only or (within is not None and not tq.words and not query.images):
            return Results(text_hits(self.store, tq, query.effective_filters(), query.limit, within))
        if within is not None and not within:
            return Results([])
        query = dataclasses.replace(query, text=tq.semantic_text or None)
        parts = self._query_parts(query)
        vec = parts.vec
        min_score = query.min_score if query.min_score is not None else self.settings.min_score
        # The example image itself is not an answer to "more like this" or "this, but ...".
        own = {r.id for p in query.images if (r := self.store.file(str(Path(weighted(p)[0]).expanduser().resolve())))}
        floors = self._nonsense_floors(vec) if min_score is None and not query.images and within is None else None
        words = {} if query.images or within is not None else word_matches(self.store, tq.words)
        if floors is not None and fresh(self.ann, self.store).search(vec, 1)[1][0] <= floors.best and not words:
            return Results([], no_good_matches=True)  # nothing stands out more than it does for nonsense
        base = SearchOptions(filters=query.effective_filters(), exclude=frozenset(own), hubness=query.hubness,
                             share=self._share(parts), regions=not query.images)  # an example photo is compared whole

        def find(limit: int, **cut: Any) -> list[Hit]:
            return self.search_vector(vec, dataclasses.replace(base, limit=limit, **cut))

        hits = find(query.limit, min_score=min_score, min_similarity=floors.items if floors else None,
                    within=frozenset(within) if within is not None else None)
        if within:
            return Results([with_text(h, within.get(h.file_id)) for h in hits])
        if words:  # pictures showing the words: their picture score, raised by the words found
            seen = {(h.file_id, h.start) for h in hits}
            hits += [h for h in find(4 * len(words) + query.limit, min_score=0.0, within=frozenset(words))
                     if (h.file_id, h.start) not in seen]
            hits = [with_text(h, line_in_moment(h, words)) for h in hits]
            hits = sorted((h for h in hits if min_score is None or h.score >= min_score), key=lambda h: -h.score)
        more = floors is not None and len(hits) < query.limit and len(find(len(hits) + 1)) > len(hits)
        return Results(hits[: query.limit], more_below=more)

    def _nonsense_floors(self, vec: np.ndarray) -> Floors | None:
        """The default view's floors for this text query (``search/relevance.py``)."""
        with self._lock:
            if self._nonsense is None:  # made again whenever the model or the settings change
                self._nonsense = NonsenseBar(
                    json.dumps([self.encoder.id, list(self.settings.templates)]),
                    lambda texts: encode_texts(self.encoder, texts, self.settings.templates),
                    lambda: self.store.get_meta("null_margin"), self._save_bar)
            bar = self._nonsense
        return bar.floors(vec, fresh(self.ann, self.store), self.stats.refresh(self.store, None).sample)

    def search_vector(self, vec: np.ndarray, options: SearchOptions = SearchOptions()) -> list[Hit]:
        ann = fresh(self.ann, self.store)
        alpha = self.settings.hub_alpha if options.hubness else 0.0
        stats = self.stats.refresh(self.store, self.query_bank()[1] if alpha else None)
        return search_vector(vec, self.store, ann, options, stats, alpha)
