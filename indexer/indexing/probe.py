"""``python -m indexer.indexing.probe KIND PATH``: decode one file as indexing does, in a process of its
own, so that a decoder that crashes takes only this process (``inflight.crash_of`` reads its end)."""

from __future__ import annotations

import sys
from pathlib import Path

from indexer.base.config import Settings
from indexer.indexing.pictures import decode_pictures

FLAG = "--probe-decode"  # how a frozen bundle (no ``python -m``) is asked for a probe


def main(argv: list[str]) -> int:
    kind, path = argv
    try:
        decode_pictures(Path(path), kind, Settings(), 256, 224, regions=False, video_workers=1)
    except Exception:  # noqa: BLE001 - a Python error is indexing's to report, as usual; only a crash matters here
        return 1
    return 0


def run_if_asked(argv: list[str]) -> None:
    """In a bundle's entry point: exit after the probe if this process was started for one."""
    if argv[1:2] == [FLAG]:
        sys.exit(main(argv[2:]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
