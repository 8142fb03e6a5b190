"""Taking results elsewhere: copy the files to a folder, or a video moment as a clip or a still.

Nothing is ever overwritten: a name already in the destination gets " (2)", " (3)"... before
its extension, and each file is written under a temporary name first (``atomic.new_file``),
so an interrupted export leaves no half-written file under a real name.
"""

from __future__ import annotations

import dataclasses
import shutil
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from indexer.base import atomic
from indexer.base.errors import ExportFailed
from indexer.base.progress import Phase, Progress, ProgressFn
from indexer.media.video import frame_at, open_video

CLIP_MARGIN = 1.0  # seconds kept before and after a moment


@dataclasses.dataclass(frozen=True)
class ExportReport:
    copied: tuple[str, ...] = ()  # the new files, in the order asked
    failed: tuple[tuple[str, str], ...] = ()  # (source, why)
    cancelled: bool = False


def copy_files(paths: Sequence[str], dest: Path, on_progress: ProgressFn | None = None,
               cancel: threading.Event | None = None) -> ExportReport:
    """Copy each file (once, keeping its name and dates) into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    cancel = cancel or threading.Event()
    unique = list(dict.fromkeys(paths))
    copied, failed = [], []
    for i, src in enumerate(unique):
        if on_progress:
            on_progress(Progress(Phase.EXPORTING, i, len(unique), src))
        if cancel.is_set():
            break
        try:
            copied.append(str(_copy(Path(src), dest)))
        except OSError as e:
            failed.append((src, e.strerror or str(e)))
    if on_progress:
        on_progress(Progress(Phase.DONE, len(copied), len(unique)))
    return ExportReport(tuple(copied), tuple(failed), cancel.is_set())


def _copy(src: Path, dest: Path) -> Path:
    with atomic.new_file(dest, src.name) as out:
        shutil.copy2(src, out.tmp)  # names and dates kept; the rename keeps the dates
    return out.path


def still(video: str, ts: float, dest: Path) -> Path:
    """The frame at ``ts`` as a JPEG in ``dest`` ("name @ 1m05s.jpg")."""
    dest.mkdir(parents=True, exist_ok=True)
    with atomic.new_file(dest, f"{Path(video).stem} @ {_stamp(ts)}.jpg") as out:
        frame_at(Path(video), ts, target=4096).save(out.tmp, format="JPEG", quality=92)
    return out.path


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
        with atomic.new_file(dest, f"{Path(video).stem} {_stamp(begin)}-{_stamp(stop)}.mp4") as out:
            writer = cv2.VideoWriter(str(out.tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps, (info.width, info.height))
            written = 0
            try:
                if not writer.isOpened():  # no MP4 encoder in this OpenCV, or a size it refuses
                    raise ExportFailed(f"this system cannot write an MP4 of {info.width}x{info.height} video")
                for _ in range(max(1, round((stop - begin) * fps))):
                    ok, frame = cap.read()
                    if not ok or should_stop():
                        break
                    writer.write(frame)
                    written += 1
            finally:
                writer.release()
            if not written:  # the half-made file goes with the error (atomic.new_file removes it)
                raise ExportFailed(f"no frame from {_stamp(begin)} on could be read from the video")
        return out.path
    finally:
        cap.release()


def _stamp(t: float) -> str:
    m, s = divmod(int(t), 60)
    return f"{m}m{s:02d}s"
