"""Videos: sample frames cheaply, embed each, and group them into moments.

A video holds many events, so it is searched per moment, never as one mean vector
(multi-event video retrieval). Frames are taken at a base interval plus wherever a
cheap colour-histogram check sees a cut. After embedding, consecutive frames that
look alike are grouped into a moment (start, end); every frame vector carries its
moment's bounds, so a search hit names the best frame and the moment around it.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from indexer.base.paths import is_text
from indexer.media.decode import DecodeError, limit_aspect

CUT_THRESHOLD = 0.35  # histogram intersection distance that counts as a scene change
MOMENT_SIMILARITY = 0.9  # frames this close (cosine) to the running moment stay in it
CHECKS_PER_INTERVAL = 4
SEEK_MIN_FRAMES = 24  # samples at least this many frames apart are reached by seeking


@dataclasses.dataclass(frozen=True)
class Frame:
    ts: float
    image: Image.Image


@dataclasses.dataclass(frozen=True)
class VideoInfo:
    duration: float
    fps: float
    width: int
    height: int


class _Capture:
    """``cv2.VideoCapture`` for any file name.

    OpenCV's Python binding crashes the whole process (SIGSEGV, measured) when handed a
    ``str`` holding undecodable bytes, i.e. a name that is not UTF-8. Such a file is
    opened by Python (which keeps the bytes) and FFmpeg reads it through the process's
    own descriptor path (``/proc/self/fd/N`` on Linux, ``/dev/fd/N`` elsewhere).
    """

    def __init__(self, path: Path) -> None:
        import cv2

        self._fd: int | None = None
        name = str(path)
        if not is_text(name):
            self._fd = os.open(path, os.O_RDONLY)
            name = f"/proc/self/fd/{self._fd}" if os.path.isdir("/proc/self/fd") else f"/dev/fd/{self._fd}"
        self.cap = cv2.VideoCapture(name)

    def release(self) -> None:
        self.cap.release()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.cap, attr)


def open_video(path: Path) -> tuple[Any, VideoInfo]:
    if path.stat().st_size == 0:
        raise DecodeError("empty file (0 bytes)")
    import cv2

    cap = _Capture(path)
    if not cap.isOpened():
        cap.release()
        raise DecodeError("cannot open video (damaged file or unsupported codec)")
    fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
    n = cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0.0
    if fps <= 0 or fps > 1000:
        fps = 25.0
    info = VideoInfo(n / fps if n > 0 else 0.0, fps, int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
                     int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    return cap, info


def sample_frames(path: Path, interval: float = 2.0, max_frames: int = 600, target: int = 256,
                  workers: int = 2) -> tuple[VideoInfo, list[Frame]]:
    """Frames every ``interval`` seconds (stretched to stay under ``max_frames``) plus cuts.

    Two strategies, chosen by how far apart the samples are:
    * far apart (the usual case): *seek* to each sample time, in ``workers`` threads
      each with its own decoder over a slice of the video; where two neighbouring
      samples differ (a cut), one more frame is taken halfway between them, so a
      new scene is also sampled near its start;
    * close together, or a stream that cannot seek (no frame count): ``grab()``
      every frame and ``retrieve()`` only the few that are looked at.
    """
    cap, info = open_video(path)
    cap.release()
    if info.duration and info.duration / interval > max_frames:
        interval = info.duration / max_frames
    if info.duration <= 0 or interval * info.fps < SEEK_MIN_FRAMES:
        return _sample_sequential(path, interval, max_frames, target)
    times = list(np.arange(0.0, info.duration, interval))
    got = _seek_many(path, times, target, workers)
    if not got:
        raise DecodeError("no frame could be decoded (damaged or unsupported video)")
    got.sort(key=lambda fh: fh[0].ts)
    extra = [(a.ts + b.ts) / 2 for (a, ha), (b, hb) in zip(got, got[1:], strict=False) if _cut(ha, hb)]
    got += _seek_many(path, extra, target, workers)
    frames = sorted((f for f, _ in got), key=lambda f: f.ts)
    return info, frames


def _seek_many(path: Path, times: list[float], target: int, workers: int) -> list[tuple[Frame, np.ndarray]]:
    """Decode the frames at ``times`` (seconds), ``workers`` slices in parallel."""
    if not times:
        return []
    from concurrent.futures import ThreadPoolExecutor

    n = max(1, min(workers, len(times) // 8 or 1))
    slices = [times[k::n] for k in range(n)] if n > 1 else [times]
    slices = [sorted(sl) for sl in slices]
    if n == 1:
        return _seek_slice(path, slices[0], target)
    with ThreadPoolExecutor(n) as pool:  # OpenCV releases the GIL while decoding
        parts = list(pool.map(lambda sl: _seek_slice(path, sl, target), slices))
    return [x for part in parts for x in part]


def _seek_slice(path: Path, times: list[float], target: int) -> list[tuple[Frame, np.ndarray]]:
    import cv2

    cap = _Capture(path)
    out = []
    try:
        for t in times:
            cap.set(cv2.CAP_PROP_POS_MSEC, t * 1000.0)
            ok, bgr = cap.read()
            if ok:
                out.append((Frame(float(t), _to_pil(bgr, target)), _hist(bgr)))
    finally:
        cap.release()
    return out


def _hist(bgr: np.ndarray) -> np.ndarray:
    import cv2

    small = cv2.resize(bgr, (32, 32), interpolation=cv2.INTER_AREA)
    hist = cv2.calcHist([small], [0, 1, 2], None, [4, 4, 4], [0, 256] * 3).ravel()
    return hist / max(hist.sum(), 1)


def _cut(a: np.ndarray, b: np.ndarray) -> bool:
    return 1.0 - float(np.minimum(a, b).sum()) > CUT_THRESHOLD


def _sample_sequential(path: Path, interval: float, max_frames: int, target: int) -> tuple[VideoInfo, list[Frame]]:
    cap, info = open_video(path)
    try:
        check_every = max(1, int(round(info.fps * interval / CHECKS_PER_INTERVAL)))
        frames: list[Frame] = []
        last_hist: np.ndarray | None = None
        last_taken = -1e9
        idx = 0
        while cap.grab():
            if idx % check_every == 0:
                ok, bgr = cap.retrieve()
                if not ok:
                    break
                ts = idx / info.fps
                hist = _hist(bgr)
                cut = last_hist is not None and _cut(hist, last_hist)
                last_hist = hist
                if (ts - last_taken >= interval - 1e-6 or cut) and len(frames) < max_frames * 2:
                    frames.append(Frame(ts, _to_pil(bgr, target)))
                    last_taken = ts
            idx += 1
        if not frames:
            raise DecodeError("no frame could be decoded (damaged or unsupported video)")
        duration = max(info.duration, idx / info.fps)
        return dataclasses.replace(info, duration=duration), frames
    finally:
        cap.release()


def _to_pil(bgr: np.ndarray, target: int) -> Image.Image:
    import cv2

    h, w = bgr.shape[:2]
    scale = target / min(h, w)
    if scale < 1:
        bgr = cv2.resize(bgr, (max(1, int(w * scale)), max(1, int(h * scale))), interpolation=cv2.INTER_AREA)
    return limit_aspect(Image.fromarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)))  # a damaged stream's odd frame size


def moments(ts: list[float], vecs: np.ndarray, duration: float) -> list[tuple[float, float]]:
    """(start, end) of the moment each frame belongs to.

    A new moment starts when a frame's cosine to the running mean of the current
    moment drops below ``MOMENT_SIMILARITY``. Bounds run halfway to the neighbouring
    moment's frames, so moments tile the video.
    """
    if not ts:
        return []
    groups: list[list[int]] = [[0]]
    mean = vecs[0].copy()
    for i in range(1, len(ts)):
        m = mean / max(np.linalg.norm(mean), 1e-12)
        if float(vecs[i] @ m) < MOMENT_SIMILARITY:
            groups.append([i])
            mean = vecs[i].copy()
        else:
            groups[-1].append(i)
            mean += vecs[i]
    out: list[tuple[float, float]] = [(0.0, 0.0)] * len(ts)
    for g, members in enumerate(groups):
        start = 0.0 if g == 0 else (ts[groups[g - 1][-1]] + ts[members[0]]) / 2
        end = duration if g == len(groups) - 1 else (ts[members[-1]] + ts[groups[g + 1][0]]) / 2
        for i in members:
            out[i] = (start, max(end, ts[i]))
    return out


def frames_at(path: Path, times: list[float], target: int = 512, workers: int = 2) -> list[Frame]:
    """The frames at ``times`` seconds in time order, ``workers`` slices decoded in parallel (a time
    it cannot reach is skipped)."""
    return sorted((f for f, _ in _seek_many(path, sorted(times), target, workers)), key=lambda f: f.ts)


def frame_at(path: Path, ts: float, target: int = 512) -> Image.Image:
    """The frame at ``ts`` seconds, for a moment's poster thumbnail."""
    import cv2

    cap, info = open_video(path)
    try:
        cap.set(cv2.CAP_PROP_POS_MSEC, max(0.0, ts) * 1000)
        ok, bgr = cap.read()
        if not ok:
            cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, bgr = cap.read()
        if not ok:
            raise DecodeError("cannot read a frame for the poster")
        return _to_pil(bgr, target)
    finally:
        cap.release()
