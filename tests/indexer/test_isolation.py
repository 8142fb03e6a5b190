"""Worker processes for calls that may crash: a real native crash (ctypes reading address 0 in the
worker) costs that call only; Python errors come back as themselves; a hung call is ended."""

from __future__ import annotations

import ctypes
import os
import signal
import time

import pytest

from indexer.base.isolation import Crashed, Isolated

pytestmark = pytest.mark.skipif(os.name != "posix", reason="signals")


def test_a_native_crash_costs_the_call_and_the_next_call_works() -> None:
    pool = Isolated(1)
    try:
        assert pool.run(b"three", len) == 5
        first = pool._all[0].proc.pid
        with pytest.raises(Crashed) as crash:
            pool.run(0, ctypes.string_at)  # string_at(0): a segmentation fault in the worker
        assert crash.value.signum == signal.SIGSEGV
        assert crash.value.reason("image decoder") == (
            "crashed the image decoder (SIGSEGV, signal 11); set aside until it changes")
        assert pool.run(b"again", len) == 5  # a new worker
        assert pool._all[0].proc.pid != first
    finally:
        pool.close()


def test_python_errors_come_back_as_themselves() -> None:
    pool = Isolated(1)
    try:
        with pytest.raises(ValueError, match="invalid literal"):
            pool.run(b"not a number", int)
        assert pool.run(b"12", int) == 12  # the same worker goes on
    finally:
        pool.close()


def test_a_hung_call_is_ended_and_said_so() -> None:
    pool = Isolated(1, timeout=0.5)
    try:
        t0 = time.monotonic()
        with pytest.raises(Crashed) as hung:
            pool.run(30, time.sleep)
        assert time.monotonic() - t0 < 10
        assert hung.value.reason("video decoder").startswith("hung the video decoder (no answer in 0 s)")
    finally:
        pool.close()


def test_calls_run_side_by_side_and_close_leaves_nothing_running() -> None:
    from concurrent.futures import ThreadPoolExecutor

    pool = Isolated(2)
    with ThreadPoolExecutor(2) as threads:
        t0 = time.monotonic()
        list(threads.map(lambda _: pool.run(2.0, time.sleep), range(2)))
        assert time.monotonic() - t0 < 3.5  # two workers: the two sleeps overlapped
    procs = [w.proc for w in pool._all]
    pool.close()
    assert all(p.poll() is not None for p in procs)


def test_a_relative_path_means_the_callers_folder() -> None:
    """The workers run in "/" (they keep no folder busy): a path relative to the caller's folder is
    handed over whole."""
    pool = Isolated(1)
    try:
        assert pool.run("photo.jpg", os.path.abspath) == os.path.join(os.getcwd(), "photo.jpg")
    finally:
        pool.close()
