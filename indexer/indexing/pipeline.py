"""Indexing, as a list of stages (``STAGES``; ``Pipeline.run`` calls them in this order):

1. **plan**: crawl the roots and diff with the store (new, changed, moved, gone);
2. **decode**: read each file once and preprocess it for every model being embedded
   (a bounded thread pool ahead of the encoder, so the model never waits on JPEG decoding
   while memory stays bounded);
3. **embed**: batches through the encoder(s);
4. **write**: one writer thread commits each batch in one SQLite transaction and brings
   the ANN cache level;
5. **finish**: forget what vanished, save the ANN cache.

``threaded=False`` runs decode and write on the calling thread, one file after the other,
for debugging and tests. The passes that follow indexing (a model switch's re-embedding,
reading text) are ``BackgroundPass``es run by ``Library`` in the order of ``Library.passes``.
Progress goes out as ``Progress`` events; a ``threading.Event`` cancels between files,
keeping what was committed.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from indexer.ann.index import AnnIndex
from indexer.base.config import Settings
from indexer.base.isolation import Crashed, Direct, Guard
from indexer.base.paths import display
from indexer.base.progress import Phase, Progress, ProgressFn, hold, progress_at
from indexer.indexing.embedding import encode_all, frame_vectors
from indexer.indexing.pictures import decode_pictures, decoder_of
from indexer.media.crawl import CrawlProblem, FileRef, walk
from indexer.media.decode import DecodeError, quick_hash, reason_for
from indexer.media.regions import Box
from indexer.model.encoder import Encoder
from indexer.store.database import FileRecord, FileRow, RootRow, Store, VectorIn

STAGES = ("plan", "decode", "embed", "write", "finish")
ANN_SAVE_SECONDS = 30.0
MASS_DELETE_FRACTION = 0.5
MASS_DELETE_MIN = 20
log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class IndexReport:
    """The outcome of one indexing run."""

    added: int = 0
    updated: int = 0
    moved: int = 0
    removed: int = 0
    unchanged: int = 0
    errors: int = 0
    offline_roots: tuple[str, ...] = ()
    held_back: tuple[str, ...] = ()  # roots where a mass deletion was refused
    cancelled: bool = False
    seconds: float = 0.0
    deferred: int = 0  # files still being written, left for a later run


@dataclasses.dataclass
class Prepared:
    """A file decoded and preprocessed, ready for the encoder (or failed, with a reason)."""

    ref: FileRef
    root_id: int
    record: FileRecord
    vectors: list[VectorIn] = dataclasses.field(default_factory=list)  # every model's, once embedded
    pixels: list[Any] = dataclasses.field(default_factory=list)
    extra: list[list[Any]] = dataclasses.field(default_factory=list)  # pixels for each ``Pipeline.also`` model
    frames: list[tuple[float | None, float | None, float | None]] = dataclasses.field(default_factory=list)
    boxes: list[Box | None] = dataclasses.field(default_factory=list)  # per picture: None, or a region's box
    regions: bool = False  # its regions were made (regions.py), perhaps none passing the gate
    reuse_from: FileRow | None = None  # same content already embedded (a move or a touch)




class Pipeline:
    """One indexing run over some roots. Build it, then call ``run()``."""

    def __init__(self, store: Store, ann: AnnIndex, embedder: Encoder, settings: Settings,
                 on_progress: ProgressFn | None = None, cancel: threading.Event | None = None,
                 pause: threading.Event | None = None, settle: float = 0.0, allow_mass_delete: bool = False,
                 also: tuple[tuple[str, Encoder], ...] = (), threaded: bool = True,
                 guard: Guard | None = None, set_aside: dict[str, str] | None = None) -> None:
        self.store, self.ann, self.embedder, self.settings = store, ann, embedder, settings
        # During a model switch: (model id, encoder) of the target, so new files are embedded
        # with both and never left out whichever model ends up active.
        self.also = also
        self.threaded = threaded
        self._last_save = time.monotonic()
        self.on_progress = on_progress or (lambda p: None)
        self.cancel = cancel or threading.Event()
        self.pause = pause or threading.Event()
        self.settle = settle
        self.allow_mass_delete = allow_mass_delete
        self.problems: list[CrawlProblem] = []
        self.guard = guard or Direct()  # how a decoder is called: journalled or in a worker process (isolation.py)
        self.set_aside = set_aside or {}  # path -> why (it crashed its decoder in an earlier run)

    # planning -------------------------------------------------------------------------
    def plan(self, roots: Iterable[RootRow]) -> tuple[list[tuple[FileRef, int]], list[FileRow], dict[str, Any]]:
        """Crawl and diff against the store: (files to process, rows to delete, counts)."""
        todo: list[tuple[FileRef, int]] = []
        gone: list[FileRow] = []
        info: dict[str, Any] = {"unchanged": 0, "offline": [], "held_back": [], "deferred": 0}
        fresh = time.time() - self.settle
        for root in roots:
            path = Path(root.path)
            if not path.is_dir():
                self.store.set_root_online(root.id, False)
                info["offline"].append(root.path)
                continue
            self.store.set_root_online(root.id, True)
            known = {r.path: r for r in self.store.files_of_root(root.id)}
            seen: set[str] = set()
            for ref in walk(path, self.settings.exclude, self.settings.follow_symlinks, self.problems):
                if self.cancel.is_set():
                    break
                key = str(ref.path)
                seen.add(key)
                row = known.get(key)
                if row and row.size == ref.size and row.mtime == ref.mtime and row.status != "retry":
                    info["unchanged"] += 1
                elif self.settle and ref.mtime > fresh:
                    info["deferred"] += 1  # still being written
                else:
                    todo.append((ref, root.id))
                self.on_progress(Progress(Phase.SCANNING, done=len(seen), current=key))
            vanished = [r for p, r in known.items() if p not in seen and r.kind != "unreadable"]  # set_problems
            if self.cancel.is_set():
                continue
            mass = len(vanished) >= MASS_DELETE_MIN and len(vanished) > MASS_DELETE_FRACTION * len(known)
            if mass and not self.allow_mass_delete:
                info["held_back"].append(root.path)  # a vanished drive or a mistake: delete nothing
                continue
            gone += vanished
        return todo, gone, info

    # running ----------------------------------------------------------------------------
    def run(self, roots: Iterable[RootRow]) -> IndexReport:
        t0 = time.monotonic()
        todo, gone, info = self.plan(roots)
        by_hash = {r.hash: r for r in gone if r.hash and r.status == "ok"}
        counts = {"added": 0, "updated": 0, "moved": 0, "errors": 0}
        moved_ids: set[int] = set()
        self._write_error: BaseException | None = None
        done = 0
        with self._write_stage(counts, moved_ids) as write:
            batch: list[Prepared] = []
            for prep in self._decoded(todo, by_hash):
                if self._write_error is not None:
                    break
                done += 1
                batch.append(prep)
                if sum(len(p.pixels) for p in batch) >= self.settings.batch_size:
                    write(self._embed(batch))
                    batch = []
                self._report(done, len(todo), prep.ref.path, t0, counts["errors"])
            if batch and self._write_error is None:
                write(self._embed(batch))
        if self._write_error is not None:
            self.ann.catch_up(self.store)  # keep what was committed before the failure searchable
            raise self._write_error
        removed = self._finish(gone, moved_ids, done, len(todo), counts["errors"])
        return IndexReport(counts["added"], counts["updated"], counts["moved"], removed, info["unchanged"],
                           counts["errors"] + len(self.problems), tuple(info["offline"]), tuple(info["held_back"]),
                           self.cancel.is_set(), time.monotonic() - t0, info["deferred"])

    @contextmanager
    def _write_stage(self, counts: dict[str, int], moved: set[int]) -> Iterator[Callable[[list[Prepared]], None]]:
        """``write(batch)``: to the writer thread (bounded queue), or at once when not threaded."""
        if not self.threaded:
            yield lambda batch: self._commit(batch, counts, moved)
            self._ann_level(force=True)
            return
        writes: queue.Queue[list[Prepared] | None] = queue.Queue(maxsize=4)
        writer = threading.Thread(target=self._writer, args=(writes, counts, moved), daemon=True)
        writer.start()
        try:
            yield writes.put
        finally:
            writes.put(None)
            writer.join()

    def _finish(self, gone: list[FileRow], moved: set[int], done: int, total: int, errors: int) -> int:
        """Forget the files that vanished (not those that moved), then save the ANN cache."""
        removed = 0
        if not self.cancel.is_set():
            leftover = [r.id for r in gone if r.id not in moved]
            removed = len(leftover)
            if leftover:
                self.store.delete_files(leftover)
        self.on_progress(Progress(Phase.SAVING, done=done, total=total))
        self.ann.catch_up(self.store)
        if self.ann.dirty:  # a watcher's poll that found nothing new rewrites nothing (hundreds of MB at 100k)
            self.ann.save()
        self.on_progress(Progress(Phase.DONE, done=done, total=total, errors=errors))
        return removed

    def _report(self, done: int, total: int, path: Path, t0: float, errors: int) -> None:
        self.on_progress(progress_at(Phase.INDEXING, done, total, t0, str(path), errors))

    def _decoded(self, todo: list[tuple[FileRef, int]], by_hash: dict[str, FileRow]) -> Iterable[Prepared]:
        """Decode ahead in a bounded pool (or one by one when not threaded), yielding in crawl order."""
        if not self.threaded:
            for ref, root_id in todo:
                hold(self.pause, self.cancel)
                if self.cancel.is_set():
                    return
                yield self._prepare(ref, root_id, by_hash)
            return
        lookahead = max(4, self.settings.decode_workers * 4)
        with ThreadPoolExecutor(self.settings.decode_workers, thread_name_prefix="glimpse-decode") as pool:
            pending: deque[Future[Prepared]] = deque()
            it = iter(todo)
            while True:
                hold(self.pause, self.cancel)
                while len(pending) < lookahead and not self.cancel.is_set():
                    nxt = next(it, None)
                    if nxt is None:
                        break
                    pending.append(pool.submit(self._prepare, nxt[0], nxt[1], by_hash))
                if not pending:
                    return
                yield pending.popleft().result()

    def _prepare(self, ref: FileRef, root_id: int, by_hash: dict[str, FileRow]) -> Prepared:
        """Runs in a decode thread. Whatever goes wrong with this one file becomes its error row."""
        record = FileRecord(str(ref.path), ref.kind, root_id=root_id, ext=ref.path.suffix.lower().lstrip("."),
                            size=ref.size, mtime=ref.mtime, indexed_at=time.time())
        prep = Prepared(ref, root_id, record)
        if str(ref.path) in self.set_aside:
            return self._failed(prep, self.set_aside[str(ref.path)])
        try:
            self._prepare_file(prep, by_hash)
        except DecodeError as e:
            return self._failed(prep, str(e))
        except Crashed as e:
            why = e.reason(decoder_of(ref.kind))
            log.warning("%s %s", display(str(ref.path)), why)
            return self._failed(prep, why)
        except Exception as e:  # noqa: BLE001 - one odd file must never stop the others
            log.warning("cannot index %s", display(str(ref.path)), exc_info=True)
            return self._failed(prep, reason_for(e))
        return prep

    def _prepare_file(self, prep: Prepared, by_hash: dict[str, FileRow]) -> None:
        """Hash; reuse the vectors if the content is known; else decode and preprocess."""
        ref, record = prep.ref, prep.record
        st = ref.path.stat()  # the file may have been replaced since the crawl saw it
        record.set(size=st.st_size, mtime=st.st_mtime, hash=quick_hash(ref.path, st.st_size))
        old = self.store.file(str(ref.path))
        reuse = old if old and old.hash == record.hash and old.status == "ok" else by_hash.get(record.hash)
        if reuse is not None:
            prep.reuse_from = reuse
            return
        sizes = [self.embedder.image_size, *(e.image_size for _, e in self.also)]  # decoded once for all
        pics = self.guard.run(ref.path, decode_pictures, ref.kind, self.settings, max(sizes), min(sizes),
                              self.settings.regions, max(1, self.settings.decode_workers))
        if pics.video is not None:
            record.set(width=pics.video.width, height=pics.video.height, duration=pics.video.duration)
        if pics.meta is not None:
            record.set(**dataclasses.asdict(pics.meta))
        prep.frames.extend((t, None, None) for t in pics.ts)
        prep.boxes.extend(pics.boxes)
        prep.regions = pics.regions
        prep.pixels.extend(self.embedder.preprocess(im) for im in pics.images)
        prep.extra = [[emb.preprocess(im) for im in pics.images] for _, emb in self.also]
        record.status = "ok"

    @staticmethod
    def _failed(prep: Prepared, reason: str) -> Prepared:
        prep.record.set(status="error", error=reason)
        prep.pixels, prep.frames, prep.extra, prep.boxes, prep.regions = [], [], [], [], False
        return prep

    def _embed(self, batch: list[Prepared]) -> list[Prepared]:
        """Encode the batch; if that fails, each file alone, so only the culprit is an error."""
        try:
            return self._embed_all(batch)
        except Exception:  # noqa: BLE001
            if len(batch) == 1:
                log.warning("cannot embed %s", display(batch[0].record.path), exc_info=True)
                self._failed(batch[0], "the model could not embed this file; details in the log")
                return batch
            for p in batch:
                self._embed([p])
            return batch

    def _embed_all(self, batch: list[Prepared]) -> list[Prepared]:
        """Encode every frame of the batch in one or more forward passes."""
        flat = [px for p in batch for px in p.pixels]
        if not flat:
            return batch
        vecs = self._encode(self.embedder, flat)
        extra = [self._encode(emb, [px for p in batch for px in (p.extra[j] if p.extra else [])])
                 for j, (_, emb) in enumerate(self.also)]
        k = 0
        for p in batch:
            n = len(p.pixels)
            ts = [f[0] for f in p.frames]
            boxes = p.boxes or None
            p.vectors = frame_vectors(p.ref.kind, ts, vecs[k:k + n], p.record.duration, boxes=boxes)
            for (model, _), theirs in zip(self.also, extra, strict=True):
                p.vectors += frame_vectors(p.ref.kind, ts, theirs[k:k + n], p.record.duration, model, boxes)
            p.pixels, p.extra = [], []
            k += n
        return batch

    def _encode(self, embedder: Encoder, flat: list[Any]) -> np.ndarray:
        return encode_all(embedder, flat, self.settings.batch_size)

    def _writer(self, writes: queue.Queue[list[Prepared] | None], counts: dict[str, int], moved: set[int]) -> None:
        """The only thread that writes (threaded runs)."""
        while (batch := writes.get()) is not None:
            if self._write_error is None:  # after a failure: drain so the producer never blocks
                self._commit(batch, counts, moved)

    def _commit(self, batch: list[Prepared], counts: dict[str, int], moved: set[int]) -> None:
        """One transaction per batch, then the ANN catches up (saved every ``ANN_SAVE_SECONDS``)."""
        try:
            with self.store.transaction():
                for p in batch:
                    self._write_isolated(p, counts, moved)
        except Exception as e:  # disk full, read-only library...: stop cleanly, keep what is committed
            self._write_error = e
            self.cancel.set()
            return
        self._ann_level()

    def _ann_level(self, force: bool = False) -> None:
        self.ann.catch_up(self.store)
        if self.ann.dirty and (force or time.monotonic() - self._last_save > ANN_SAVE_SECONDS):
            self.ann.save()
            self._last_save = time.monotonic()

    def _write_isolated(self, p: Prepared, counts: dict[str, int], moved: set[int]) -> None:
        """Write one file; a failure that is this file's own (not the disk's) becomes its error row."""
        try:
            with self.store.savepoint():
                self._write_one(p, counts, moved)
        except sqlite3.OperationalError:
            raise  # disk full, read-only, locked: the library's problem, stop the run
        except Exception as e:  # noqa: BLE001
            log.warning("cannot record %s", display(p.record.path), exc_info=True)
            p.reuse_from = None
            self._failed(p, reason_for(e))
            p.vectors = []
            with self.store.savepoint():
                self.store.put_file(p.record, [])
            counts["errors"] += 1

    def _write_one(self, p: Prepared, counts: dict[str, int], moved: set[int]) -> None:
        existing = self.store.file(p.record.path)
        if p.reuse_from is not None:
            src = p.reuse_from
            if src.path != p.record.path:
                if existing is not None:  # the destination had an older file: replace it
                    self.store.remove_files([existing.id])
                self.store.move_file(src.id, p.record.path, p.root_id, p.record.mtime, p.record.size, p.record.ext)
                moved.add(src.id)
                counts["moved"] += 1
            else:
                self.store.touch_file(src.id, p.record.mtime, p.record.size)
            return
        made = [None, *(m for m, _ in self.also)] if p.regions and p.record.status == "ok" else []
        self.store.put_file(p.record, p.vectors, regions_for=made)
        if p.record.status == "error":
            counts["errors"] += 1
        elif existing is None:
            counts["added"] += 1
        else:
            counts["updated"] += 1
