"""Results in date order, and grouped by month: "the beach in summer 2023" as a timeline.

A result's date is when the photo was taken (EXIF), else the file's date (marked as such,
``Hit.date_is_file_date``). Date order keeps exactly the results the relevance view shows
(the same cutoff), only in another order; results with no date at all come last.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from indexer.search.rank import Hit

SORTS = ("relevance", "newest", "oldest")


def order(hits: Sequence[Hit], sort: str) -> list[Hit]:
    """``hits`` (best first) in the order asked for; ties keep relevance order."""
    if sort not in SORTS:
        raise ValueError(f"sort must be one of {', '.join(SORTS)}, not {sort!r}")
    if sort == "relevance":
        return list(hits)
    dated = [h for h in hits if h.when is not None]
    undated = [h for h in hits if h.when is None]
    return sorted(dated, key=lambda h: h.when, reverse=sort == "newest") + undated


def by_month(hits: Sequence[Hit]) -> list[tuple[str, list[Hit]]]:
    """Consecutive runs of one month, labelled like "March 2024 · 14" ("No date · 3" last)."""
    groups: list[tuple[str, list[Hit]]] = []
    for h in hits:
        key = dt.datetime.fromtimestamp(h.when).strftime("%B %Y") if h.when is not None else "No date"
        if groups and groups[-1][0] == key:
            groups[-1][1].append(h)
        else:
            groups.append((key, [h]))
    return [(f"{key} · {len(items)}", items) for key, items in groups]
