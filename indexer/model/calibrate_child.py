"""The int8 image tower decided apart from the app (``calibrated.Calibration`` with ``apart``):
``python -m indexer.model.calibrate_child GRAPH [--threads N]``, or in a frozen bundle its own
binary with ``--calibrate-image-tower GRAPH ...`` (``run_if_asked``).

It reads the photos the app kept (``calibrated.PICTURES`` beside ``GRAPH``), opens the image
tower the app runs now (the same export folder, nothing collected), and decides as the CLI does
in its own process: the outcome goes to the record the app and every later start read. A crash
here leaves the record saying "interrupted", so the next start tries once more, then never.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

from indexer.model import calibrated, runtime

NICE = 10


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m indexer.model.calibrate_child")
    parser.add_argument("graph", type=Path, help="the fp32 image graph taking uint8 pixels")
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args(argv)
    # background work beside a window and an indexing pass: the scheduler serves those first
    os.nice(NICE)
    pictures = np.load(args.graph.parent / calibrated.PICTURES)
    rt = runtime.load(args.graph.parent, args.threads, calibrate=calibrated.Deciding.NEVER)
    if rt is None:
        return 1
    decision = calibrated.Calibration(args.graph, runtime.int8_opener(args.threads))
    decision.decide(pictures, rt.towers.tower("image"))
    return 0


def run_if_asked(argv: list[str]) -> None:
    """In a bundle's entry point: exit after deciding if this process was started to decide."""
    if argv[1:2] == [calibrated.CHILD_FLAG]:
        sys.exit(main(argv[2:]))


if __name__ == "__main__":
    sys.exit(main())
