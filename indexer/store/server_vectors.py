"""A server library's vector tables: vectors per model in pgvector columns, one HNSW index per model.

Part of ``ServerStore`` (server.py). The search index is the server's own (pgvector HNSW over
inner product; the vectors are unit length, so it ranks as cosine): a partial index per model
over ``vec::vector(dim)``, so a switch builds the new model's beside the old. Nothing is kept
beside the library, nothing is rebuilt after a crash, and a computer's memory does not limit
the library's size (docs/benchmarks.md has the figures).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable, Sequence

import numpy as np
from psycopg import sql

from indexer.store.rows import FileRow, VectorIn, VectorRow, decode_vec, encode_vec

HNSW_M = 16  # pgvector's default graph degree
HNSW_EF_CONSTRUCTION = 128  # twice pgvector's default: a better graph for the ef_search below
# Search breadth by library size (bench/bench_ann.py, realistic "power law" vectors, docs/benchmarks.md):
# at 100k ef_search 200 gives recall@10 0.990 (100: 0.961); at 1M 200 gives only 0.774, 700 0.933 and
# 1,000 (pgvector's limit) 0.959 at 18 ms. So 200 up to 100k, growing as n^0.7 to 1,000 at 1M.
# pgvector returns at most ef_search rows, so a search asks for max(k, this).
EF_SEARCH = 200
EF_MAX = 1000  # pgvector's limit; a longer list is found exactly (a full scan)
_VECTOR_FIELDS = "file_id, model, ts, start_s, end_s, x0, y0, x1, y1, vec"


def default_ef(n: int) -> int:
    """``ef_search`` for ``n`` vectors (measured at 100k and 1M: see EF_SEARCH)."""
    return int(min(EF_MAX, max(EF_SEARCH, EF_SEARCH * (n / 100_000) ** 0.7)))


def index_name(model: str) -> str:
    return "vectors_hnsw_" + hashlib.sha1(model.encode()).hexdigest()[:12]


def as_float32(v: object) -> np.ndarray:
    """A vector read (pgvector's ``Vector``) or to be written, as float32."""
    return np.asarray(v.to_numpy() if hasattr(v, "to_numpy") else v, dtype=np.float32)


class ServerVectors:
    """Mixed into ``ServerStore``: uses its connection, lock, ``transaction``, ``host`` and active ``model``."""

    def _vector_values(self, file_id: int, v: VectorIn) -> list[object]:
        """A vector is kept at the folder library's float16 precision (rows.encode_vec, decoded back to
        float32): the same library answers with the same scores wherever it lives (pgvector 0.6 has no
        half type)."""
        box = v.box or (None, None, None, None)
        return [file_id, self._m(v.model), v.ts, v.start, v.end, *box, decode_vec(encode_vec(v.vec))]

    def _insert_vectors(self, file_id: int, vectors: Sequence[VectorIn]) -> list[int]:
        marks = ", ".join(["%s"] * 10)
        return [int(self.conn.execute(f"INSERT INTO vectors ({_VECTOR_FIELDS}) VALUES ({marks}) RETURNING id",
                                      self._vector_values(file_id, v)).fetchone()[0]) for v in vectors]

    def _drop_vectors_of(self, file_ids: Sequence[int], model: str | None = None) -> list[int]:
        only, extra = ("", []) if model is None else (" AND model = %s", [model])
        ids = [int(i) for i in file_ids]
        self._run(f"DELETE FROM regions_done WHERE file_id = ANY(%s){only}", [ids, *extra])
        return [r[0] for r in self._query(f"DELETE FROM vectors WHERE file_id = ANY(%s){only} RETURNING id",
                                          [ids, *extra])]

    # the search index --------------------------------------------------------------
    def ensure_index(self, model: str, dim: int) -> None:
        """``model``'s HNSW index, built once (over the vectors already there, or filled as they come)."""
        with self._talking():
            self.conn.execute("SET maintenance_work_mem = '1GB'")
            self.conn.execute(sql.SQL(
                "CREATE INDEX IF NOT EXISTS {} ON vectors USING hnsw ((vec::vector({})) vector_ip_ops) "
                "WITH (m = {}, ef_construction = {}) WHERE model = {}").format(
                sql.Identifier(index_name(model)), dim, HNSW_M, HNSW_EF_CONSTRUCTION, sql.Literal(model)))

    def indexed_estimate(self, model: str) -> int:
        """About how many vectors ``model``'s index holds: the server's own statistics (no count of a
        million rows for each search); 0 before its first analysis."""
        rows = self._query("SELECT reltuples FROM pg_class WHERE relname = %s", [index_name(model)])
        return max(0, int(rows[0][0])) if rows else 0

    def drop_index(self, model: str) -> None:
        self._run(sql.SQL("DROP INDEX IF EXISTS {}").format(sql.Identifier(index_name(model))))

    def nearest(self, vec: np.ndarray, k: int, dim: int, model: str | None = None,
                ef: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(vector ids, inner products) of the ``k`` nearest of ``model``'s vectors, best first.

        The model is written into the statement, not bound: a prepared statement's generic plan
        could not use the model's partial index."""
        breadth = max(k, ef or default_ef(self.indexed_estimate(self._m(model))))
        expr = sql.SQL("(vec::vector({})) <#> %s::vector({})").format(dim, dim)
        q = sql.SQL("SELECT id, {} FROM vectors WHERE model = {} ORDER BY {} LIMIT %s").format(
            expr, sql.Literal(self._m(model)), expr)
        v = as_float32(vec).reshape(-1)
        with self._talking(), self.conn.transaction():
            if breadth > EF_MAX:
                self.conn.execute("SET LOCAL enable_indexscan = off")
            else:
                self.conn.execute(sql.SQL("SET LOCAL hnsw.ef_search = {}").format(breadth))
            rows = self.conn.execute(q, [v, v, k]).fetchall()
        return np.array([r[0] for r in rows], np.int64), np.array([-r[1] for r in rows], np.float32)

    # vectors ----------------------------------------------------------------------
    def tombstones_since(self, version: int) -> list[int]:
        """None kept: the server's index drops a deleted row itself."""
        return []

    def vectors_by_id(self, ids: Sequence[int], only_model: str | None = None) -> list[np.ndarray]:
        """Vectors of these ids, in their order (of any model, or only ``only_model``'s; others left out)."""
        where, params = ("model = %s AND ", [only_model]) if only_model is not None else ("", [])
        found = dict(self._query(f"SELECT id, vec FROM vectors WHERE {where}id = ANY(%s)",
                                 [*params, [int(i) for i in ids]]))
        return [as_float32(found[int(i)]) for i in ids if int(i) in found]

    def vector_count_of(self, file_ids: Iterable[int]) -> int:
        q = "SELECT COUNT(*) FROM vectors WHERE model = %s AND file_id = ANY(%s)"
        return int(self._query(q, [self.model, [int(i) for i in file_ids]])[0][0])

    def vectors_of_files(self, file_ids: Iterable[int]) -> tuple[np.ndarray, np.ndarray]:
        rows = self._query("SELECT id, vec FROM vectors WHERE model = %s AND file_id = ANY(%s)",
                           [self.model, [int(i) for i in file_ids]])
        if not rows:
            return np.zeros(0, np.int64), np.zeros((0, 1), np.float32)
        return np.array([r[0] for r in rows], np.int64), np.stack([as_float32(r[1]) for r in rows])

    # models ------------------------------------------------------------------------
    def files_missing_model(self, model: str, limit: int = 10**9) -> list[FileRow]:
        """This computer's indexed files without vectors of ``model`` (each computer embeds its own)."""
        return self._files("status = 'ok' AND host = %s AND NOT EXISTS (SELECT 1 FROM vectors v WHERE v.file_id = "
                           "files.id AND v.model = %s) ORDER BY id LIMIT %s", [self.host, model, limit])

    def model_bytes(self) -> dict[str, int]:
        rows = self._query("SELECT model, COUNT(*) * ((SELECT pg_column_size(vec) FROM vectors v2 WHERE v2.model = "
                           "v.model LIMIT 1) + 60) FROM vectors v GROUP BY model")
        return {m: int(b) for m, b in rows}

    def _add_vectors(self, file_id: int, model: str, vectors: Sequence[VectorIn], regions: bool) -> None:
        self._insert_vectors(file_id, [dataclasses.replace(v, model=model) for v in vectors])
        if regions:
            self.mark_regions(file_id, [model])

    def drop_model(self, model: str) -> int:
        with self.transaction():
            self._run("DELETE FROM regions_done WHERE model = %s", [model])
            n = self._run("DELETE FROM vectors WHERE model = %s", [model])
        self.drop_index(model)
        return n

    def size_bytes(self) -> int:
        return int(self._query("SELECT pg_database_size(current_database())")[0][0])

    def compact(self) -> None:
        self._run("VACUUM")

    def vector_rows(self, ids: Sequence[int]) -> dict[int, VectorRow]:
        rows = self._query("SELECT id, file_id, ts, start_s, end_s, x0, y0, x1, y1 FROM vectors WHERE id = ANY(%s)",
                           [[int(i) for i in ids]])
        return {r[0]: VectorRow(r[1], r[2], r[3], r[4], None if r[5] is None else tuple(r[5:9])) for r in rows}

    def whole_vectors(self, file_ids: Iterable[int]) -> dict[int, np.ndarray]:
        rows = self._query("SELECT file_id, vec FROM vectors WHERE model = %s AND x0 IS NULL AND file_id = ANY(%s)",
                           [self.model, [int(i) for i in file_ids]])
        return {r[0]: as_float32(r[1]) for r in rows}

    # regions ------------------------------------------------------------------------
    def mark_regions(self, file_id: int, models: Sequence[str | None]) -> None:
        for m in models:
            self._run("INSERT INTO regions_done VALUES (%s, %s) ON CONFLICT DO NOTHING", [file_id, self._m(m)])

    def files_missing_regions(self, model: str, min_side: int, limit: int = 10**9) -> list[FileRow]:
        """This computer's photos large enough for regions whose regions for ``model`` are not made yet."""
        return self._files("status = 'ok' AND kind = 'photo' AND host = %s AND LEAST(width, height) >= %s AND "
                           "EXISTS (SELECT 1 FROM vectors v WHERE v.file_id = files.id AND v.model = %s) AND NOT "
                           "EXISTS (SELECT 1 FROM regions_done r WHERE r.file_id = files.id AND r.model = %s) "
                           "ORDER BY id LIMIT %s", [self.host, min_side, model, model, limit])

    def drop_regions(self) -> int:
        with self.transaction():
            self._run("DELETE FROM regions_done")
            return self._run("DELETE FROM vectors WHERE x0 IS NOT NULL")
