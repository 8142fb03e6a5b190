"""Every ``GLIMPSE_*`` environment variable, and the defaults several parts share, in one place.

A variable is read where it is used, through ``value``; its meaning is written here once.
"""

from __future__ import annotations

import enum
import os


class Env(enum.StrEnum):
    """The environment variables Glimpse reads."""

    LIBRARY = "GLIMPSE_LIBRARY"  # the library folder when no --library is given
    MODELS = "GLIMPSE_MODELS"  # the model cache (downloads, imports, exports)
    RESIDENT = "GLIMPSE_RESIDENT"  # seconds the resident search process stays; 0 turns it off
    ENGINES = "GLIMPSE_ENGINES"  # comma-separated inference engines allowed (onnxruntime always is)
    STARTUP_PROBE = "GLIMPSE_STARTUP_PROBE"  # bench/bench_startup.py: the app reports when its window is up
    SUPERVISED = "GLIMPSE_SUPERVISED"  # set in the child `glimpse index`/`watch` runs in (cli/main.py)
    COMPUTER = "GLIMPSE_COMPUTER"  # this computer's name in a server library (default: the host name)


def value(var: Env) -> str | None:
    """The variable's value, or None where it is unset or empty."""
    return os.environ.get(var) or None


def this_computer() -> str:
    """The name a server library knows this computer by: its folders and files are this computer's."""
    import socket

    return value(Env.COMPUTER) or socket.gethostname()


ENGINES = ("onnxruntime", "openvino")


def available_engines() -> list[str]:
    """ONNX Runtime always; OpenVINO where installed (it runs bf16 on CPUs with AMX/AVX512-BF16).

    ``GLIMPSE_ENGINES=onnxruntime`` (comma-separated) limits the choice, e.g. to rule out an
    engine that misbehaves on some machine; ONNX Runtime always stays available. Used for the
    CLIP towers (``model/engines.py``) and the OCR models (``media/ocr_engine.py``).
    """
    import importlib.util

    wanted = {e.strip() for e in (value(Env.ENGINES) or ",".join(ENGINES)).split(",")} | {"onnxruntime"}
    return [e for e in ENGINES if e in wanted and importlib.util.find_spec(e) is not None]


PREFIX = "GLIMPSE_"  # what the resident search process shares with its clients (cli/resident.py)
WATCH_POLL_S = 300.0  # the watcher's rescan of every folder, besides folder events
WATCH_SETTLE_S = 2.0  # a file changed this recently is left for the next pass (it may still be written)
