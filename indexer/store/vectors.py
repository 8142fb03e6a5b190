"""The store's vector tables: vectors per model, tombstones for the ANN cache, model switches.

Part of ``Store`` (store.py); all SQL about vectors is here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from indexer.store.rows import Coverage, FileRow, RegionCounts, VectorIn, VectorRow, chunks, decode_vec, encode_vec


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

    def coverage(self, model: str) -> Coverage:
        """Indexed files with vectors of ``model``, of all indexed files."""
        total = self._query("SELECT COUNT(*) FROM files WHERE status = 'ok'")[0][0]
        done = self._query("SELECT COUNT(*) FROM files WHERE status = 'ok' AND EXISTS (SELECT 1 FROM vectors v "
                           "WHERE v.file_id = files.id AND v.model = ?)", [model])[0][0]
        return Coverage(int(done), int(total))

    def model_bytes(self) -> dict[str, int]:
        """Space the vectors of each model take in the database (vector data and row overhead).

        A model's vectors all have one length, so one row's length times the count: summing
        every row's length read all vector data (79 ms at 100k items, on every status).
        """
        rows = self._query("SELECT model, COUNT(*) * ((SELECT LENGTH(vec) FROM vectors v2 WHERE v2.model = v.model "
                           "LIMIT 1) + 40) FROM vectors v GROUP BY model")
        return {m: int(b) for m, b in rows}

    def put_model_vectors(self, file_id: int, model: str, vectors: Sequence[VectorIn],
                          expect_mtime: float | None, regions: bool = False) -> bool:
        """Set one file's vectors of ``model`` (a model switch); its other models' vectors stay.
        ``regions``: its region vectors are among them (regions.py; the gate may leave none).

        Inside ``transaction()``. False, writing nothing, when the file changed since it was
        decoded (``expect_mtime``): indexing puts its new content with every model.
        """
        if not self._as_decoded(file_id, expect_mtime):
            return False
        self._drop_vectors_of([file_id], model)
        self._add_vectors(file_id, model, vectors, regions)
        return True

    def _as_decoded(self, file_id: int, expect_mtime: float | None) -> bool:
        """The file is still indexed with the content a background pass decoded (same mtime)."""
        row = self.db.execute("SELECT mtime, status FROM files WHERE id = ?", [file_id]).fetchone()
        return row is not None and row[0] == expect_mtime and row[1] == "ok"

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

    def switch_active(self, model: str, meta: dict[str, str], clear: Sequence[str]) -> None:
        """Make ``model`` the active one and update ``meta`` in one transaction (a switch's flip)."""
        with self.transaction():
            for k, v in meta.items():
                self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [k, v])
            for k in clear:
                self.db.execute("DELETE FROM meta WHERE key = ?", [k])
        self.model = model

    def follow_active(self) -> bool:
        """Take up the active model another process made active since (a switch it finished); True if it changed."""
        active = self.get_meta("model") or ""
        changed, self.model = active != self.model, active
        return changed

    def sample_vectors(self, n: int, model: str | None = None, seed: int = 0) -> np.ndarray:
        """About ``n`` of ``model``'s vectors picked at random (ids drawn below the highest, so
        fewer where ids are sparse), without reading the whole table."""
        top = self.max_vector_id()
        if top == 0:
            return np.zeros((0, 0), np.float32)
        ids = np.unique(np.random.default_rng(seed).integers(1, top + 1, min(n, top)))
        out = self.vectors_by_id(ids.tolist(), only_model=self._m(model))
        return np.stack(out) if out else np.zeros((0, 0), np.float32)

    def max_vector_id(self) -> int:
        return int(self._query("SELECT COALESCE(MAX(id), 0) FROM vectors")[0][0])

    def vector_ids(self, model: str | None = None, regions: bool | None = None) -> set[int]:
        """Ids of ``model``'s vectors: all, or (``regions`` False) whole pictures and video frames only,
        or (True) photo regions only."""
        only = {None: "", False: " AND x0 IS NULL", True: " AND x0 IS NOT NULL"}[regions]
        return {r[0] for r in self._query(f"SELECT id FROM vectors WHERE model = ?{only}", [self._m(model)])}

    def vector_rows(self, ids: Sequence[int]) -> dict[int, VectorRow]:
        """vector id -> where it comes from (file, frame time and moment, region box)."""
        out = {}
        for chunk in chunks(ids):
            q = (f"SELECT id, file_id, ts, start, end, x0, y0, x1, y1 FROM vectors "
                 f"WHERE id IN ({','.join('?' * len(chunk))})")
            out.update((r[0], VectorRow(r[1], r[2], r[3], r[4], None if r[5] is None else tuple(r[5:9])))
                       for r in self._query(q, chunk))
        return out

    def vectors_of(self, file_id: int, model: str | None = None) -> list[tuple[int, np.ndarray, float | None]]:
        """(id, vector, ts) of a file's whole picture or video frames (not its regions), by time."""
        rows = self._query("SELECT id, vec, ts FROM vectors WHERE file_id = ? AND model = ? AND x0 IS NULL "
                           "ORDER BY ts", [file_id, self._m(model)])
        return [(r[0], decode_vec(r[1]), r[2]) for r in rows]

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

    def put_regions(self, file_id: int, model: str, vectors: Sequence[VectorIn], expect_mtime: float | None) -> bool:
        """Add one photo's region vectors of ``model`` (the regions pass), inside ``transaction()``.

        False, writing nothing, when the file changed since it was decoded: indexing makes its
        regions with its new content.
        """
        if not self._as_decoded(file_id, expect_mtime):
            return False
        self._add_vectors(file_id, model, vectors, regions=True)
        return True

    def files_missing_regions(self, model: str, min_side: int, limit: int = 10**9) -> list[FileRow]:
        """Indexed photos large enough for regions whose regions for ``model`` are not made yet."""
        return self._files("status = 'ok' AND kind = 'photo' AND MIN(width, height) >= ? AND EXISTS (SELECT 1 "
                           "FROM vectors v WHERE v.file_id = files.id AND v.model = ?) AND NOT EXISTS (SELECT 1 "
                           "FROM regions_done r WHERE r.file_id = files.id AND r.model = ?) ORDER BY id LIMIT ?",
                           [min_side, model, model, limit])

    def region_count(self, model: str | None = None) -> RegionCounts:
        """Region vectors, and photos with regions made, of ``model``."""
        n = self._query("SELECT COUNT(*) FROM vectors WHERE model = ? AND x0 IS NOT NULL", [self._m(model)])[0][0]
        done = self._query("SELECT COUNT(*) FROM regions_done WHERE model = ?", [self._m(model)])[0][0]
        return RegionCounts(int(n), int(done))

    def drop_regions(self) -> int:
        """Forget every region vector (regions turned off): they become tombstones; returns how many."""
        return self._drop_where("x0 IS NOT NULL", "1", [])
