"""Calls that may crash their process — a native decoder (libjpeg, libtiff, LibRaw, FFmpeg) reading a
file from a person's disk — run in small worker processes, so a crash ends the worker and costs that
one call: the caller gets ``Crashed`` naming the signal and goes on (the app never dies of a photo).

Written by hand, not ``concurrent.futures.ProcessPoolExecutor``: one worker's death breaks that whole
pool (every pending call fails with ``BrokenProcessPool``, the culprit unnamed), and its workers start
by re-importing the caller's ``__main__`` (a frozen bundle needs ``freeze_support``). Here each worker
runs one call at a time over its own pipes, so the call running when it died is the one that killed it,
and it starts through ``own_command`` like every other child of Glimpse. A worker whose parent goes
reads the end of its input and exits: nothing is left running.
"""

from __future__ import annotations

import importlib
import os
import pickle
import queue
import selectors
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

from indexer.base.processes import own_command

T = TypeVar("T")
FLAG = "--isolated-worker"  # how a frozen bundle (no ``python -m``) is asked to be a worker
CALL_TIMEOUT_S = 600.0  # a call with no answer this long hung its decoder: the worker is killed
_HEADER = struct.Struct("!Q")


class Crashed(RuntimeError):
    """The worker running a call died of a signal (a native crash) or hung; ``reason(decoder)`` says it in words."""

    def __init__(self, signum: int | None = None, hung_s: float | None = None) -> None:
        super().__init__(signal_name(signum) if signum is not None else f"no answer in {hung_s:.0f} s")
        self.signum, self.hung_s = signum, hung_s

    def reason(self, decoder: str = "image decoder", set_aside: bool = True) -> str:
        """What a person reads on the file's error row (``set_aside``) or in an error message."""
        tail = "; set aside until it changes" if set_aside else ""
        if self.signum is None:
            return f"hung the {decoder} (no answer in {self.hung_s:.0f} s){tail}"
        return f"crashed the {decoder} ({signal_name(self.signum)}, signal {self.signum}){tail}"


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


class Guard(Protocol):
    """How a part of Glimpse calls a decoder on a file: directly, journalled (``indexing/inflight.py``) or
    in a worker process (``Isolated``). ``fn`` is a module-level function called as ``fn(path, *args)``."""

    def run(self, path: str, fn: Callable[..., T], *args: Any) -> T: ...

    def start(self) -> None: ...

    def close(self) -> None: ...


class Direct:
    """No guard: the call in this process (the resident search, tools, tests of the decoders themselves)."""

    def run(self, path: str, fn: Callable[..., T], *args: Any) -> T:
        return fn(path, *args)

    def start(self) -> None:
        pass

    def close(self) -> None:
        pass


class Isolated:
    """``workers`` worker processes, each started by its first call or by ``start`` (and again after it
    died); a worker imports the ``preload`` modules as it starts. Not at construction: four workers
    importing beside the app's own start made its window appear 0.5 s later (bench/bench_startup.py)."""

    def __init__(self, workers: int = 1, timeout: float = CALL_TIMEOUT_S, preload: tuple[str, ...] = ()) -> None:
        self._idle: queue.LifoQueue[_Worker] = queue.LifoQueue()
        self._all = [_Worker(timeout, preload) for _ in range(max(1, workers))]
        for w in self._all:
            self._idle.put(w)

    def start(self) -> None:
        """Every worker now, so the first files of a pass do not wait for the decoders to load."""
        taken = [self._idle.get() for _ in self._all]
        try:
            for w in taken:
                w.start()
        finally:
            for w in taken:
                self._idle.put(w)

    def run(self, path: str, fn: Callable[..., T], *args: Any) -> T:
        if isinstance(path, str | Path):  # the workers run in "/": a relative path means the caller's folder
            path = type(path)(os.path.join(os.getcwd(), path))
        worker = self._idle.get()  # as many calls at once as workers; the others wait their turn
        try:
            return worker.call(fn, (path, *args))
        finally:
            self._idle.put(worker)

    def close(self) -> None:
        for w in self._all:
            w.stop()


class _Worker:
    """One worker process and its pipes; used by one thread at a time (``Isolated`` hands it out)."""

    def __init__(self, timeout: float, preload: tuple[str, ...]) -> None:
        self.timeout, self.preload = timeout, preload
        self.proc: subprocess.Popen[bytes] | None = None

    def call(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        proc = self.start()
        try:
            _send(proc.stdin, (fn, args))
            ok, value = self._answer(proc)
        except (BrokenPipeError, EOFError):
            raise self._died(proc) from None
        if ok:
            return value
        raise value

    def _answer(self, proc: subprocess.Popen[bytes]) -> tuple[bool, Any]:
        deadline = time.monotonic() + self.timeout
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            if not sel.select(timeout=max(0.0, deadline - time.monotonic())):
                self.stop(kill=True)
                raise Crashed(hung_s=self.timeout)
        return _receive(proc.stdout)

    def _died(self, proc: subprocess.Popen[bytes]) -> Crashed:
        code = proc.wait()
        self.proc = None
        return Crashed(signum=-code if code < 0 else signal.SIGABRT)  # an exit mid-call is a crash too

    def start(self) -> subprocess.Popen[bytes]:
        """The worker's process, started if it is not running."""
        if self.proc is None or self.proc.poll() is not None:
            self.proc = subprocess.Popen([*own_command("indexer.base.isolation", FLAG), *self.preload],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                         cwd="/")
            _widen(self.proc.stdout)
        return self.proc

    def stop(self, kill: bool = False) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if kill:
            proc.kill()
        for pipe in (proc.stdin, proc.stdout):
            pipe.close()  # the worker reads the end of its input and exits
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _widen(pipe: Any) -> None:
    """A decoded picture is 0.2-3 MB: a 1 MB pipe (Linux; 64 kB by default) takes it in a few writes
    instead of dozens of wake-ups of both processes (bench/bench_guards.py)."""
    try:
        import fcntl

        fcntl.fcntl(pipe.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
    except (ImportError, OSError):
        pass  # not Linux, or a lower limit: the default size works, only a little slower


def _send(pipe: Any, message: object) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    pipe.write(_HEADER.pack(len(data)) + data)
    pipe.flush()


def _receive(pipe: Any) -> Any:
    head = pipe.read(_HEADER.size)
    if len(head) < _HEADER.size:
        raise EOFError
    size = _HEADER.unpack(head)[0]
    data = pipe.read(size)
    if len(data) < size:
        raise EOFError
    return pickle.loads(data)  # noqa: S301 - our own worker's answer, over its own pipe


def serve(preload: list[str]) -> None:
    """The worker's loop: one call at a time from stdin, its answer (or its exception) to stdout.
    fd 1 is pointed at stderr, so a library that prints cannot break the answers."""
    for module in preload:
        importlib.import_module(module)
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    calls = sys.stdin.buffer
    while True:
        try:
            fn, args = _receive(calls)
        except EOFError:
            return
        try:
            reply: tuple[bool, Any] = (True, fn(*args))
        except Exception as e:  # noqa: BLE001 - every Python error goes back to the caller, as in-process
            reply = (False, e)
        try:
            _send(answers, reply)
        except (pickle.PicklingError, TypeError, AttributeError) as e:
            _send(answers, (False, RuntimeError(f"{type(reply[1]).__name__}: {reply[1]} ({e})")))


def run_if_asked(argv: list[str]) -> None:
    """In a bundle's entry point: serve as a worker if this process was started as one."""
    if argv[1:2] == [FLAG]:
        serve(argv[2:])
        sys.exit(0)


if __name__ == "__main__":
    serve(sys.argv[1:])
