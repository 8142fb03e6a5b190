"""A model switch's background pass: embed every indexed file with the new (target) model.

The library keeps answering with its active model meanwhile: the target's vectors are
stored beside the active ones (``vectors.model``) and are not searched until they cover
the library (``Library.switch.reembed`` then flips). Files are taken from the store's list of
those without target vectors, decoded once (in a small pool, ahead of the encoder),
encoded in batches and committed per batch, so a kill loses at most one batch and the
next pass resumes with what is still missing; a file is never embedded twice.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any

import numpy as np

from indexer.base.config import Settings
from indexer.base.progress import BackgroundPass, Phase
from indexer.indexing.embedding import encode_all, frame_vectors
from indexer.indexing.pictures import decode_pictures, decoded_or_set_aside
from indexer.media.decode import reason_for
from indexer.media.regions import Box
from indexer.model.encoder import Encoder
from indexer.store.database import FileRow, Store

log = logging.getLogger(__name__)
CHUNK = 16  # files decoded ahead per round; a kill loses at most one round


@dataclasses.dataclass(frozen=True)
class ReembedReport:
    done: int = 0  # files embedded with the target model in this pass
    failed: int = 0  # files that could not be read now (tried again next pass)
    remaining: int = 0  # indexed files still without target vectors
    cancelled: bool = False
    seconds: float = 0.0

    def summary(self) -> str:
        left = f"; {self.remaining} to go" if self.remaining else "; the new model is now active"
        return f"re-embedded {self.done} files for the new model ({self.seconds:.1f}s){left}"


@dataclasses.dataclass
class _Decoded:
    row: FileRow
    pixels: list[Any]
    ts: list[float | None]
    duration: float | None
    boxes: list[Box | None] | None = None  # a photo: None for the whole picture, then its regions' boxes
    regions: bool = False  # its regions were made (regions.py)


@dataclasses.dataclass(kw_only=True)
class ReembedPass(BackgroundPass):
    phase = Phase.REEMBEDDING
    store: Store
    embedder: Encoder  # the target model's
    model: str  # its id, as stored in vectors.model
    settings: Settings

    def run(self) -> ReembedReport:
        start = time.monotonic()
        todo = self.store.files_missing_model(self.model)
        done = failed = 0
        for ok, unread in self._in_chunks(todo, self._decode, self.settings.decode_workers, "glimpse-reembed", start,
                                          CHUNK):
            failed += unread
            done += self._write(ok, self._encode(ok))
        covered, total = self.store.coverage(self.model)
        remaining = total - covered
        self._progress(len(todo), len(todo), start, None, phase=Phase.DONE)
        return ReembedReport(done, failed, remaining, self.cancel.is_set(), time.monotonic() - start)

    def _decode(self, row: FileRow) -> _Decoded | None:
        """One file, decoded once for the target model; None if it cannot be read now."""
        try:
            size = self.embedder.image_size
            pics = decoded_or_set_aside(self.guard, self.store, row, decode_pictures, row.kind, self.settings, size,
                                        size, self.settings.regions)
            if pics is None:
                return None
            return _Decoded(row, [self.embedder.preprocess(im) for im in pics.images], pics.ts,
                            row.duration if row.kind == "video" else None, pics.boxes, pics.regions)
        except Exception as e:  # noqa: BLE001 - one file's problem never stops the switch
            log.info("re-embedding: %s: %s", row.path, reason_for(e))
            return None

    def _encode(self, files: list[_Decoded]) -> np.ndarray:
        return encode_all(self.embedder, [px for d in files for px in d.pixels], self.settings.batch_size)

    def _write(self, files: list[_Decoded], vecs: np.ndarray) -> int:
        written, k = 0, 0
        with self.store.transaction():
            for d in files:
                mine = vecs[k:k + len(d.pixels)]
                k += len(d.pixels)
                vectors = frame_vectors(d.row.kind, d.ts, mine, d.duration, boxes=d.boxes)
                written += self.store.put_model_vectors(d.row.id, self.model, vectors, d.row.mtime, d.regions)
        return written
