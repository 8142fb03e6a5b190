"""The SQLite database: the one source of truth for files, metadata, vectors and text.

``Store`` is every statement the engine runs, behind named methods: here the connection,
transactions, meta, roots and files; the vector tables (``store_vectors.py``) and the text
tables (``store_text.py``) are mixed in. The schema and its migrations are in ``schema.py``.
The hnswlib index (``ann.py``) is a cache derived from the ``vectors`` table; the
``version`` counter and the ``tombstones`` table let it catch up after a crash without
a full rebuild.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlite_utils

from indexer.base.errors import StoreError, explain_sqlite
from indexer.base.paths import from_db, to_db
from indexer.store.common import CommonStore
from indexer.store.rows import (
    FILE_FIELDS,
    FileRecord,
    FileRow,
    RootRow,
    TextPattern,
    TextRow,
    VectorIn,
    _file_row,
    chunks,
    decode_vec,
    encode_vec,
)
from indexer.store.schema import SCHEMA
from indexer.store.text import TextTables
from indexer.store.vectors import VectorTables

__all__ = ["FileRecord", "FileRow", "RootRow", "Store", "StoreError", "TextPattern", "TextRow", "VectorIn",
           "decode_vec", "encode_vec"]

class Store(VectorTables, TextTables, CommonStore):
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
                raise StoreError(explain_sqlite(e, self.path)) from e

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        with self._lock:
            return self.db.execute(sql, params).fetchall()

    def _run(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self._lock:
            return self.db.execute(sql, params).rowcount

    _vec = staticmethod(decode_vec)  # float16 bytes (rows.encode_vec)

    @staticmethod
    def _under(prefix_len: int) -> str:
        return f"(CAST(path AS BLOB) = ? OR substr(CAST(path AS BLOB), 1, {prefix_len}) = ?)"

    @staticmethod
    def _one_of(column: str, values: list[Any]) -> tuple[str, list[Any]]:
        return f"{column} IN ({','.join('?' * len(values))})", values

    # meta -------------------------------------------------------------------------
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
            dropped = self.remove_files(ids)
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

    def files_by_id(self, ids: Iterable[int]) -> dict[int, FileRow]:
        ids = list(ids)
        out: dict[int, FileRow] = {}
        for chunk in chunks(ids):
            marks = ",".join("?" * len(chunk))
            out.update((r.id, r) for r in self._files(f"id IN ({marks})", chunk))
        return out

    def put_file(self, record: FileRecord, vectors: Sequence[VectorIn],
                 regions_for: Sequence[str | None] = ()) -> list[int]:
        """Insert or replace a file and its vectors; old vectors become tombstones. ``regions_for``:
        the models whose region vectors are among ``vectors`` (regions.py; the gate may leave none).

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
        new = [self._insert_vector(file_id, v) for v in vectors]
        self.mark_regions(file_id, regions_for)
        return new

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
                if self.db.conn.in_transaction:  # SQLite rolls the whole transaction back itself on some errors
                    self.db.execute("ROLLBACK TO one_file")  # (a full disk): then there is no savepoint to undo,
                    self.db.execute("RELEASE one_file")  # and the error to report is the original one
                raise
            self.db.execute("RELEASE one_file")

    def set_aside(self, file_id: int, reason: str) -> None:
        """A known file that crashed its decoder in a pass: an error row (its vectors and words dropped),
        tried again once it changes or the errors are retried."""
        with self.transaction():
            self.db.execute("UPDATE files SET status = 'error', error = ? WHERE id = ?", [reason, file_id])
            self._drop_vectors_of([file_id])
            self._drop_text_of([file_id])

    def mark_errors_for_retry(self) -> int:
        """Failed files get another attempt on the next indexing run."""
        with self.transaction():
            return self.db.execute("UPDATE files SET status = 'retry' WHERE status = 'error'").rowcount

    def set_problems(self, root_ids: Sequence[int], problems: Sequence[tuple[str, str, int | None]]) -> None:
        """What a whole crawl of these roots could not open (path, reason, root): recorded with its reason, and
        the problems it no longer met (a folder made readable, a file gone) forgotten. No vectors change, so
        the store's version does not (a watcher's poll that finds nothing rewrites no index)."""
        with self._lock, self.db.atomic():
            keep = [to_db(path) for path, _, _ in problems]
            self.db.execute(f"DELETE FROM files WHERE kind = 'unreadable' AND root_id IN ({', '.join('?' * len(root_ids))}) "
                            f"AND path NOT IN ({', '.join('?' * len(keep))})", [*root_ids, *keep])
            for path, reason, root_id in problems:
                self.db.execute(
                    "INSERT INTO files (path, kind, status, error, indexed_at, root_id) "
                    "VALUES (?, 'unreadable', 'error', ?, ?, ?) ON CONFLICT(path) DO UPDATE SET status = 'error', "
                    "error = excluded.error, root_id = excluded.root_id", [to_db(path), reason, time.time(), root_id])

    def delete_files(self, ids: Sequence[int]) -> list[int]:
        """Remove files; returns the vector ids that left the library."""
        with self.transaction():
            return self.remove_files(ids)

    def remove_files(self, ids: Sequence[int]) -> list[int]:
        """``delete_files`` inside a ``transaction()`` the caller holds (a batch's write)."""
        dropped = self._drop_vectors_of(ids)
        self._drop_text_of(ids)
        for chunk in chunks(ids):
            self.db.execute(f"DELETE FROM files WHERE id IN ({','.join('?' * len(chunk))})", chunk)
        return dropped

    # searches: recent and saved ---------------------------------------------------------
    def remember_search(self, query: str, keep: int = 20) -> None:
        """A search just run, as the newest recent one (once: an identical one moves up)."""
        with self._lock, self.db.atomic():
            self.forget_search(query)
            self.db.execute("INSERT INTO searches (name, query, used) VALUES (NULL, ?, ?)", [query, time.time()])
            self.db.execute("DELETE FROM searches WHERE name IS NULL AND id NOT IN "
                            "(SELECT id FROM searches WHERE name IS NULL ORDER BY used DESC, id DESC LIMIT ?)", [keep])

    def save_search(self, name: str, query: str, seen: Sequence[int]) -> None:
        """Keep a search under ``name`` (replacing one of that name), with the files it shows now."""
        with self._lock:
            self.db.execute("INSERT INTO searches (name, query, used, seen) VALUES (?, ?, ?, ?) ON CONFLICT(name) "
                            "DO UPDATE SET query = excluded.query, used = excluded.used, seen = excluded.seen",
                            [name, query, time.time(), json.dumps(sorted(set(seen)))])
