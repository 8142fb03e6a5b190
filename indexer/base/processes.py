"""How Glimpse starts itself in another process: the resident search, a supervised index run, a
model's export, a decode probe. One place, because a frozen bundle (PyInstaller) has no
``python -m``: its own binary is started instead, told by a flag what to do."""

from __future__ import annotations

import sys


def own_command(module: str = "indexer", flag: str | None = None) -> list[str]:
    """``python -m module``, or in a frozen bundle its binary with ``flag`` (none: the glimpse command itself)."""
    if getattr(sys, "frozen", False):
        return [sys.executable, *([flag] if flag else [])]
    return [sys.executable, "-m", module]
