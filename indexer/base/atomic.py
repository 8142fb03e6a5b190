"""Writing a file so that a crash, a full disk or a second writer never leaves it half written.

The one way Glimpse replaces a file (settings, the ANN index and its pointer, the export's
choice and runtime records, thumbnails): write a private temporary file beside it, flush
it to disk, then rename it over the target. Readers see the old file or the new one,
never a mixture; two writers never share a temporary name.

``new_file`` is the same for a file that must not replace anything (copies the user
exports): the final name is the first free one, claimed with ``O_EXCL`` before the rename,
so neither Glimpse nor another program writing there at the same moment loses a file.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def replacing(path: Path, fsync: bool = True) -> Iterator[Path]:
    """A temporary path to write; when the block succeeds it atomically becomes ``path``."""
    # the writer's pid in the name: a temp file whose writer is gone is known stale at once (``is_stale``)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}-", suffix=".tmp")
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


def is_stale(tmp: Path, older_than: float) -> bool:
    """A temp file of ``replacing`` left by a writer that was killed: its process no longer runs (this
    machine), or it was untouched for ``older_than`` seconds (a name without a pid, another machine's)."""
    try:
        pid = int(tmp.name.removesuffix(".tmp").rsplit(".", 1)[-1].split("-", 1)[0])
    except ValueError:
        pid = 0
    if pid > 0 and pid != os.getpid():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass  # another user's process runs under that pid
    try:
        return time.time() - tmp.stat().st_mtime > older_than
    except OSError:
        return False


@dataclasses.dataclass
class NewFile:
    tmp: Path  # write here (it ends with the final name's extension: encoders pick formats by it)
    path: Path | None = None  # where it ended up, once the block succeeded


@contextmanager
def new_file(folder: Path, name: str) -> Iterator[NewFile]:
    """A temporary path to write; when the block succeeds it becomes ``folder/name``, or
    ``name (2)``, ``name (3)``... when that is taken: never an existing file."""
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".part" + os.path.splitext(name)[1])
    os.close(fd)
    out = NewFile(Path(tmp))
    try:
        yield out
        with open(out.tmp, "rb+") as f:
            os.fsync(f.fileno())
        out.path = _claim(folder, name)
        os.replace(out.tmp, out.path)  # over the empty file we created ourselves
    except BaseException:
        out.tmp.unlink(missing_ok=True)
        raise


def _claim(folder: Path, name: str) -> Path:
    """Create the first free name of ``name``, ``name (2)``... exclusively (O_EXCL)."""
    base, ext = os.path.splitext(name)
    for n in itertools.count(1):
        candidate = folder / (name if n == 1 else f"{base} ({n}){ext}")
        try:
            os.close(os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
            return candidate
        except FileExistsError:
            continue
    raise AssertionError("unreachable")


def write_text(path: Path, text: str, fsync: bool = True) -> None:
    with replacing(path, fsync) as tmp:
        tmp.write_text(text)
