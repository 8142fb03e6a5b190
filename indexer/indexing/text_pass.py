"""The text pass: read the words in indexed pictures, after (never before) the embedding pass.

Search works as soon as the pictures are embedded; reading text is slower (a detector
pass per picture, recognition where it finds text), so it runs as a second pass over
files the store says are unread (``files.text_read``). Each file's text is committed on
its own, so a kill loses at most the file being read and the next pass resumes where it
stopped. The pass yields to the embedding pass: ``should_yield`` (the watcher: "new files
arrived") ends it between files, and the next pass picks up the rest.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections import Counter, deque
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from indexer.base.progress import BackgroundPass, Phase
from indexer.indexing.pictures import decoded_or_set_aside
from indexer.media.decode import load_image, reason_for
from indexer.media.ocr import MAX_SIDE, VIDEO_SIDE, TextLine, TextReader
from indexer.media.video import frames_at
from indexer.store.database import FileRow, Store

log = logging.getLogger(__name__)
# A sampled frame this close (cosine) to the last frame read shows the same thing: not read again.
# Near-identical, not "similar": any visible change (a new slide) reads again.
KEYFRAME_SAME = 0.99
MAX_VIDEO_READS = 60  # per video: ~6-15 s of reading on 2 cores (docs/benchmarks.md)


@dataclasses.dataclass(frozen=True)
class TextReport:
    """The outcome of one text pass."""

    read: int = 0  # files read (with or without text)
    with_text: int = 0  # of them, files where text was found
    lines: int = 0
    failed: int = 0  # files that could not be opened now (kept unread: tried again next pass)
    remaining: int = 0  # still unread when the pass ended (cancelled, yielded or failed)
    cancelled: bool = False
    seconds: float = 0.0

    def summary(self) -> str:
        left = f"; {self.remaining} left for the next run" if self.remaining else ""
        return f"text: read {self.read} pictures, words found in {self.with_text} ({self.seconds:.1f}s){left}"


@dataclasses.dataclass(kw_only=True)
class TextPass(BackgroundPass):
    """One pass over the unread files of a library. Build it, then call ``run()``."""

    phase = Phase.TEXT
    store: Store
    reader: TextReader
    reader_id: str
    kinds: tuple[str, ...] = ("photo",)

    def run(self) -> TextReport:
        start = time.monotonic()
        todo = self.store.files_without_text(self.reader_id, self.kinds, limit=10**9)
        counts = Counter()
        # one file per engine in flight; the stop check comes before each file is handed out, so a
        # pause, cancel or yield waits for at most the files already being read (kept, not wasted)
        with ThreadPoolExecutor(self.reader.readers, thread_name_prefix="text") as pool:
            reading: deque[tuple[FileRow, Future]] = deque()
            for done, row in enumerate(todo):
                if self._stopping():
                    break
                self._progress(done, len(todo), start, row.path)
                reading.append((row, pool.submit(self._read, row)))
                if len(reading) >= self.reader.readers:
                    self._keep(*reading.popleft(), counts)
            while reading:
                self._keep(*reading.popleft(), counts)
        remaining = self.store.text_pending_count(self.reader_id, self.kinds)
        self._progress(len(todo), len(todo), start, None, phase=Phase.DONE)
        return TextReport(counts["read"], counts["with_text"], counts["lines"], counts["failed"], remaining,
                          self.cancel.is_set(), time.monotonic() - start)

    def _keep(self, row: FileRow, reading: Future, counts: Counter) -> None:
        """One file's text committed on its own, in the pass's thread, as soon as it is read."""
        found = reading.result()
        if found is None:
            counts["failed"] += 1
        elif self.store.put_text(row.id, self.reader_id, [(t.text, t.confidence, t.box, t.ts) for t in found],
                                 row.mtime):
            counts.update(read=1, with_text=int(bool(found)), lines=len(found))

    def _read(self, row: FileRow) -> list[TextLine] | None:
        """The file's lines, or None when it cannot be opened now (moved, being replaced...)."""
        try:
            if row.kind == "video":
                return self._read_video(row)
            decoded = decoded_or_set_aside(self.guard, self.store, row, load_image, MAX_SIDE * 3 // 4)
            return None if decoded is None else self.reader.read(decoded.image)
        except Exception as e:  # noqa: BLE001 - one file's problem never stops the pass
            log.info("text pass: %s: %s", row.path, reason_for(e))
            return None

    def _read_video(self, row: FileRow) -> list[TextLine] | None:
        """The video's sampled frames that look different from the last one read (``keyframes``),
        read like photos but at ``VIDEO_SIDE``, on every engine at once (a 10-minute 1080p video is up
        to 60 reads; #37 asks for 10 s); a line seen again in a later frame is kept once, at its first time.
        (Decoding a few frames at a time and reading them while the next few decode was measured:
        no faster on two cores, both already busy; docs/benchmarks.md.)"""
        frames = decoded_or_set_aside(self.guard, self.store, row, frames_at, keyframes(self.store.vectors_of(row.id)),
                                      MAX_SIDE * 3 // 4)
        if frames is None:
            return None
        out: dict[str, TextLine] = {}
        with ThreadPoolExecutor(self.reader.readers, thread_name_prefix="video-text") as pool:
            for lines in pool.map(lambda frame: self.reader.read(frame.image, frame.ts, VIDEO_SIDE), frames):
                for line in lines:
                    out.setdefault(line.text.casefold(), line)
        return list(out.values())


def keyframes(frames: list[tuple[int, np.ndarray, float | None]], same: float = KEYFRAME_SAME,
              limit: int = MAX_VIDEO_READS) -> list[float]:
    """Times of the sampled frames worth reading: the first, then each whose embedding differs
    from the last one kept (cosine below ``same``: a slide, a cut, the camera moved on); a
    still shot is read once. At most ``limit``, spread evenly over the video."""
    kept: list[tuple[np.ndarray, float]] = []
    for _, vec, ts in frames:
        if ts is not None and (not kept or float(vec @ kept[-1][0]) < same):
            kept.append((vec, ts))
    if len(kept) > limit:
        kept = [kept[round(i * (len(kept) - 1) / (limit - 1))] for i in range(limit)]
    return [ts for _, ts in kept]
