"""Writing a file so that a crash, a full disk or a second writer never leaves it half written.

The one way Glimpse replaces a file (settings, the ANN index and its pointer, the export's
choice and runtime records, thumbnails): write a private temporary file beside it, flush
it to disk, then rename it over the target. Readers see the old file or the new one,
never a mixture; two writers never share a temporary name.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def replacing(path: Path, fsync: bool = True) -> Iterator[Path]:
    """A temporary path to write; when the block succeeds it atomically becomes ``path``."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        if fsync:
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str, fsync: bool = True) -> None:
    with replacing(path, fsync) as tmp:
        tmp.write_text(text)
