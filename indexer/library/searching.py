"""A library's search side: the active model's ``Searcher``, made again when the model or settings
change, and the searches built on it (by words, by vector, more like this, duplicates)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import numpy as np

from indexer.base.errors import LibraryBusy, LibraryError
from indexer.base.paths import display
from indexer.indexing.duplicates import duplicate_groups
from indexer.library.core import Core
from indexer.search.ordering import order
from indexer.search.query import Query
from indexer.search.rank import Hit, SearchOptions
from indexer.search.searcher import Results, Searcher, fresh

T = TypeVar("T")


class LibrarySearch:
    """Searches of one library. Takes the library's ``lock`` only, never its write lock: the
    relevance bar a search measures is stored after the lock is let go (see ``core.py``)."""

    def __init__(self, core: Core) -> None:
        self._core = core
        self._searcher: Searcher | None = None
        self._made_at = -1  # the core's generation the searcher was made for
        self._bank_texts: tuple[str, ...] | None = None
        self._bar_to_save: str | None = None

    def searcher(self) -> Searcher:
        """Search with the active model (made again when the model or the settings change)."""
        core = self._core
        core.follow()
        while True:
            generation = core.generation
            embedder, ann = core.embedder, core.ann  # loaded outside the lock
            with core.lock:
                if core.generation != generation:  # a flip or new settings came between: read them again
                    continue
                if self._searcher is None or self._made_at != generation:
                    self._searcher = Searcher(core.store, embedder, ann, lambda: core.settings, self._keep_bar,
                                              self._bank_texts, core.looks)
                    self._made_at = generation
                return self._searcher

    def set_query_bank(self, texts: list[str] | tuple[str, ...]) -> None:
        """Reference queries for hubness correction and reference captions (default: everyday subjects)."""
        with self._core.lock:
            self._bank_texts = tuple(texts)
            self._searcher = None

    def search(self, query: Query) -> Results:
        """Photos and video moments for ``query``, most relevant first (``search/searcher.py``)."""
        hits = self._locked(lambda searcher: searcher.search(query))
        return Results(order(hits, query.sort), no_good_matches=hits.no_good_matches, more_below=hits.more_below)

    def prepare(self) -> None:
        """Load what a search needs (the index, the text tower, the calibration) by running one,
        so that the first search a person types answers at once. Not the reference query
        bank: only hubness correction and prompt-directional composition use it, both off by
        default, and encoding it took 2.6 s of a 4.6 s window start at 100k items. The
        tokenizer's rarely needed parts are loaded too: loading them later freezes every thread."""
        self._core.embedder.prepare_texts()
        self.search(Query(text="a photo", limit=1))

    def query_bank(self) -> tuple[tuple[str, ...], np.ndarray]:
        return self.searcher().query_bank()

    def query_vector(self, query: Query) -> np.ndarray:
        """The unit vector a query searches with (exposed for benchmarks and tools)."""
        return self.searcher().query_vector(query)

    def by_vector(self, vec: np.ndarray, options: SearchOptions = SearchOptions()) -> list[Hit]:
        """The items nearest ``vec`` under ``options`` (the rank step without a query's words)."""
        return self._locked(lambda searcher: searcher.search_vector(vec, options))

    def similar(self, path: str, limit: int = 20) -> list[Hit]:
        """More like this: neighbours of an indexed file's own vector, whole photo to whole photo."""
        store = self._core.store
        row = store.file(path)
        if row is None or row.status != "ok":
            raise LibraryError(f"{display(path)} is not indexed")
        vec = sum(v for _, v, _ in store.vectors_of(row.id))
        vec = vec / max(float((vec ** 2).sum()) ** 0.5, 1e-12)
        return self.by_vector(vec, SearchOptions(limit=limit, min_score=0.0, exclude=frozenset({row.id}), regions=False))

    def duplicates(self, threshold: float = 0.95, k: int = 8) -> list[list[str]]:
        """Groups of near-duplicate photos (cosine >= ``threshold``), biggest first."""
        return duplicate_groups(self._core.store, fresh(self._core.ann, self._core.store), threshold, k)

    def _locked(self, run: Callable[[Searcher], T]) -> T:
        """``run`` with the current searcher under the lock: a model switch's flip waits, and a flip that
        came between making the searcher and taking the lock makes it again (no search mixes two models)."""
        while True:
            searcher = self.searcher()
            with self._core.lock:
                if self._searcher is searcher and self._made_at == self._core.generation:
                    out = run(searcher)
                    break
        self._save_bar()
        return out

    def _keep_bar(self, record: str) -> None:
        self._bar_to_save = record

    def _save_bar(self) -> None:
        """Keep the nonsense bar for later processes, unless another process is writing (it is only a cache)."""
        record, self._bar_to_save = self._bar_to_save, None
        if record is None:
            return
        try:
            with self._core.writing(wait=False):
                self._core.store.set_meta("null_margin", record)
        except LibraryBusy:
            pass
