"""A library in a PostgreSQL database with pgvector: the same named methods as ``Store`` (database.py).

Several computers open one library: each one's roots and files carry its name
(``base/environment.this_computer``), writers take turns by an advisory lock
(server_lock.py), and the active model is a ``meta`` record every process reads before
it writes or searches, as in the folder library. The vector tables are ``server_vectors.py``,
the text tables ``server_text.py``, the schema ``server_schema.py``.

One connection per store, used under one lock (as the SQLite store's), in autocommit mode:
``transaction()`` is one server transaction, ``savepoint()`` a nested one.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg.sql import Composable

from indexer.base.environment import this_computer
from indexer.base.errors import LibraryError, StoreError
from indexer.base.location import public_url
from indexer.store import server_schema
from indexer.store.common import CommonStore
from indexer.store.rows import FILE_FIELDS, FileRecord, FileRow, RootRow
from indexer.store.server_text import ServerText
from indexer.store.server_vectors import ServerVectors, as_float32

_FILE_COLUMNS = ", ".join(FILE_FIELDS)


def _path(p: str) -> bytes:
    return os.fsencode(p)


def _marks(sql: str | Composable) -> str | Composable:
    return sql.replace("?", "%s") if isinstance(sql, str) else sql


def _file_row(r: Sequence[Any]) -> FileRow:
    return FileRow(r[0], os.fsdecode(bytes(r[1])), *r[2:])


def _with_vectors(conn: psycopg.Connection) -> psycopg.Connection:
    """``conn`` reading and writing pgvector's types (once the extension exists in the database)."""
    from pgvector.psycopg import register_vector

    register_vector(conn)
    return conn


def explain_connect(e: psycopg.OperationalError, url: str) -> str:
    """One line a person can act on, for the ways connecting fails."""
    msg, where = str(e), public_url(url)
    if "password authentication failed" in msg or "no password supplied" in msg:
        return f"the PostgreSQL server at {where} refused the user name or password; check them in the address"
    if "does not exist" in msg and "database" in msg:
        return f"there is no database {where.rsplit('/', 1)[-1]!r} on that server; create it (createdb) first"
    return (f"cannot reach the PostgreSQL server at {where}; check that it is running and the address is right "
            f"({msg.strip().splitlines()[0] if msg.strip() else 'no answer'})")


