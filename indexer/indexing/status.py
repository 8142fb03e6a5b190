"""What a library holds, in numbers: for `glimpse status`, the Library dialog and scripts."""

from __future__ import annotations

import dataclasses

from indexer.indexing.switching import ModelState
from indexer.store.database import Store


@dataclasses.dataclass(frozen=True)
class RootStatus:
    path: str
    online: bool
    photos: int
    videos: int
    errors: int


@dataclasses.dataclass(frozen=True)
class Status:
    library: str
    model: str | None
    photos: int
    videos: int
    vectors: int
    errors: int
    roots: tuple[RootStatus, ...]
    text_read: int = 0  # pictures whose text was read
    text_found: int = 0  # of them, pictures with some text
    text_pending: int = 0  # indexed pictures not read yet
    models: ModelState | None = None
    region_vectors: int = 0  # photo regions (regions.py) of the active model
    region_photos: int = 0  # photos whose regions are made


def library_status(store: Store, folder: str, models: ModelState, text_pending: int) -> Status:
    roots = []
    for r in store.roots():
        c = store.root_counts(r.id)
        errs = sum(n for (k, s), n in c.items() if s == "error")
        roots.append(RootStatus(r.path, r.online, c.get(("photo", "ok"), 0), c.get(("video", "ok"), 0), errs))
    counts = store.counts()
    return Status(folder, models.active, counts.get("photo:ok", 0), counts.get("video:ok", 0),
                  counts.get("vectors", 0), sum(n for k, n in counts.items() if k.endswith(":error")),
                  tuple(roots), *store.text_read_count(), text_pending, models, *store.region_count())
