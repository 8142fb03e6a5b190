"""Walking photo folders: what is a photo or a video, and what is junk to skip."""

from __future__ import annotations

import dataclasses
import fnmatch
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from indexer.base.config import JUNK_NAMES, PHOTO_EXTENSIONS, VIDEO_EXTENSIONS


@dataclasses.dataclass(frozen=True)
class FileRef:
    """A media file seen on disk, before it is opened."""

    path: Path
    kind: str  # "photo" | "video"
    size: int
    mtime: float


@dataclasses.dataclass(frozen=True)
class CrawlProblem:
    """A folder or file the crawl could not look into, and why."""

    path: Path
    reason: str


def kind_of(path: Path) -> str | None:
    ext = path.suffix.lower()
    if ext in PHOTO_EXTENSIONS:
        return "photo"
    if ext in VIDEO_EXTENSIONS:
        return "video"
    return None


def is_junk(name: str) -> bool:
    """Hidden files, macOS resource forks and NAS/Windows system folders."""
    return name.startswith(".") or name in JUNK_NAMES


def excluded(path: Path, patterns: Sequence[str]) -> bool:
    s = str(path)
    return any(fnmatch.fnmatch(s, p) or fnmatch.fnmatch(path.name, p) for p in patterns)


def walk(root: Path, exclude: Sequence[str] = (), follow_symlinks: bool = False,
         problems: list[CrawlProblem] | None = None) -> Iterator[FileRef]:
    """Yield every photo and video under ``root``, in a stable (sorted) order.

    Symlinks are not followed unless asked, so a link out of the root or a link loop
    cannot make the crawl wander or never end. Unreadable folders are reported in
    ``problems`` and skipped.
    """
    seen: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            st = folder.stat()
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as e:
            if problems is not None:
                problems.append(CrawlProblem(folder, f"cannot open folder: {e.strerror or e}"))
            continue
        subdirs = []
        for entry in entries:
            if is_junk(entry.name):
                continue
            path = Path(entry.path)
            if exclude and excluded(path, exclude):
                continue
            try:
                if entry.is_symlink() and not follow_symlinks:
                    continue
                if entry.is_dir(follow_symlinks=follow_symlinks):
                    subdirs.append(path)
                    continue
                kind = kind_of(path)
                if kind is None or not entry.is_file(follow_symlinks=follow_symlinks):
                    continue
                st = entry.stat(follow_symlinks=follow_symlinks)
            except FileNotFoundError:
                continue  # deleted or moved since the folder was listed: gone, not a problem (the soak found it)
            except OSError as e:
                if problems is not None:
                    problems.append(CrawlProblem(path, f"cannot read: {e.strerror or e}"))
                continue
            yield FileRef(path, kind, st.st_size, st.st_mtime)
        stack.extend(reversed(subdirs))
