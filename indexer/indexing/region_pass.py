"""The regions pass: region vectors (regions.py) for indexed photos that do not have them yet.

Runs after indexing when regions are turned on for a library that already holds photos
(new photos get their regions while they are indexed). Photos come from the store's list of
large photos without regions for the active model, are decoded in a small pool ahead of
the encoder, and are committed per chunk, so a kill loses at most one chunk and the next
pass resumes with what is still missing.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from typing import Any

from indexer.base.config import Settings
from indexer.base.progress import BackgroundPass, Phase
from indexer.indexing.embedding import encode_all
from indexer.indexing.pictures import decode_pictures, decoded_or_set_aside
from indexer.media import regions
from indexer.media.decode import reason_for
from indexer.model.encoder import Encoder
from indexer.store.database import FileRow, Store, VectorIn

log = logging.getLogger(__name__)
CHUNK = 16


@dataclasses.dataclass(frozen=True)
class RegionReport:
    done: int = 0  # photos given their regions in this pass
    vectors: int = 0  # region vectors added
    failed: int = 0  # photos that could not be read now (tried again next pass)
    cancelled: bool = False
    seconds: float = 0.0

    def summary(self) -> str:
        if not self.done:
            return ""
        return f"regions: {self.vectors} region vectors for {self.done} large photos ({self.seconds:.1f}s)"


@dataclasses.dataclass
class _Cropped:
    row: FileRow
    boxes: list[regions.Box]
    pixels: list[Any]


@dataclasses.dataclass(kw_only=True)
class RegionPass(BackgroundPass):
    phase = Phase.REGIONS
    store: Store
    embedder: Encoder  # the active model's
    settings: Settings

    def run(self) -> RegionReport:
        start = time.monotonic()
        todo = self.store.files_missing_regions(self.store.model, self.min_side())
        done = vectors = failed = 0
        for ok, unread in self._in_chunks(todo, self._crop, self.settings.decode_workers, "glimpse-regions", start,
                                          CHUNK):
            n_done, n_vec = self._write(ok)
            done, vectors, failed = done + n_done, vectors + n_vec, failed + unread
        self._progress(len(todo), len(todo), start, None, phase=Phase.DONE)
        return RegionReport(done, vectors, failed, self.cancel.is_set(), time.monotonic() - start)

    def min_side(self) -> int:
        return math.ceil(regions.MIN_FACTOR * self.embedder.image_size)

    def _crop(self, row: FileRow) -> _Cropped | None:
        """One photo's regions, preprocessed; None if it cannot be read now."""
        try:
            size = self.embedder.image_size
            pics = decoded_or_set_aside(self.guard, self.store, row, decode_pictures, "photo", self.settings, size, size,
                                        True)
            if pics is None:
                return None
            return _Cropped(row, pics.boxes[1:], [self.embedder.preprocess(im) for im in pics.images[1:]])
        except Exception as e:  # noqa: BLE001 - one file's problem never stops the pass
            log.info("regions: %s: %s", row.path, reason_for(e))
            return None

    def _write(self, photos: list[_Cropped]) -> tuple[int, int]:
        vecs = encode_all(self.embedder, [px for c in photos for px in c.pixels], self.settings.batch_size)
        done = added = k = 0
        with self.store.transaction():
            for c in photos:
                mine = [VectorIn(v, box=b) for v, b in zip(vecs[k:k + len(c.boxes)], c.boxes, strict=True)]
                k += len(c.boxes)
                if self.store.put_regions(c.row.id, self.store.model, mine, c.row.mtime):
                    done, added = done + 1, added + len(mine)
        return done, added
