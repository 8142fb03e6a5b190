"""Running the window's searches: one at a time, the newest query next, stale results dropped by
generation; the start page when there is nothing to search for."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from desktop.files import qimage_of
from desktop.indexstatus import IndexStatus
from desktop.preview import Preview
from desktop.results import ResultsView
from desktop.searchbar import CHIP_SIDE, SearchBar
from desktop.workers import Worker, each, start
from indexer import Hit, Library


class SearchRunner(QObject):
    """The search side of the window. ``searched`` fires with the hits shown after every search."""

    searched = Signal(list)

    def __init__(self, library: Library, bar: SearchBar, results: ResultsView, preview: Preview, status: IndexStatus,
                 model_failed: Callable[[], bool]) -> None:
        super().__init__(bar)
        self.library, self.bar, self.results, self.preview, self.status = library, bar, results, preview, status
        self._model_failed = model_failed  # its explanation stays on the page until a model loads
        self.ready = False  # the model is loaded: searches run
        self.closing = False  # late results are dropped once the window closes
        self.generation = 0
        self.searching = self._again = False  # a search is running / another was asked for meanwhile
        self.last_search_ms = 0.0  # the last search's time in the engine (the typing pause follows it)
        bar.chip_pictures_wanted.connect(self._load_chips)

    def next_generation(self) -> int:
        """A newer search (or a saved one opened) has started: results of older ones are dropped."""
        self.generation += 1
        return self.generation

    def run(self) -> None:
        self.bar.stop_pending()
        self.bar.update_strength_visibility()
        q = self.bar.current_query()
        if q.is_empty():
            self.show_start_page()
            return
        if not self.ready:
            self.status.say("Loading model… your search will run when it is ready")
            return
        gen = self.next_generation()
        if self.searching:  # one search at a time: the newest query runs when this one ends
            self._again = True
            return
        self.searching, self._again = True, False
        w = Worker(self._search_and_remember, q)
        w.signals.result.connect(lambda got: self._searched(*got) if gen == self.generation else None)
        w.signals.error.connect(lambda e: self.status.say(f"Search failed: {e}"))
        w.signals.finished.connect(self._ended)
        start(w)

    def _ended(self) -> None:
        """Searches typed meanwhile are one: the field as it is now runs next (searches queued
        behind each other made typing at 100,000 items slower: bench/bench_gui.py)."""
        self.searching = False
        if self._again and not self.closing:
            self._again = False
            self.run()

    def _search_and_remember(self, q):
        """Off the UI thread: the search, then it joins the recent ones (kept in the library)."""
        t = time.perf_counter()
        hits = self.library.search(q)
        ms = (time.perf_counter() - t) * 1000
        self.library.searches.remember(q)
        return hits, self.library.searches.recent(), ms

    def _searched(self, hits, recent, ms: float) -> None:
        self.last_search_ms = ms
        self.bar.fit_pause(None if not self.status.cancel_button.isHidden() else ms)  # indexing: the full pause
        self.bar.set_recent(recent)
        self.show_hits(hits)

    def show_hits(self, hits: list[Hit]) -> None:
        if self.closing:
            return
        nothing = getattr(hits, "no_good_matches", False)
        self.results.show_hits(hits, self.bar.threshold.value() / 100, months=self.bar.sort.currentIndex() > 0)
        if not hits:
            self.preview.hide()
            self.results.show_message(
                "<h3>No good matches</h3><p>Nothing in your library stands out for these words more "
                "than it would for made-up words.</p>" if nothing else
                "<h3>Nothing found</h3><p>Try other words, or lower the minimum score.</p>", everything=nothing)
        self.status.say("No good matches" if nothing else f"{len(hits)} results")
        self.status.offer_everything(bool(getattr(hits, "more_below", False)))
        self.searched.emit(hits)

    def show_everything(self) -> None:
        """One click past "no good matches": the same query with no cutoff at all."""
        self.bar.show_all = True
        self.run()

    def more_like_this(self, hit: Hit) -> None:
        if hit.kind == "photo":
            self.bar.set_query_images([Path(hit.path)])
            self.bar.search_field.clear()
            self.run()

    def _load_chips(self, paths: list[Path]) -> None:
        """The example images' chip pictures, decoded by the library off the UI thread, one by one."""
        w = Worker(each, paths, self._chip_picture, reports=True)
        w.signals.progress.connect(lambda got: self.bar.set_chip_picture(*got))
        start(w)

    def _chip_picture(self, path: Path) -> tuple[Path, QImage]:
        """Off the UI thread (``each``: a picture that cannot be shown keeps the file icon)."""
        return path, qimage_of(self.library.views.picture(str(path), 2 * CHIP_SIDE))

    def show_start_page(self) -> None:
        self.preview.hide()
        self.status.offer_everything(False)
        w = Worker(lambda: (self.library.roots(), self.library.status()))  # counts are SQL: off the UI thread
        w.signals.result.connect(lambda got: self._start_page(*got))
        start(w)

    def _start_page(self, roots: list, st) -> None:
        """The welcome or the library's counts; never over the model's failure, which says what to do
        first (the two are made in workers started together: the later used to win)."""
        if self.closing or self.bar.has_query() or self._model_failed():
            return
        if not roots:
            self.results.show_message("<h2>Welcome to Glimpse</h2><p>Add a folder of photos or videos. Glimpse "
                                      "indexes it in the background on this computer — nothing leaves it.</p>",
                                      button=True)
        else:
            self.results.show_message(f"<h3>{st.photos} photos and {st.videos} videos indexed</h3>"
                                      "<p>Type what you are looking for, or drop an example image.</p>")
