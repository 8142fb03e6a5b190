"""What the store reads and writes, as typed rows (no SQL here: that is database.py's)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np

from indexer.base.paths import from_db


@dataclasses.dataclass(frozen=True)
class FileRow:
    """One file as the library knows it."""

    id: int
    path: str
    root_id: int | None
    kind: str
    ext: str | None
    size: int | None
    mtime: float | None
    hash: str | None
    width: int | None
    height: int | None
    taken_at: float | None
    camera: str | None
    lat: float | None
    lon: float | None
    duration: float | None
    status: str
    error: str | None
    indexed_at: float | None


@dataclasses.dataclass
class FileRecord:
    """A file as indexing found it, to be written (``put_file``); filled in as it is decoded."""

    path: str
    kind: str
    status: str = "ok"
    root_id: int | None = None
    ext: str | None = None
    size: int | None = None
    mtime: float | None = None
    hash: str | None = None
    width: int | None = None
    height: int | None = None
    taken_at: float | None = None
    camera: str | None = None
    lat: float | None = None
    lon: float | None = None
    duration: float | None = None
    error: str | None = None
    indexed_at: float | None = None

    def set(self, **values: object) -> None:
        for k, v in values.items():
            setattr(self, k, v)


@dataclasses.dataclass(frozen=True)
class RootRow:
    id: int
    path: str
    added: float
    online: bool


@dataclasses.dataclass(frozen=True)
class VectorIn:
    """A vector to store; ``ts``/``start``/``end`` are seconds for video frames."""

    vec: np.ndarray
    ts: float | None = None
    start: float | None = None
    end: float | None = None
    model: str | None = None  # None: the store's active model
    box: tuple[float, float, float, float] | None = None  # a region of a photo (regions.py); None: all of it


@dataclasses.dataclass(frozen=True)
class VectorRow:
    """Where a stored vector comes from: its file, a video frame's time and moment, a photo region."""

    file_id: int
    ts: float | None = None
    start: float | None = None
    end: float | None = None
    box: tuple[float, float, float, float] | None = None


@dataclasses.dataclass(frozen=True)
class TextRow:
    """A line of text read in a file; ``box`` is (x0, y0, x1, y1) as fractions of the picture."""

    id: int
    file_id: int
    text: str
    confidence: float
    box: tuple[float, float, float, float]
    ts: float | None = None


@dataclasses.dataclass(frozen=True)
class TextPattern:
    """What a text search asks the store for: these tokens (base/tokens.py) next to each other, in
    this order; ``prefix``: the last one may go on ("hauptbahn" finds "hauptbahnhof")."""

    words: tuple[str, ...]
    prefix: bool = False


FILE_FIELDS = [f.name for f in dataclasses.fields(FileRow)]
TEXT_FIELDS = "id, file_id, text, confidence, x0, y0, x1, y1, ts"


def _text_row(r: Sequence[Any]) -> TextRow:
    return TextRow(r[0], r[1], r[2], r[3], (r[4], r[5], r[6], r[7]), r[8])


def _file_row(r: Sequence[Any]) -> FileRow:
    return FileRow(r[0], from_db(r[1]), *r[2:])


def encode_vec(v: np.ndarray) -> bytes:
    """float16 halves the database; cosine error stays below 1e-3 for unit vectors."""
    return np.asarray(v, dtype=np.float16).tobytes()


def decode_vec(b: bytes) -> np.ndarray:
    return np.frombuffer(b, dtype=np.float16).astype(np.float32)


SQL_VARIABLES = 900  # below SQLite's default limit of 999 bound parameters per statement


def chunks(ids: Iterable[Any]) -> Iterator[list[int]]:
    """``ids`` as int lists small enough for one ``IN (?, ?, ...)``: the one place this is done."""
    ids = [int(i) for i in ids]
    for i in range(0, len(ids), SQL_VARIABLES):
        yield ids[i:i + SQL_VARIABLES]


class FileCounts(NamedTuple):
    """Indexed files by kind, and the files that could not be indexed (a library's, or one folder's)."""

    photos: int = 0
    videos: int = 0
    errors: int = 0

    @classmethod
    def of(cls, rows: Iterable[tuple[str, str, int]]) -> FileCounts:
        """From (kind, status, count) rows."""
        photos = videos = errors = 0
        for kind, status, n in rows:
            photos += n if (kind, status) == ("photo", "ok") else 0
            videos += n if (kind, status) == ("video", "ok") else 0
            errors += n if status == "error" else 0
        return cls(photos, videos, errors)


class TextCounts(NamedTuple):
    read: int  # pictures whose text was read
    found: int  # of them, pictures with some text


class RegionCounts(NamedTuple):
    vectors: int  # region vectors
    photos: int  # photos whose regions are made


class Coverage(NamedTuple):
    covered: int  # files with vectors of the model
    total: int  # indexed files


class SavedRow(NamedTuple):
    name: str
    query: str  # the query as JSON
    used: float  # when it was last opened
    seen: list[int]  # the file ids it showed then

