"""Saved searches ("smart albums") beside the results, each with its count of new matches,
and a "Recent" menu of the last searches. Both come from the library (``Library.searches``)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QInputDialog, QLabel, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget

from desktop.workers import Worker, start
from indexer import Query, SavedSearch


class SavedPanel(QWidget):
    """A list of saved searches: click one to run it again; "Save this search…" adds the current one."""

    open_requested = Signal(str)  # a saved search's name
    save_requested = Signal(str)  # the name to save the current search as

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.list = QListWidget()
        self.list.itemActivated.connect(lambda it: self.open_requested.emit(it.data(Qt.ItemDataRole.UserRole)))
        self.list.itemClicked.connect(lambda it: self.open_requested.emit(it.data(Qt.ItemDataRole.UserRole)))
        self.save_button = QPushButton("Save this search…")
        self.save_button.clicked.connect(self._ask_name)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(QLabel("<b>Saved searches</b>"))
        lay.addWidget(self.list, 1)
        lay.addWidget(self.save_button)
        self.setMaximumWidth(240)
        self.queries: dict[str, Query] = {}  # each shown search's query, by name

    def show_counts(self, rows: list[tuple[SavedSearch, int]]) -> None:
        self.list.clear()
        self.queries = {saved.name: saved.query for saved, _ in rows}
        for saved, new in rows:
            it = QListWidgetItem(f"{saved.name}" + (f"  ·  {new} new" if new else ""))
            it.setData(Qt.ItemDataRole.UserRole, saved.name)
            it.setToolTip(saved.query.describe())
            if new:
                font = it.font()
                font.setBold(True)
                it.setFont(font)
            self.list.addItem(it)
        self.setVisible(bool(rows) or self.isVisible())

    def _ask_name(self) -> None:
        name, ok = QInputDialog.getText(self, "Save this search", "Name:")
        if ok and name.strip():
            self.save_requested.emit(name.strip())


class SavedSearches:
    """The window's saved searches: counts refreshed, the current search saved, one opened again."""

    def __init__(self, window) -> None:
        self.win = window

    def refresh(self) -> None:
        """Each saved search re-run for its count of new matches (in a worker)."""
        w = Worker(self.win.library.searches.counts)
        w.signals.result.connect(lambda rows: not self.win.runner.closing and self.win.saved.show_counts(rows))
        start(w)

    def save(self, name: str) -> None:
        win = self.win
        q = win.bar.current_query()
        if q.is_empty():
            win.status.say("Search for something first, then save it")
            return
        w = Worker(win.library.searches.save, name, q)
        w.signals.result.connect(lambda _: (win.status.say(f"Saved as “{name}”"), self.refresh()))
        w.signals.error.connect(lambda e: win.status.say(f"Could not save the search: {e}"))
        start(w)

    def open(self, name: str, gen: int) -> None:
        """Run a saved search again: its query back in the bar, its new matches counted as seen.

        The query goes in the bar at once, and a search still waiting for the typing pause is
        dropped: a search the window runs meanwhile (the library changed) then runs these words,
        not the ones the person had typed before clicking (the saved-view test caught that race)."""
        win, searches = self.win, self.win.library.searches
        win.bar.stop_pending()
        if name in win.saved.queries:
            win.bar.set_query(win.saved.queries[name])
        w = Worker(lambda: (searches.get(name).query, *searches.open(name)))
        w.signals.result.connect(lambda got: self._opened(name, *got) if gen == win.runner.generation else None)
        w.signals.error.connect(lambda e: win.status.say(f"Could not run “{name}”: {e}"))
        start(w)

    def _opened(self, name: str, query, hits, new) -> None:
        win = self.win
        win.bar.set_query(query)
        win.runner.show_hits(hits)
        win.status.say(f"“{name}”: {len(hits)} results, {len(new)} new since you last opened it")
        self.refresh()
