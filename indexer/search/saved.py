"""Coming back later: recent searches, and saved searches ("smart albums") that count what is new.

Both live in the library (``searches`` table), not in the GUI's settings, so the CLI, the app
and another computer opening the same library see them. A saved search re-runs against the
library as it is now; "new" are the files it shows that it did not show when last opened.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

from indexer.search.query import Query
from indexer.search.rank import Hit
from indexer.store.database import Store

TYPING_S = 5.0


def _typed_on(before: Query, after: Query) -> bool:
    """``after`` is ``before`` with words typed on, or a little deleted at the end, all else the same.

    A little: at most half. Clearing the field and typing a new search that starts with the
    same letter ("a blue circle", then "a" of "a red star") is a new search, not an edit,
    and must not take the earlier one out of Recent (the window test caught it once searches
    ran as typed with a shorter pause).
    """
    a, b = (before.text or "").strip(), (after.text or "").strip()
    same_rest = dataclasses.replace(before, text=None) == dataclasses.replace(after, text=None)
    return same_rest and a != b and (b.startswith(a) or (a.startswith(b) and 2 * len(b) >= len(a)))


@dataclasses.dataclass(frozen=True)
class SavedSearch:
    name: str
    query: Query
    opened: float  # when last opened (epoch seconds)
    seen: frozenset[int]  # file ids it showed then

    def new_in(self, hits: list[Hit]) -> list[Hit]:
        """The results it did not show when last opened."""
        return [h for h in hits if h.file_id not in self.seen]


class Searches:
    """Recent and saved searches of one library; ``run`` is the library's search."""

    def __init__(self, store: Store, run: Callable[[Query], list[Hit]]) -> None:
        self.store, self.run = store, run
        self._last: tuple[Query, float] | None = None  # the last one remembered here, and when

    def remember(self, query: Query) -> None:
        """A search just run joins the recent ones. One typed on from the previous within
        ``TYPING_S`` ("a do" → "a dog") replaces it: the app searches as a person types, and
        Recent should hold what they looked for, not every prefix on the way."""
        if query.is_empty():
            return
        now = time.monotonic()
        if self._last is not None and now - self._last[1] < TYPING_S and _typed_on(self._last[0], query):
            self.store.forget_search(self._last[0].to_json())
        self.store.remember_search(query.to_json())
        self._last = (query, now)

    def recent(self, limit: int = 20) -> list[Query]:
        return [Query.from_json(q) for q in self.store.recent_searches(limit)]

    def save(self, name: str, query: Query) -> SavedSearch:
        """Keep ``query`` as ``name``; what it shows now is "seen"."""
        name = name.strip()
        if not name:
            raise ValueError("a saved search needs a name")
        seen = frozenset(h.file_id for h in self.run(query))
        self.store.save_search(name, query.to_json(), sorted(seen))
        return self.get(name)

    def saved(self) -> list[SavedSearch]:
        return [SavedSearch(n, Query.from_json(q), used, frozenset(seen))
                for n, q, used, seen in self.store.saved_searches()]

    def get(self, name: str) -> SavedSearch:
        for s in self.saved():
            if s.name == name:
                return s
        raise KeyError(name)

    def counts(self) -> list[tuple[SavedSearch, int]]:
        """Each saved search with how many of its results are new since it was last opened."""
        return [(s, len(s.new_in(self.run(s.query)))) for s in self.saved()]

    def open(self, name: str) -> tuple[list[Hit], list[Hit]]:
        """Run a saved search now: (its results, those that are new); they count as seen after."""
        s = self.get(name)
        hits = self.run(s.query)
        new = s.new_in(hits)
        self.store.mark_search_seen(name, sorted(s.seen | {h.file_id for h in hits}))
        return hits, new

    def delete(self, name: str) -> bool:
        return self.store.delete_search(name)
