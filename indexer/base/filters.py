"""Restricting results by what the library knows of each file (the query's filters).

Plain data: the store turns it into SQL (``Store.filtered``), so no other module writes SQL.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Filters:
    """Restrict results by file facts; combined with vector search without losing hits."""

    kind: str = "all"  # "all" | "photo" | "video"
    after: float | None = None  # epoch seconds; capture time, else file mtime
    before: float | None = None
    folder: str | None = None  # only under this folder
    camera: str | None = None  # case-insensitive substring of "Make Model"
    has_gps: bool | None = None
    min_size: int | None = None  # pixels on the short side
    extensions: tuple[str, ...] = ()  # e.g. ("jpg", "heic")
    has_text: bool | None = None  # words were read in it (the text pass, textpass.py)

    def is_set(self) -> bool:
        return self != Filters(kind=self.kind) or self.kind != "all"
