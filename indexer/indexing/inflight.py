"""Files being decoded, written down before and after, so that a file which crashes its decoder — a
native crash (libjpeg, libtiff, FFmpeg...) that ends the whole process, not a Python error — is
found after the crash and costs that file only.

Why a journal and not a pool of decoding processes: a journal line is one ``write`` to a file
opened for appending (no fsync: a crash of the process, unlike one of the machine, keeps what the
kernel was given), so indexing pays nothing measurable; decoding in worker processes would cost
the copy of every decoded picture between processes. After a crash the next run re-decodes only
the files that were in flight, each in a child process (``probe``), and sets aside the one whose
child dies of a signal.
"""

from __future__ import annotations

import base64
import logging
import os
import signal
import subprocess
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from indexer.base.config import VIDEO_EXTENSIONS
from indexer.base.paths import display
from indexer.base.processes import own_command
from indexer.indexing import probe

log = logging.getLogger(__name__)
JOURNAL = "decoding.journal"
PROBE_TIMEOUT_S = 300  # a file whose decoding hangs this long in the child is set aside too


class InFlight:
    """The journal of one library (``decoding.journal`` in its folder); used by one writer at a time."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / JOURNAL
        self._fd: int | None = None
        self._lock = threading.Lock()

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
    """Decode ``path`` in a child process: why it must be set aside (it crashed or hung the decoder), or None."""
    command = own_command("indexer.indexing.probe", probe.FLAG)
    try:
        done = subprocess.run([*command, kind, path], capture_output=True, timeout=PROBE_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        return f"hung the {_decoder(kind)} (no answer in {PROBE_TIMEOUT_S} s); set aside"
    except OSError:
        return None
    if done.returncode >= 0:
        return None
    try:
        name = signal.Signals(-done.returncode).name
    except ValueError:
        name = f"signal {-done.returncode}"
    return f"crashed the {_decoder(kind)} ({name}, signal {-done.returncode}); set aside until it changes"


def _decoder(kind: str) -> str:
    return "video decoder" if kind == "video" else "image decoder"