class ServerStore(ServerVectors, ServerText, CommonStore):
    """A thread-safe handle on a library kept in PostgreSQL (one connection, one lock)."""

    def __init__(self, url: str, folder: Path) -> None:
        self.url, self.path = url, folder  # ``path``: where this computer keeps its part (thumbnails, logs)
        self.host = this_computer()
        self._lock = threading.RLock()
        self._depth = 0  # exchanges under way in this thread (``_talking`` nests inside a transaction)
        self._closed = False  # by ``close()``: never connected again
        try:
            self.conn = self._connect()
        except psycopg.OperationalError as e:
            raise LibraryError(explain_connect(e, url)) from e
        self._prepare()
        self.model = self.get_meta("model") or ""

    def _prepare(self) -> None:
        """Refuse a newer library or a server without pgvector before writing anything; then migrate."""
        have = self._schema_number()
        if have > server_schema.VERSION:
            raise LibraryError(f"the library at {public_url(self.url)} was made by a newer Glimpse (schema {have}, "
                               f"this one knows {server_schema.VERSION}); update Glimpse to open it")
        if have < server_schema.VERSION:
            self.migrate()
        _with_vectors(self.conn)

    def _schema_number(self) -> int:
        if self.conn.execute("SELECT to_regclass('meta')").fetchone()[0] is None:
            return 0
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        return int(row[0]) if row else 0

    def _ensure_vector_extension(self) -> None:
        if self.conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'").fetchone():
            return
        if not self.conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'").fetchone():
            raise LibraryError(f"the PostgreSQL server at {public_url(self.url)} has no pgvector extension; install "
                               "it there (e.g. the postgresql-16-pgvector package) and try again")
        try:
            self.conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        except psycopg.errors.InsufficientPrivilege as e:
            raise LibraryError(f"this user may not enable pgvector in {public_url(self.url)}; ask the database's "
                               "owner to run CREATE EXTENSION vector in it") from e

    def migrate(self) -> None:
        # Two first opens at once: one migrates, the other waits, then finds it done. The lock is taken
        # before the transaction, so the transaction that reads the schema sees the other one's tables.
        with self._lock:
            self.conn.execute("SELECT pg_advisory_lock(hashtext('glimpse schema'))")
            try:
                self._ensure_vector_extension()
                with self.conn.transaction():
                    have = self._schema_number()
                    for _name, sql in server_schema.STEPS[have:]:
                        self.conn.execute(sql)
                    self.conn.execute("INSERT INTO meta VALUES ('schema', %s) ON CONFLICT (key) DO UPDATE SET "
                                      "value = excluded.value", [str(server_schema.VERSION)])
            finally:
                self.conn.execute("SELECT pg_advisory_unlock(hashtext('glimpse schema'))")

    def schema_migrations(self) -> list[str]:
        return [name for name, _ in server_schema.STEPS[:self._schema_number()]]

    def pending_migrations(self) -> list[str]:
        return [name for name, _ in server_schema.STEPS[self._schema_number():]]

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self.conn.close()

    def _connect(self) -> psycopg.Connection:
        return psycopg.connect(self.url, autocommit=True, connect_timeout=10)

    @contextmanager
    def _talking(self) -> Iterator[None]:
        """The store's lock around one exchange with the server, and a lost connection (the server
        restarted or stopped, the network gone) said in one line: whatever was committed before
        stays. The exchange that finds the connection gone fails (it may have been a write: it is
        not tried again); the next one connects anew, so an app left open carries on by itself."""
        with self._lock:
            if self._depth == 0 and self.conn.closed and not self._closed:
                try:
                    self.conn = _with_vectors(self._connect())
                except psycopg.OperationalError as e:
                    raise StoreError(explain_connect(e, self.url)) from e
            self._depth += 1
            try:
                yield
            except psycopg.OperationalError as e:
                reason = str(e).strip().splitlines()[0] if str(e).strip() else "no answer"
                raise StoreError(f"lost the connection to the PostgreSQL server at {public_url(self.url)} ({reason}); "
                                 "what was saved before is kept: run the command again when it is reachable") from e
            finally:
                self._depth -= 1

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic write; bumps ``version`` as the folder library's does."""
        with self._talking(), self.conn.transaction():
            yield
            self.conn.execute("UPDATE meta SET value = (value::bigint + 1)::text WHERE key = 'version'")

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Inside ``transaction()``: undo just this part if it fails (one file of a batch)."""
        with self._talking(), self.conn.transaction():
            yield

    LEAST, LIKE = "LEAST", "ILIKE"  # common.py's dialect words

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        """Rows of ``sql``; a ``?`` (common.py's statements) is psycopg's ``%s``."""
        with self._talking():
            return self.conn.execute(_marks(sql), params).fetchall()

    def _run(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self._talking():
            return self.conn.execute(_marks(sql), params).rowcount

    _vec = staticmethod(as_float32)

    @staticmethod
    def _under(prefix_len: int) -> str:
        return f"(path = ? OR substring(path FROM 1 FOR {prefix_len}) = ?)"

    @staticmethod
    def _one_of(column: str, values: list[Any]) -> tuple[str, list[Any]]:
        return f"{column} = ANY(?)", [values]

    # meta -------------------------------------------------------------------------
    def set_meta(self, key: str, value: str) -> None:
        self._run("INSERT INTO meta VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                  [key, value])

    # health (doctor) ----------------------------------------------------------------
    def integrity_problems(self) -> list[str]:
        """None to find here: the server keeps its own pages sound (checksums, WAL replay)."""
        return []

    def orphan_vector_count(self) -> int:
        return 0  # a foreign key keeps every vector's file

    def delete_orphan_vectors(self) -> int:
        return 0

    def duplicate_paths(self) -> list[str]:
        return []  # UNIQUE (host, path)

    # roots: this computer's ----------------------------------------------------------
    def add_root(self, path: str) -> RootRow:
        self._run("INSERT INTO roots (host, path, added, online) VALUES (%s, %s, %s, TRUE) ON CONFLICT DO NOTHING",
                  [self.host, _path(path), time.time()])
        return next(r for r in self.roots() if r.path == path)

    def roots(self) -> list[RootRow]:
        rows = self._query("SELECT id, path, added, online FROM roots WHERE host = %s ORDER BY path", [self.host])
        return [RootRow(i, os.fsdecode(bytes(p)), a, bool(o)) for i, p, a, o in rows]

    def remove_root(self, root_id: int) -> list[int]:
        with self.transaction():
            ids = [r[0] for r in self._query("SELECT id FROM files WHERE root_id = %s", [root_id])]
            dropped = self.remove_files(ids)
            self._run("DELETE FROM roots WHERE id = %s", [root_id])
        return dropped

    def set_root_online(self, root_id: int, online: bool) -> None:
        self._run("UPDATE roots SET online = %s WHERE id = %s", [online, root_id])

    # files ------------------------------------------------------------------------
    def file(self, path: str) -> FileRow | None:
        """This computer's file at ``path`` (another computer's file of the same name is another file)."""
        rows = self._files("host = %s AND path = %s", [self.host, _path(path)])
        return rows[0] if rows else None

    def _files(self, where: str = "TRUE", params: Sequence[Any] = ()) -> list[FileRow]:
        return [_file_row(r) for r in self._query(f"SELECT {_FILE_COLUMNS} FROM files WHERE {where}", params)]

    def files_by_id(self, ids: Iterable[int]) -> dict[int, FileRow]:
        return {r.id: r for r in self._files("id = ANY(%s)", [[int(i) for i in ids]])}

    def put_file(self, record: FileRecord, vectors: Sequence, regions_for: Sequence[str | None] = ()) -> list[int]:
        """Insert or replace this computer's file and its vectors (inside ``transaction()``)."""
        values = {**dataclasses.asdict(record), "path": _path(record.path), "host": self.host}
        cols = list(values)
        file_id, new_row = self.conn.execute(
            f"INSERT INTO files ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))}) "
            f"ON CONFLICT (host, path) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in cols)} "
            "RETURNING id, xmax = 0", [values[c] for c in cols]).fetchone()  # xmax 0: inserted, not updated
        if not new_row:  # a new file has no vectors or words to drop: four round trips saved
            self._drop_vectors_of([file_id])
            self._drop_text_of([file_id])
        added = self._insert_vectors(file_id, vectors)
        self.mark_regions(file_id, regions_for)
        return added

    def move_file(self, file_id: int, path: str, root_id: int, mtime: float, size: int, ext: str) -> None:
        self._run("UPDATE files SET path = %s, root_id = %s, mtime = %s, size = %s, ext = %s WHERE id = %s",
                  [_path(path), root_id, mtime, size, ext, file_id])

    def touch_file(self, file_id: int, mtime: float, size: int) -> None:
        self._run("UPDATE files SET mtime = %s, size = %s WHERE id = %s", [mtime, size, file_id])

    def set_aside(self, file_id: int, reason: str) -> None:
        with self.transaction():
            self._run("UPDATE files SET status = 'error', error = %s WHERE id = %s", [reason, file_id])
            self._drop_vectors_of([file_id])
            self._drop_text_of([file_id])

    def mark_errors_for_retry(self) -> int:
        with self.transaction():
            return self._run("UPDATE files SET status = 'retry' WHERE status = 'error' AND host = %s", [self.host])

    def set_problems(self, root_ids: Sequence[int], problems: Sequence[tuple[str, str, int | None]]) -> None:
        """What a crawl of these roots could not open, with its reason; problems no longer met forgotten."""
        with self._talking(), self.conn.transaction():
            self._run("DELETE FROM files WHERE kind = 'unreadable' AND root_id = ANY(%s) AND NOT path = ANY(%s)",
                      [list(root_ids), [_path(p) for p, _, _ in problems]])
            for path, reason, root_id in problems:
                self._run("INSERT INTO files (host, path, kind, status, error, indexed_at, root_id) VALUES "
                          "(%s, %s, 'unreadable', 'error', %s, %s, %s) ON CONFLICT (host, path) DO UPDATE SET "
                          "status = 'error', error = excluded.error, root_id = excluded.root_id",
                          [self.host, _path(path), reason, time.time(), root_id])

    def delete_files(self, ids: Sequence[int]) -> list[int]:
        with self.transaction():
            return self.remove_files(ids)

    def remove_files(self, ids: Sequence[int]) -> list[int]:
        ids = [int(i) for i in ids]
        dropped = self._drop_vectors_of(ids)
        self._drop_text_of(ids)
        self._run("DELETE FROM files WHERE id = ANY(%s)", [ids])
        return dropped

    # searches: recent and saved ---------------------------------------------------------
    def remember_search(self, query: str, keep: int = 20) -> None:
        with self._talking(), self.conn.transaction():
            self.forget_search(query)
            self._run("INSERT INTO searches (name, query, used) VALUES (NULL, %s, %s)", [query, time.time()])
            self._run("DELETE FROM searches WHERE name IS NULL AND id NOT IN (SELECT id FROM searches WHERE name "
                      "IS NULL ORDER BY used DESC, id DESC LIMIT %s)", [keep])

    def save_search(self, name: str, query: str, seen: Sequence[int]) -> None:
        self._run("INSERT INTO searches (name, query, used, seen) VALUES (%s, %s, %s, %s) ON CONFLICT (name) DO "
                  "UPDATE SET query = excluded.query, used = excluded.used, seen = excluded.seen",
                  [name, query, time.time(), json.dumps(sorted(set(seen)))])
