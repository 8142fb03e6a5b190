"""Taking results elsewhere: copy the files to a folder, or a video moment as a clip or a still.

Nothing is ever overwritten: a name already in the destination gets " (2)", " (3)"... before
its extension, and each copy goes through a temporary name first, so an interrupted export
leaves no half-written file under a real name.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from indexer.passes import Progress, ProgressFn
from indexer.video import frame_at, open_video

CLIP_MARGIN = 1.0  # seconds kept before and after a moment


@dataclasses.dataclass(frozen=True)
class ExportReport:
    copied: tuple[str, ...] = ()  # the new files, in the order asked
    failed: tuple[tuple[str, str], ...] = ()  # (source, why)
    cancelled: bool = False


def free_name(folder: Path, name: str) -> Path:
    """``folder/name``, or ``name (2)``, ``name (3)``... when taken: never an existing file."""
    base, ext = os.path.splitext(name)
    candidate, n = folder / name, 1
    while candidate.exists() or candidate.is_symlink():
        n += 1
        candidate = folder / f"{base} ({n}){ext}"
    return candidate


def copy_files(paths: Sequence[str], dest: Path, on_progress: ProgressFn | None = None,
               cancel: threading.Event | None = None) -> ExportReport:
    """Copy each file (once, keeping its name and dates) into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    cancel = cancel or threading.Event()
    unique = list(dict.fromkeys(paths))
    copied, failed = [], []
    for i, src in enumerate(unique):
        if on_progress:
            on_progress(Progress("exporting", i, len(unique), src))
        if cancel.is_set():
            break
        try:
            copied.append(str(_copy(Path(src), dest)))
        except OSError as e:
            failed.append((src, e.strerror or str(e)))
    if on_progress:
        on_progress(Progress("done", len(copied), len(unique)))
    return ExportReport(tuple(copied), tuple(failed), cancel.is_set())


def _copy(src: Path, dest: Path) -> Path:
    target = free_name(dest, src.name)
    tmp = dest / f".{target.name}.glimpse-part"
    try:
        shutil.copy2(src, tmp)
        if target.exists():  # taken meanwhile by another program: find another name
            target = free_name(dest, src.name)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def still(video: str, ts: float, dest: Path) -> Path:
    """The frame at ``ts`` as a JPEG in ``dest`` ("name @ 1m05s.jpg")."""
    dest.mkdir(parents=True, exist_ok=True)
    target = free_name(dest, f"{Path(video).stem} @ {_stamp(ts)}.jpg")
    frame_at(Path(video), ts, target=4096).save(target, quality=92)
    return target


def clip(video: str, start: float, end: float, dest: Path,
         should_stop: Callable[[], bool] = lambda: False) -> Path:
    """The moment ``start``–``end`` (± ``CLIP_MARGIN``) as an MP4 in ``dest``, re-encoded by OpenCV."""
    import cv2

    dest.mkdir(parents=True, exist_ok=True)
    cap, info = open_video(Path(video))
    try:
        fps = info.fps or 25.0
        begin, stop = max(0.0, start - CLIP_MARGIN), end + CLIP_MARGIN
        if info.duration:
            stop = min(stop, info.duration)
        cap.set(cv2.CAP_PROP_POS_MSEC, begin * 1000)
        target = free_name(dest, f"{Path(video).stem} {_stamp(begin)}-{_stamp(stop)}.mp4")
        tmp = dest / f".{target.name}.glimpse-part.mp4"
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps, (info.width, info.height))
        try:
            for _ in range(max(1, round((stop - begin) * fps))):
                ok, frame = cap.read()
                if not ok or should_stop():
                    break
                writer.write(frame)
        finally:
            writer.release()
        os.replace(tmp, target)
        return target
    finally:
        cap.release()


def _stamp(t: float) -> str:
    m, s = divmod(int(t), 60)
    return f"{m}m{s:02d}s"
