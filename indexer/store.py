"""The SQLite database: the one source of truth for files, metadata and vectors.

Every schema change lives here, as a ``sqlite_utils.Migrations`` step with a reason.
The hnswlib index (``ann.py``) is a cache derived from the ``vectors`` table; the
``version`` counter and the ``tombstones`` table let it catch up after a crash
without a full rebuild.
"""

from __future__ import annotations

import dataclasses
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import sqlite_utils

from indexer.filters import Filters
from indexer.paths import from_db, to_db
from indexer.rows import (
    FILE_FIELDS,
    TEXT_FIELDS,
    FileRecord,
    FileRow,
    RootRow,
    TextRow,
    VectorIn,
    _file_row,
    _text_row,
    decode_vec,
    encode_vec,
)
from indexer.schema import SCHEMA

__all__ = ["FileRecord", "FileRow", "RootRow", "Store", "StoreError", "TextRow", "VectorIn", "decode_vec", "encode_vec"]

class StoreError(RuntimeError):
    """The database cannot be opened or written; the message says why in plain words."""


class Store:
    """A thread-safe handle on the library database (one connection, one lock)."""

    def __init__(self, path: Path, migrate: bool = True) -> None:
        self.path = path
        self._lock = threading.RLock()
        try:
            conn = sqlite3.connect(str(path), check_same_thread=False, timeout=30, isolation_level=None)
            self.db = sqlite_utils.Database(conn)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            if migrate:
                SCHEMA.apply(self.db)  # each step in its own transaction with its record
        except sqlite3.DatabaseError as e:
            raise StoreError(f"cannot open the library database {path}: {e}") from e
        # The model whose vectors reads see unless told otherwise (the library's active model).
        self.model = (self.get_meta("model") or "") if migrate else ""

    def _m(self, model: str | None) -> str:
        return self.model if model is None else model
    def close(self) -> None:
        with self._lock:
            self.db.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic write; bumps ``version`` so the ANN cache knows it is behind."""
        with self._lock:
            try:
                with self.db.atomic():
                    yield
                    self.db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'version'")
            except sqlite3.OperationalError as e:
                raise StoreError(_explain(e, self.path)) from e

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        with self._lock:
            return self.db.execute(sql, params).fetchall()

    # meta -------------------------------------------------------------------------
    def version(self) -> int:
        return int(self.get_meta("version") or 0)

    def get_meta(self, key: str) -> str | None:
        rows = self._query("SELECT value FROM meta WHERE key = ?", [key])
        return rows[0][0] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, value])

    def schema_migrations(self) -> list[str]:
        return [m.name for m in SCHEMA.applied(self.db)]

    def migrate(self) -> None:
        with self._lock:
            SCHEMA.apply(self.db)

    def pending_migrations(self) -> list[str]:
        with self._lock:
            return [m.name for m in SCHEMA.pending(self.db)]

    # health (doctor) ----------------------------------------------------------------
    def integrity_problems(self) -> list[str]:
        """SQLite's own check; empty when the database file is sound."""
        rows = [r[0] for r in self._query("PRAGMA integrity_check")]
        return [] if rows == ["ok"] else rows

    def orphan_vector_count(self) -> int:
        return int(self._query("SELECT COUNT(*) FROM vectors WHERE file_id NOT IN (SELECT id FROM files)")[0][0])

    def delete_orphan_vectors(self) -> int:
        with self.transaction():
            return self.db.execute("DELETE FROM vectors WHERE file_id NOT IN (SELECT id FROM files)").rowcount

    def duplicate_paths(self) -> list[str]:
        return [from_db(r[0]) for r in self._query("SELECT path FROM files GROUP BY path HAVING COUNT(*) > 1")]

    # roots ------------------------------------------------------------------------
    def add_root(self, path: str) -> RootRow:
        with self._lock:
            self.db.execute("INSERT OR IGNORE INTO roots (path, added, online) VALUES (?, ?, 1)",
                            [to_db(path), time.time()])
        return next(r for r in self.roots() if r.path == path)

    def roots(self) -> list[RootRow]:
        rows = self._query("SELECT id, path, added, online FROM roots ORDER BY path")
        return [RootRow(i, from_db(p), a, bool(o)) for i, p, a, o in rows]

    def remove_root(self, root_id: int) -> list[int]:
        """Forget a root and everything under it; returns the vector ids dropped."""
        with self.transaction():
            ids = [r[0] for r in self._query("SELECT id FROM files WHERE root_id = ?", [root_id])]
            dropped = self._delete_files(ids)
            self.db.execute("DELETE FROM roots WHERE id = ?", [root_id])
        return dropped

    def set_root_online(self, root_id: int, online: bool) -> None:
        with self._lock:
            self.db.execute("UPDATE roots SET online = ? WHERE id = ?", [int(online), root_id])

    # files ------------------------------------------------------------------------
    def file(self, path: str) -> FileRow | None:
        rows = self._query(f"SELECT {', '.join(FILE_FIELDS)} FROM files WHERE path = ?", [to_db(path)])
        return _file_row(rows[0]) if rows else None

    def _files(self, where: str = "1", params: Sequence[Any] = ()) -> list[FileRow]:
        return [_file_row(r) for r in self._query(f"SELECT {', '.join(FILE_FIELDS)} FROM files WHERE {where}", params)]

    def files(self, status: str | None = None, kind: str | None = None) -> list[FileRow]:
        """Every file the library knows (with this status and kind), in path order."""
        where, args = ["1"], []
        for col, val in (("status", status), ("kind", kind)):
            if val is not None:
                where.append(f"{col} = ?")
                args.append(val)
        return self._files(" AND ".join(where) + " ORDER BY path", args)

    def files_of_root(self, root_id: int) -> list[FileRow]:
        return self._files("root_id = ?", [root_id])

    def filtered(self, f: Filters) -> list[FileRow]:
        """Indexed files that pass ``f`` (the query's filters), as SQL over ``files``."""
        where, args = ["status = 'ok'"], []
        if f.kind != "all":
            where.append("kind = ?")
            args.append(f.kind)
        if f.after is not None:
            where.append("COALESCE(taken_at, mtime) >= ?")
            args.append(f.after)
        if f.before is not None:
            where.append("COALESCE(taken_at, mtime) < ?")
            args.append(f.before)
        if f.folder:
            # Compared as bytes: exact (case-sensitive) and right for names that are not UTF-8 (paths.py).
            where.append("(CAST(path AS BLOB) = ? OR substr(CAST(path AS BLOB), 1, ?) = ?)")
            folder = os.fsencode(str(Path(f.folder).expanduser().resolve()))
            prefix = folder.rstrip(b"/") + b"/"
            args += [folder, len(prefix), prefix]
        if f.camera:
            where.append("camera LIKE ?")
            args.append(f"%{f.camera}%")
        if f.has_gps is not None:
            where.append("lat IS NOT NULL" if f.has_gps else "lat IS NULL")
        if f.has_text is not None:
            where.append(("" if f.has_text else "NOT ") + "EXISTS (SELECT 1 FROM text_lines t WHERE t.file_id = files.id)")
        if f.min_size:
            where.append("MIN(width, height) >= ?")
            args.append(f.min_size)
        if f.extensions:
            exts = [e.lower().lstrip(".") for e in f.extensions]
            exts += ["jpeg"] if "jpg" in exts else []
            where.append(f"ext IN ({','.join('?' * len(exts))})")
            args += exts
        return self._files(" AND ".join(where), args)


    def files_by_id(self, ids: Iterable[int]) -> dict[int, FileRow]:
        ids = list(ids)
        out: dict[int, FileRow] = {}
        for chunk in _chunks(ids):
            marks = ",".join("?" * len(chunk))
            out.update((r.id, r) for r in self._files(f"id IN ({marks})", chunk))
        return out

    def put_file(self, record: FileRecord, vectors: Sequence[VectorIn]) -> list[int]:
        """Insert or replace a file and its vectors; old vectors become tombstones.

        Call inside ``transaction()`` so a batch commits together. Returns new vector ids.
        """
        values = {**dataclasses.asdict(record), "path": to_db(record.path)}
        cols = list(values)
        self.db.execute(
            f"INSERT INTO files ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
            f"ON CONFLICT(path) DO UPDATE SET {', '.join(f'{c}=excluded.{c}' for c in cols)}",
            [values[c] for c in cols])
        file_id = self.db.execute("SELECT id FROM files WHERE path = ?", [values["path"]]).fetchone()[0]
        self._drop_vectors_of([file_id])
        self._drop_text_of([file_id])  # new content: its words are read again by the text pass
        new = []
        for v in vectors:
            new.append(self._insert_vector(file_id, v))
        return new

    def _insert_vector(self, file_id: int, v: VectorIn) -> int:
        cur = self.db.execute("INSERT INTO vectors (file_id, ts, start, end, vec, model) VALUES (?, ?, ?, ?, ?, ?)",
                              [file_id, v.ts, v.start, v.end, encode_vec(v.vec), self._m(v.model)])
        return int(cur.lastrowid)

    def move_file(self, file_id: int, path: str, root_id: int, mtime: float, size: int, ext: str) -> None:
        """A known file under a new name: the row (and so its vectors) is kept."""
        self.db.execute("UPDATE files SET path = ?, root_id = ?, mtime = ?, size = ?, ext = ? WHERE id = ?",
                        [to_db(path), root_id, mtime, size, ext, file_id])

    def touch_file(self, file_id: int, mtime: float, size: int) -> None:
        """Same content, new mtime (a copy back or a touch): nothing to embed again."""
        self.db.execute("UPDATE files SET mtime = ?, size = ? WHERE id = ?", [mtime, size, file_id])

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Inside ``transaction()``: undo just this part if it fails (one file of a batch)."""
        with self._lock:
            self.db.execute("SAVEPOINT one_file")
            try:
                yield
            except BaseException:
                self.db.execute("ROLLBACK TO one_file")
                self.db.execute("RELEASE one_file")
                raise
            self.db.execute("RELEASE one_file")

    def mark_errors_for_retry(self) -> int:
        """Failed files get another attempt on the next indexing run."""
        with self.transaction():
            return self.db.execute("UPDATE files SET status = 'retry' WHERE status = 'error'").rowcount

    def root_counts(self, root_id: int) -> dict[tuple[str, str], int]:
        """(kind, status) -> number of files under one root."""
        q = "SELECT kind, status, COUNT(*) FROM files WHERE root_id = ? GROUP BY kind, status"
        return {(k, s): n for k, s, n in self._query(q, [root_id])}

    def put_problem(self, path: str, reason: str) -> None:
        """Record something the crawl could not open (a folder or file) with its reason."""
        with self.transaction():
            self.db.execute(
                "INSERT INTO files (path, kind, status, error, indexed_at) VALUES (?, 'unreadable', 'error', ?, ?) "
                "ON CONFLICT(path) DO UPDATE SET status = 'error', error = excluded.error", [to_db(path), reason, time.time()])

    def delete_files(self, ids: Sequence[int]) -> list[int]:
        """Remove files; returns the vector ids that left the library."""
        with self.transaction():
            return self._delete_files(ids)

    def _delete_files(self, ids: Sequence[int]) -> list[int]:
        dropped = self._drop_vectors_of(ids)
        self._drop_text_of(ids)
        for chunk in _chunks(ids):
            self.db.execute(f"DELETE FROM files WHERE id IN ({','.join('?' * len(chunk))})", chunk)
        return dropped

    def _drop_vectors_of(self, file_ids: Sequence[int], model: str | None = None) -> list[int]:
        """Vectors of these files (of every model, or only of ``model``) become tombstones."""
        dropped: list[int] = []
        version = self.version() + 1
        only = "" if model is None else " AND model = ?"
        extra = [] if model is None else [model]
        for chunk in _chunks(file_ids):
            marks = ",".join("?" * len(chunk))
            vids = [r[0] for r in self.db.execute(f"SELECT id FROM vectors WHERE file_id IN ({marks}){only}",
                                                  [*chunk, *extra])]
            self.db.execute(f"DELETE FROM vectors WHERE file_id IN ({marks}){only}", [*chunk, *extra])
            self.db.conn.executemany("INSERT OR REPLACE INTO tombstones VALUES (?, ?)", [(v, version) for v in vids])
            dropped += vids
        return dropped

    def _drop_text_of(self, file_ids: Sequence[int]) -> None:
        for chunk in _chunks(file_ids):
            marks = ",".join("?" * len(chunk))
            self.db.execute(f"DELETE FROM text_lines WHERE file_id IN ({marks})", chunk)
            self.db.execute(f"UPDATE files SET text_read = NULL WHERE id IN ({marks})", chunk)

    def counts(self) -> dict[str, int]:
        q = "SELECT kind, status, COUNT(*) FROM files GROUP BY kind, status"
        out = {f"{k}:{s}": n for k, s, n in self._query(q)}
        out["vectors"] = self.vector_count()
        return out

    # text read in pictures -----------------------------------------------------------
    def files_without_text(self, reader: str, kinds: Sequence[str], limit: int = 10_000) -> list[FileRow]:
        """Indexed files the text pass has not read with ``reader`` yet, oldest rows first."""
        marks = ",".join("?" * len(kinds))
        return self._files(f"status = 'ok' AND kind IN ({marks}) AND (text_read IS NULL OR text_read != ?) "
                          f"ORDER BY id LIMIT ?", [*kinds, reader, limit])

    def text_pending_count(self, reader: str, kinds: Sequence[str]) -> int:
        marks = ",".join("?" * len(kinds))
        q = (f"SELECT COUNT(*) FROM files WHERE status = 'ok' AND kind IN ({marks}) "
             "AND (text_read IS NULL OR text_read != ?)")
        return int(self._query(q, [*kinds, reader])[0][0])

    def text_read_count(self) -> tuple[int, int]:
        """(files whose text was read, of them files where some text was found)."""
        read = self._query("SELECT COUNT(*) FROM files WHERE text_read IS NOT NULL")[0][0]
        found = self._query("SELECT COUNT(DISTINCT file_id) FROM text_lines")[0][0]
        return int(read), int(found)

    def put_text(self, file_id: int, reader: str, lines: Sequence[tuple[str, float, Sequence[float], float | None]],
                 expect_mtime: float | None) -> bool:
        """Replace a file's text with ``lines`` (text, confidence, box, ts) read by ``reader``.

        Committed on its own (a kill loses at most the file being read) and without
        bumping the vector ``version``: text does not change what the ANN cache holds.
        Returns False, writing nothing, when the file changed since it was read
        (``expect_mtime``): the next indexing run puts the new content and it is read again.
        """
        with self._lock:
            try:
                with self.db.atomic():
                    row = self.db.execute("SELECT mtime FROM files WHERE id = ?", [file_id]).fetchone()
                    if row is None or row[0] != expect_mtime:
                        return False
                    self.db.execute("DELETE FROM text_lines WHERE file_id = ?", [file_id])
                    self.db.conn.executemany(
                        "INSERT INTO text_lines (file_id, ts, text, confidence, x0, y0, x1, y1) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        [(file_id, ts, text, conf, *box) for text, conf, box, ts in lines])
                    self.db.execute("UPDATE files SET text_read = ? WHERE id = ?", [reader, file_id])
                    return True
            except sqlite3.OperationalError as e:
                raise StoreError(_explain(e, self.path)) from e

    def was_text_read(self, file_id: int) -> bool:
        return bool(self._query("SELECT text_read IS NOT NULL FROM files WHERE id = ?", [file_id])[0][0])

    def text_of(self, file_id: int) -> list[TextRow]:
        rows = self._query(f"SELECT {TEXT_FIELDS} FROM text_lines WHERE file_id = ? ORDER BY ts, y0, x0", [file_id])
        return [_text_row(r) for r in rows]

    def match_text(self, fts_query: str, limit: int = 5000) -> list[tuple[TextRow, float]]:
        """Lines matching an FTS5 query, best first, with FTS5's bm25 rank (lower is better)."""
        q = (f"SELECT {', '.join('l.' + c.strip() for c in TEXT_FIELDS.split(','))}, text_fts.rank "
             "FROM text_fts JOIN text_lines l ON l.id = text_fts.rowid WHERE text_fts MATCH ? "
             "ORDER BY text_fts.rank LIMIT ?")
        try:
            rows = self._query(q, [fts_query, limit])
        except sqlite3.OperationalError:  # a query FTS5 cannot parse matches nothing
            return []
        return [(_text_row(r[:-1]), float(r[-1])) for r in rows]

    # vectors ----------------------------------------------------------------------
    def vectors_since(self, after_id: int, batch: int = 20000,
                      model: str | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(ids, float32 matrix) chunks of every vector of ``model`` with id > ``after_id``."""
        last = after_id
        while True:
            rows = self._query("SELECT id, vec FROM vectors WHERE id > ? AND model = ? ORDER BY id LIMIT ?",
                               [last, self._m(model), batch])
            if not rows:
                return
            ids = np.array([r[0] for r in rows], dtype=np.int64)
            yield ids, np.stack([decode_vec(r[1]) for r in rows])
            last = int(ids[-1])

    def tombstones_since(self, version: int) -> list[int]:
        return [r[0] for r in self._query("SELECT id FROM tombstones WHERE version > ?", [version])]

    def vector_count(self, model: str | None = None) -> int:
        return int(self._query("SELECT COUNT(*) FROM vectors WHERE model = ?", [self._m(model)])[0][0])

    def vectors_by_id(self, ids: Sequence[int]) -> list[np.ndarray]:
        out: list[np.ndarray] = []
        for chunk in _chunks(ids):
            q = f"SELECT vec FROM vectors WHERE id IN ({','.join('?' * len(chunk))})"
            out += [decode_vec(r[0]) for r in self._query(q, chunk)]
        return out

    def vector_count_of(self, file_ids: Iterable[int]) -> int:
        ids = list(file_ids)
        n = 0
        for chunk in _chunks(ids):
            q = f"SELECT COUNT(*) FROM vectors WHERE model = ? AND file_id IN ({','.join('?' * len(chunk))})"
            n += self._query(q, [self.model, *chunk])[0][0]
        return n

    def vectors_of_files(self, file_ids: Iterable[int]) -> tuple[np.ndarray, np.ndarray]:
        """(vector ids, matrix) of every vector of these files, for exact search."""
        ids, vecs = [], []
        fids = list(file_ids)
        for chunk in _chunks(fids):
            q = f"SELECT id, vec FROM vectors WHERE model = ? AND file_id IN ({','.join('?' * len(chunk))})"
            rows = self._query(q, [self.model, *chunk])
            ids += [r[0] for r in rows]
            vecs += [decode_vec(r[1]) for r in rows]
        if not ids:
            return np.zeros(0, np.int64), np.zeros((0, 1), np.float32)
        return np.array(ids, np.int64), np.stack(vecs)

    # models ------------------------------------------------------------------------
    def files_missing_model(self, model: str, limit: int = 10**9) -> list[FileRow]:
        """Indexed files that have no vectors of ``model`` yet (what a model switch still has to do)."""
        return self._files("status = 'ok' AND NOT EXISTS (SELECT 1 FROM vectors v WHERE v.file_id = files.id "
                          "AND v.model = ?) ORDER BY id LIMIT ?", [model, limit])

    def coverage(self, model: str) -> tuple[int, int]:
        """(indexed files with vectors of ``model``, indexed files)."""
        total = self._query("SELECT COUNT(*) FROM files WHERE status = 'ok'")[0][0]
        done = self._query("SELECT COUNT(*) FROM files WHERE status = 'ok' AND EXISTS (SELECT 1 FROM vectors v "
                           "WHERE v.file_id = files.id AND v.model = ?)", [model])[0][0]
        return int(done), int(total)

    def model_bytes(self) -> dict[str, int]:
        """Space the vectors of each model take in the database (vector data and row overhead)."""
        rows = self._query("SELECT model, SUM(LENGTH(vec) + 40), COUNT(*) FROM vectors GROUP BY model")
        return {m: int(b) for m, b, _ in rows}

    def put_model_vectors(self, file_id: int, model: str, vectors: Sequence[VectorIn],
                          expect_mtime: float | None) -> bool:
        """Set one file's vectors of ``model`` (a model switch); its other models' vectors stay.

        Inside ``transaction()``. False, writing nothing, when the file changed since it was
        decoded (``expect_mtime``): indexing puts its new content with every model.
        """
        row = self.db.execute("SELECT mtime, status FROM files WHERE id = ?", [file_id]).fetchone()
        if row is None or row[0] != expect_mtime or row[1] != "ok":
            return False
        self._drop_vectors_of([file_id], model)
        for v in vectors:
            self._insert_vector(file_id, dataclasses.replace(v, model=model))
        return True

    def drop_model(self, model: str) -> int:
        """Forget every vector of ``model`` (an abandoned switch, or a pruned old model)."""
        with self.transaction():
            ids = [r[0] for r in self.db.execute("SELECT id FROM vectors WHERE model = ?", [model])]
            self.db.execute("DELETE FROM vectors WHERE model = ?", [model])
            self.db.conn.executemany("INSERT OR REPLACE INTO tombstones VALUES (?, ?)",
                                     [(v, self.version() + 1) for v in ids])
        return len(ids)

    def size_bytes(self) -> int:
        """The database's size (its pages, wherever they are: main file or write-ahead log)."""
        pages, size = self._query("PRAGMA page_count")[0][0], self._query("PRAGMA page_size")[0][0]
        return int(pages) * int(size)

    def compact(self) -> None:
        """Give freed pages back to the file system (after dropping a model's vectors)."""
        with self._lock:
            self.db.execute("VACUUM")
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # in WAL mode the file shrinks only here

    def switch_active(self, model: str, meta: dict[str, str], clear: Sequence[str]) -> None:
        """Make ``model`` the active one and update ``meta`` in one transaction (a switch's flip)."""
        with self.transaction():
            for k, v in meta.items():
                self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [k, v])
            for k in clear:
                self.db.execute("DELETE FROM meta WHERE key = ?", [k])
        self.model = model

    def max_vector_id(self) -> int:
        return int(self._query("SELECT COALESCE(MAX(id), 0) FROM vectors")[0][0])

    def vector_ids(self, model: str | None = None) -> set[int]:
        return {r[0] for r in self._query("SELECT id FROM vectors WHERE model = ?", [self._m(model)])}

    def vector_rows(self, ids: Sequence[int]) -> dict[int, tuple[int, float | None, float | None, float | None]]:
        """vector id -> (file_id, ts, start, end)."""
        out = {}
        for chunk in _chunks(ids):
            q = f"SELECT id, file_id, ts, start, end FROM vectors WHERE id IN ({','.join('?' * len(chunk))})"
            out.update((r[0], r[1:]) for r in self._query(q, chunk))
        return out

    def vectors_of(self, file_id: int, model: str | None = None) -> list[tuple[int, np.ndarray, float | None]]:
        rows = self._query("SELECT id, vec, ts FROM vectors WHERE file_id = ? AND model = ? ORDER BY ts",
                           [file_id, self._m(model)])
        return [(r[0], decode_vec(r[1]), r[2]) for r in rows]


SQL_VARIABLES = 900  # below SQLite's default limit of 999 bound parameters per statement


def _chunks(ids: Iterable[Any]) -> Iterator[list[int]]:
    """``ids`` as int lists small enough for one ``IN (?, ?, ...)``: the one place this is done."""
    ids = [int(i) for i in ids]
    for i in range(0, len(ids), SQL_VARIABLES):
        yield ids[i:i + SQL_VARIABLES]


def _explain(e: sqlite3.OperationalError, path: Path) -> str:
    msg = str(e)
    if "full" in msg:
        return f"the disk holding {path.parent} is full; free some space and run again (nothing was lost)"
    if "readonly" in msg or "read-only" in msg:
        return f"the library at {path.parent} is read-only; choose another with --library"
    if "locked" in msg:
        return f"another Glimpse process is writing to {path.parent}; try again when it finishes"
    return f"database error in {path}: {msg}"
