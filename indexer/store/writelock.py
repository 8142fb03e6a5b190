"""One writer per library: across processes (a lock file) and across the threads of one process."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from indexer.base.errors import LibraryBusy, WriteCancelled


def _try_lock(fd: int, offset: int) -> bool:
    """Take the exclusive lock without blocking; False if another process has it."""
    if os.name == "nt":
        import msvcrt

        os.lseek(fd, offset, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def _unlock(fd: int, offset: int) -> None:
    if os.name == "nt":
        import msvcrt

        os.lseek(fd, offset, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        return
    import fcntl

    fcntl.flock(fd, fcntl.LOCK_UN)


def _holder(fd: int, size: int) -> str:
    """The pid the lock's holder wrote at the start of the file."""
    os.lseek(fd, 0, os.SEEK_SET)
    return os.read(fd, size).decode(errors="replace").strip("\0 \n") or "?"


class WriteLock:
    """One writer per library: across processes (a lock on ``write.lock``) and across the
    threads of one process (the GUI's watcher indexing while the user removes a folder).

    Re-entrant for the thread that holds it, so a write may call another write. Other
    threads of the same process wait their turn; another process holding the file lock
    makes ``acquire`` fail at once, or wait with ``wait=True``. Every wait honours
    ``cancel``, so a Stop button never hangs behind somebody else's work.

    ``flock`` on POSIX; on Windows ``msvcrt.locking`` on one byte past the pid, so other
    processes can still read who holds it. Readers never need it: SQLite's WAL lets them
    search while a writer works.
    """

    PID_BYTES = 64  # the holder's pid is written here; Windows locks the byte after it
    POLL = 0.1

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: Any = None  # what holds other processes out while this one writes
        self._owner: int | None = None  # thread ident
        self._depth = 0
        self._cond = threading.Condition(threading.Lock())
        self.on_wait: Callable[[str], None] | None = None  # told once when a wait for another process begins

    def acquire(self, wait: bool = False, timeout: float = 3600.0, cancel: threading.Event | None = None) -> None:
        import time

        me = threading.get_ident()
        end = time.monotonic() + timeout
        with self._cond:
            if self._owner == me:
                self._depth += 1
                return
            while self._owner is not None:  # another thread of this process writes
                if not wait:
                    raise LibraryBusy("Glimpse is already updating this library (indexing or another change); "
                                      "searching still works. Try again when it finishes.")
                self._check_wait(end, cancel)
                self._cond.wait(self.POLL)
            self._owner, self._depth = me, 1  # claimed: other threads now wait on us, not on the file
        try:
            self._lock_process(wait, end, cancel)
        except BaseException:
            with self._cond:
                self._owner, self._depth = None, 0
                self._cond.notify_all()
            raise

    def _lock_process(self, wait: bool, end: float, cancel: threading.Event | None) -> None:
        """Other processes out, waiting for them if asked. What holds them out is the hooks below: a lock
        file here, a PostgreSQL advisory lock for a server library (server_lock.py)."""
        import time

        handle = self._open_process_lock()
        try:
            told = False
            while not self._try_process_lock(handle):
                holder = self._holder_of(handle)
                if not wait:
                    raise LibraryBusy(f"another Glimpse process ({holder}) is updating this library; searching "
                                      "still works. Try again when it finishes, or use --wait.")
                if not told and self.on_wait is not None:
                    self.on_wait(f"waiting for another Glimpse process ({holder}) to finish updating this library…")
                told = True
                self._check_wait(end, cancel)
                time.sleep(self.POLL)
            self._claimed(handle)
        except BaseException:
            self._close_process_lock(handle)
            raise
        self._handle = handle

    # the process lock's hooks: a lock file ----------------------------------------------
    def _open_process_lock(self) -> Any:
        return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)

    def _try_process_lock(self, fd: Any) -> bool:
        return _try_lock(fd, self.PID_BYTES)

    def _holder_of(self, fd: Any) -> str:
        return f"pid {_holder(fd, self.PID_BYTES)}"

    def _claimed(self, fd: Any) -> None:
        """Taken: say who holds it, for a process that meets it taken."""
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, str(os.getpid()).encode().ljust(self.PID_BYTES, b" "))

    def _close_process_lock(self, fd: Any) -> None:
        os.close(fd)

    def _unlock_process(self, fd: Any) -> None:
        _unlock(fd, self.PID_BYTES)
        os.close(fd)

    @staticmethod
    def _check_wait(end: float, cancel: threading.Event | None) -> None:
        import time

        if cancel is not None and cancel.is_set():
            raise WriteCancelled("cancelled while waiting for another update of this library to finish")
        if time.monotonic() > end:
            raise LibraryBusy("gave up waiting for another update of this library to finish")

    def release(self) -> None:
        with self._cond:
            if self._owner != threading.get_ident():
                raise RuntimeError("WriteLock released by a thread that does not hold it")
            self._depth -= 1
            if self._depth:
                return
            self._release_process()
            self._owner = None
            self._cond.notify_all()

    def _release_process(self) -> None:
        if self._handle is not None:
            self._unlock_process(self._handle)
            self._handle = None

    @property
    def held(self) -> bool:
        """True when the calling thread holds the lock."""
        return self._owner == threading.get_ident()

    @contextmanager
    def __call__(self, wait: bool = False, cancel: threading.Event | None = None) -> Iterator[None]:
        self.acquire(wait, cancel=cancel)
        try:
            yield
        finally:
            self.release()
