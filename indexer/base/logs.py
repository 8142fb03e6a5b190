"""Where messages go: the user's terminal gets Glimpse's own words, the log gets the rest.

Third-party libraries talk a lot during ordinary work: libtiff prints a line per odd
tag, ONNX Runtime's quantizer gives advice, the hub client logs retries, FFmpeg
reports every damaged packet. A person cannot tell those from real problems, so by
default they all go to ``glimpse.log`` in the library folder:

* Python ``logging`` and ``warnings`` through a file handler on the root logger;
* C libraries write to file descriptor 2 directly, which no Python setting reaches,
  so descriptor 2 is pointed at the log while ``sys.stderr`` keeps a duplicate of the
  terminal for Glimpse's own progress lines and messages.

``verbose`` keeps everything on the terminal as well (and descriptor 2 untouched).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from indexer.base.config import foreign_folder

LOG_NAME = "glimpse.log"
MAX_BYTES = 5_000_000  # one previous log is kept as glimpse.log.1
FORMAT = "%(asctime)s %(levelname)s %(name)s [%(threadName)s]: %(message)s"


def log_path(folder: Path) -> Path:
    return folder / LOG_NAME


@contextmanager
def session(folder: Path, verbose: bool = False) -> Iterator[Path | None]:
    """Route messages for one command (CLI) or one app run (GUI); restores everything after."""
    try:
        if foreign_folder(folder):  # not a library: Library.open refuses it, and nothing is written there
            raise NotADirectoryError(folder)
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = log_path(folder)
        _rotate(path)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    except OSError:  # a read-only or missing library: Library.open will say so in plain words
        yield None
        return
    root = logging.getLogger()
    handler = logging.StreamHandler(os.fdopen(os.dup(fd), "a", encoding="utf-8", errors="backslashreplace"))
    handler.setFormatter(logging.Formatter(FORMAT))
    handlers: list[logging.Handler] = [handler]
    if verbose:
        handlers.append(logging.StreamHandler(sys.stderr))
    old_level = root.level
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    logging.getLogger("glimpse").setLevel(logging.INFO)
    for h in handlers:
        root.addHandler(h)
    logging.captureWarnings(True)
    restore = None if verbose else _redirect_fd2(fd)
    try:
        yield path
    finally:
        if restore is not None:
            restore()
        logging.captureWarnings(False)
        for h in handlers:
            root.removeHandler(h)
        handler.close()
        root.setLevel(old_level)
        os.close(fd)


def _redirect_fd2(fd: int):
    """Point descriptor 2 at ``fd``; ``sys.stderr`` keeps writing where it wrote before."""
    sys.stderr.flush()
    saved = os.dup(2)
    old_stderr = sys.stderr
    swapped = False
    try:
        swapped = old_stderr.fileno() == 2
    except (AttributeError, OSError, ValueError):  # a test's capture object, or no stderr at all
        swapped = False
    if swapped:
        sys.stderr = os.fdopen(os.dup(saved), "w", buffering=1, encoding=getattr(old_stderr, "encoding", None)
                               or "utf-8", errors="backslashreplace")
    os.dup2(fd, 2)

    def restore() -> None:
        if swapped:
            sys.stderr.flush()
            sys.stderr.close()
            sys.stderr = old_stderr
        os.dup2(saved, 2)
        os.close(saved)

    return restore


def _rotate(path: Path) -> None:
    try:
        if path.stat().st_size > MAX_BYTES:
            os.replace(path, path.with_name(path.name + ".1"))
    except FileNotFoundError:
        pass
