"""What a library holds, in numbers: for `glimpse status`, the Library dialog and scripts."""

from __future__ import annotations

import dataclasses

from indexer.indexing.switching import ModelState
from indexer.store.database import Store


@dataclasses.dataclass(frozen=True, kw_only=True)
class RootStatus:
    path: str
    online: bool
    photos: int
    videos: int
    errors: int


@dataclasses.dataclass(frozen=True, kw_only=True)
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
    roots = tuple(RootStatus(path=r.path, online=r.online, **store.root_counts(r.id)._asdict()) for r in store.roots())
    files, text, regions = store.counts(), store.text_read_count(), store.region_count()
    return Status(library=folder, model=models.active, photos=files.photos, videos=files.videos,
                  vectors=store.vector_count(), errors=files.errors, roots=roots, text_read=text.read,
                  text_found=text.found, text_pending=text_pending, models=models, region_vectors=regions.vectors,
                  region_photos=regions.photos)
