"""The store's vector tables: vectors per model, tombstones for the ANN cache, model switches.

Part of ``Store`` (store.py); all SQL about vectors is here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

import numpy as np

from indexer.store.rows import FileRow, VectorIn, VectorRow, chunks, decode_vec, encode_vec


class VectorTables:
    """Mixed into ``Store``: uses its connection, lock, ``transaction`` and active ``model``."""

    def _insert_vector(self, file_id: int, v: VectorIn) -> int:
        box = v.box or (None, None, None, None)
        cur = self.db.execute("INSERT INTO vectors (file_id, ts, start, end, vec, model, x0, y0, x1, y1) "
                              "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                              [file_id, v.ts, v.start, v.end, encode_vec(v.vec), self._m(v.model), *box])
        return int(cur.lastrowid)

    def _drop_vectors_of(self, file_ids: Sequence[int], model: str | None = None) -> list[int]:
        """Vectors of these files (of every model, or only of ``model``) become tombstones."""
        dropped: list[int] = []
        version = self.version() + 1
        only = "" if model is None else " AND model = ?"
        extra = [] if model is None else [model]
        for chunk in chunks(file_ids):
            marks = ",".join("?" * len(chunk))
            vids = [r[0] for r in self.db.execute(f"SELECT id FROM vectors WHERE file_id IN ({marks}){only}",
                                                  [*chunk, *extra])]
            self.db.execute(f"DELETE FROM vectors WHERE file_id IN ({marks}){only}", [*chunk, *extra])
            self.db.execute(f"DELETE FROM regions_done WHERE file_id IN ({marks}){only}", [*chunk, *extra])
            self.db.conn.executemany("INSERT OR REPLACE INTO tombstones VALUES (?, ?)", [(v, version) for v in vids])
            dropped += vids
        return dropped

    # vectors ----------------------------------------------------------------------
    def tombstones_since(self, version: int) -> list[int]:
        return [r[0] for r in self._query("SELECT id FROM tombstones WHERE version > ?", [version])]

    def vectors_by_id(self, ids: Sequence[int], only_model: str | None = None) -> list[np.ndarray]:
        """Vectors of these ids (of any model, or only ``only_model``'s)."""
        where, params = ("model = ? AND ", [only_model]) if only_model is not None else ("", [])
        out: list[np.ndarray] = []
        for chunk in chunks(ids):
            q = f"SELECT vec FROM vectors WHERE {where}id IN ({','.join('?' * len(chunk))})"
            out += [decode_vec(r[0]) for r in self._query(q, [*params, *chunk])]
        return out

    def vector_count_of(self, file_ids: Iterable[int]) -> int:
        ids = list(file_ids)
        n = 0
        for chunk in chunks(ids):
            q = f"SELECT COUNT(*) FROM vectors WHERE model = ? AND file_id IN ({','.join('?' * len(chunk))})"
            n += self._query(q, [self.model, *chunk])[0][0]
        return n

    def vectors_of_files(self, file_ids: Iterable[int]) -> tuple[np.ndarray, np.ndarray]:
        """(vector ids, matrix) of every vector of these files, for exact search."""
        ids, vecs = [], []
        fids = list(file_ids)
        for chunk in chunks(fids):
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

    def model_bytes(self) -> dict[str, int]:
        """Space the vectors of each model take in the database (vector data and row overhead).

        A model's vectors all have one length, so one row's length times the count: summing
        every row's length read all vector data (79 ms at 100k items, on every status).
        """
        rows = self._query("SELECT model, COUNT(*) * ((SELECT LENGTH(vec) FROM vectors v2 WHERE v2.model = v.model "
                           "LIMIT 1) + 40) FROM vectors v GROUP BY model")
        return {m: int(b) for m, b in rows}

    def _add_vectors(self, file_id: int, model: str, vectors: Sequence[VectorIn], regions: bool) -> None:
        for v in vectors:
            self._insert_vector(file_id, dataclasses.replace(v, model=model))
        if regions:
            self.mark_regions(file_id, [model])

    def drop_model(self, model: str) -> int:
        """Forget every vector of ``model`` (an abandoned switch, or a pruned old model)."""
        return self._drop_where("model = ?", "model = ?", [model])

    def _drop_where(self, vectors: str, marks: str, params: Sequence[object]) -> int:
        """Delete the vectors matching ``vectors`` (they become tombstones) and the regions marks
        matching ``marks``, both with ``params``; returns how many vectors."""
        with self.transaction():
            ids = [r[0] for r in self.db.execute(f"SELECT id FROM vectors WHERE {vectors}", params)]
            self.db.execute(f"DELETE FROM vectors WHERE {vectors}", params)
            self.db.execute(f"DELETE FROM regions_done WHERE {marks}", params)
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

    def vector_rows(self, ids: Sequence[int]) -> dict[int, VectorRow]:
        """vector id -> where it comes from (file, frame time and moment, region box)."""
        out = {}
        for chunk in chunks(ids):
            q = (f"SELECT id, file_id, ts, start, end, x0, y0, x1, y1 FROM vectors "
                 f"WHERE id IN ({','.join('?' * len(chunk))})")
            out.update((r[0], VectorRow(r[1], r[2], r[3], r[4], None if r[5] is None else tuple(r[5:9])))
                       for r in self._query(q, chunk))
        return out

    def whole_vectors(self, file_ids: Iterable[int]) -> dict[int, np.ndarray]:
        """file id -> the whole-picture vector of each of these photos (a region hit's "whole photo" score)."""
        out = {}
        for chunk in chunks(file_ids):
            q = (f"SELECT file_id, vec FROM vectors WHERE model = ? AND x0 IS NULL "
                 f"AND file_id IN ({','.join('?' * len(chunk))})")
            out.update((r[0], decode_vec(r[1])) for r in self._query(q, [self.model, *chunk]))
        return out

    # regions ------------------------------------------------------------------------
    def mark_regions(self, file_id: int, models: Sequence[str | None]) -> None:
        """Inside ``transaction()``: this file's regions are made for these models (perhaps none passed the gate)."""
        self.db.conn.executemany("INSERT OR IGNORE INTO regions_done VALUES (?, ?)",
                                 [(file_id, self._m(m)) for m in models])

    def files_missing_regions(self, model: str, min_side: int, limit: int = 10**9) -> list[FileRow]:
        """Indexed photos large enough for regions whose regions for ``model`` are not made yet."""
        return self._files("status = 'ok' AND kind = 'photo' AND MIN(width, height) >= ? AND EXISTS (SELECT 1 "
                           "FROM vectors v WHERE v.file_id = files.id AND v.model = ?) AND NOT EXISTS (SELECT 1 "
                           "FROM regions_done r WHERE r.file_id = files.id AND r.model = ?) ORDER BY id LIMIT ?",
                           [min_side, model, model, limit])

    def drop_regions(self) -> int:
        """Forget every region vector (regions turned off): they become tombstones; returns how many."""
        return self._drop_where("x0 IS NOT NULL", "1", [])
