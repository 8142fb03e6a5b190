"""The first export of a model for the torch-free runtime, run as a child process
(``model.export_in_child``): ``python -m indexer.model.export_child SPEC [--threads N] [--cache DIR]``,
or in a frozen bundle its own binary with ``--export-model SPEC ...`` (``run_if_asked``).

Exit status 0 once the export folder holds a runtime that loads (or the model cannot be exported
and that is remembered, which the parent then finds); anything else is reported on stderr, and
the parent exports in its own process instead.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from indexer.model import runtime
from indexer.model.openclip import EXPORT_FLAG, Embedder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m indexer.model.export_child")
    parser.add_argument("spec")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--cache", type=Path, default=None)
    args = parser.parse_args(argv)
    emb = Embedder(args.spec, args.threads, "int8", args.cache)
    return 0 if runtime.exported(emb.folder) else 1  # not written (a full disk): the parent tries too


def run_if_asked(argv: list[str]) -> None:
    """In a bundle's entry point: exit after exporting if this process was started to export."""
    if argv[1:2] == [EXPORT_FLAG]:
        sys.exit(main(argv[2:]))


if __name__ == "__main__":
    sys.exit(main())
