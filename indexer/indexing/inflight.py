"""Files being decoded, written down before and after, so that a file which crashes its decoder — a
native crash (libjpeg, libtiff, FFmpeg...) that ends the whole process, not a Python error — is
found after the crash and costs that file only.

The CLI's guard (a supervised ``glimpse index``/``watch`` is started again after a crash,
``cli/main.py``): a journal line is one ``write`` to a file opened for appending (no fsync: a crash
of the process, unlike one of the machine, keeps what the kernel was given), so indexing pays 0.8 %
(bench/bench_guards.py). After a crash the next run re-decodes only the files that were in flight,
each in a worker process of its own (``base/isolation.py``), and sets aside the one that crashes it
there. The app, which must not crash at all, decodes in worker processes instead (``Isolated``).
"""

from __future__ import annotations

import base64
import logging
import os
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from indexer.base.config import VIDEO_EXTENSIONS, Settings
from indexer.base.isolation import Crashed, Isolated
from indexer.base.paths import display
from indexer.indexing.pictures import decode_pictures, decoder_of

log = logging.getLogger(__name__)
JOURNAL = "decoding.journal"
PROBE_TIMEOUT_S = 300  # a file whose decoding hangs this long in the child is set aside too
T = TypeVar("T")


class InFlight:
    """The journal of one library (``decoding.journal`` in its folder); used by one writer at a time."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / JOURNAL
        self._fd: int | None = None
        self._lock = threading.Lock()

    def run(self, path: Path | str, fn: Callable[..., T], *args: Any) -> T:
        """The ``Guard`` call (``base/isolation.py``): ``fn(path, *args)`` in this process, journalled."""
        with self.decoding(str(path)):
            return fn(path, *args)

    @contextmanager
    def decoding(self, path: str) -> Iterator[None]:
        """Around one file's decoding (decode threads call this at once: one small append each)."""
        key = base64.b64encode(os.fsencode(path))
        self._append(b"+" + key + b"\n")
        try:
            yield
        finally:
            self._append(b"-" + key + b"\n")

    def left_over(self) -> list[str]:
        """Files a crashed run was decoding: begun, never ended."""
        try:
            lines = self.path.read_bytes().splitlines()
        except OSError:
            return []
        count = Counter(line[1:] for line in lines if line[:1] == b"+")
        count.subtract(line[1:] for line in lines if line[:1] == b"-")
        return [os.fsdecode(base64.b64decode(k)) for k, n in count.items() if n > 0]

    def after_a_crash(self) -> dict[str, str]:
        """The files a crashed run was decoding, each decoded again in a child process: those that crash
        it there, with why, to be set aside (error rows); the others are indexed as usual. Starts a new journal."""
        out = {}
        for path in self.left_over():
            why = crash_of(path, "video" if Path(path).suffix.lower() in VIDEO_EXTENSIONS else "photo")
            if why is not None:
                log.warning("%s %s", display(path), why)
                out[path] = why
        self.clear()
        return out

    def start(self) -> None:
        """The ``Guard`` call: nothing to start (the journal file opens at its first line)."""

    def clear(self) -> None:
        with self._lock:
            self.close()
            self.path.unlink(missing_ok=True)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _append(self, line: bytes) -> None:
        with self._lock:
            if self._fd is None:
                self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            os.write(self._fd, line)


def crash_of(path: str, kind: str) -> str | None:
    """Decode ``path`` in a worker process: why it must be set aside (it crashed or hung the decoder), or None."""
    worker = Isolated(1, timeout=PROBE_TIMEOUT_S)
    try:
        worker.run(Path(path), decode_pictures, kind, Settings(), 256, 224, False, 1)
    except Crashed as e:
        return e.reason(decoder_of(kind))
    except Exception:  # noqa: BLE001 - a Python error is indexing's to report, as usual; only a crash matters here
        return None
    finally:
        worker.close()
    return None
