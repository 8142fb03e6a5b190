"""The statements both kinds of store run alike: written once, with ``?`` for a parameter.

The folder library's ``Store`` (SQLite) and the server library's ``ServerStore`` (PostgreSQL)
differ where their SQL does (upserts, full-text search, the vector type, the file's computer);
the rest is here. Each store supplies ``_query``/``_run`` (the server's turn ``?`` into ``%s``),
``_vec`` (a stored vector as float32), ``_files``, ``model`` (the active one), ``vectors_by_id``,
``_drop_vectors_of``, ``_add_vectors``, and its dialect: ``LEAST``, ``LIKE``, ``_under`` (a path
in a folder, as bytes) and ``_one_of`` (a column in a list).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from indexer.base.filters import Filters
from indexer.store.rows import (
    TEXT_FIELDS,
    Coverage,
    FileCounts,
    FileRow,
    RegionCounts,
    SavedRow,
    TextCounts,
    TextRow,
    _text_row,
)


class CommonStore:
    """Mixed into both stores."""

    LEAST = "MIN"  # the smaller of two values (SQLite's two-argument MIN; PostgreSQL's LEAST)
    LIKE = "LIKE"  # case-insensitive for ASCII in SQLite; PostgreSQL's LIKE is not, its ILIKE is

    def _m(self, model: str | None) -> str:
        """``model``, or the library's active one when None."""
        return self.model if model is None else model

    # meta and counts -----------------------------------------------------------------
    def version(self) -> int:
        return int(self.get_meta("version") or 0)

    def get_meta(self, key: str) -> str | None:
        rows = self._query("SELECT value FROM meta WHERE key = ?", [key])
        return rows[0][0] if rows else None

    def counts(self) -> FileCounts:
        """The library's files (its vectors: ``vector_count``)."""
        return FileCounts.of(self._query("SELECT kind, status, COUNT(*) FROM files GROUP BY kind, status"))

    def root_counts(self, root_id: int) -> FileCounts:
        """The files under one root."""
        q = "SELECT kind, status, COUNT(*) FROM files WHERE root_id = ? GROUP BY kind, status"
        return FileCounts.of(self._query(q, [root_id]))

    # files ------------------------------------------------------------------------
    def files_of_root(self, root_id: int) -> list[FileRow]:
        return self._files("root_id = ?", [root_id])

    def files(self, status: str | None = None, kind: str | None = None) -> list[FileRow]:
        """Every file the library knows (with this status and kind), in path order."""
        where, args = ["1 = 1"], []
        for col, val in (("status", status), ("kind", kind)):
            if val is not None:
                where.append(f"{col} = ?")
                args.append(val)
        return self._files(" AND ".join(where) + " ORDER BY path", args)

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
            folder = os.fsencode(str(Path(f.folder).expanduser().resolve()))
            prefix = folder.rstrip(b"/") + b"/"
            where.append(self._under(len(prefix)))
            args += [folder, prefix]
        if f.camera:
            where.append(f"camera {self.LIKE} ?")
            args.append(f"%{f.camera}%")
        if f.has_gps is not None:
            where.append("lat IS NOT NULL" if f.has_gps else "lat IS NULL")
        if f.has_text is not None:
            where.append(("" if f.has_text else "NOT ") + "EXISTS (SELECT 1 FROM text_lines t WHERE t.file_id = files.id)")
        if f.min_size:
            where.append(f"{self.LEAST}(width, height) >= ?")
            args.append(f.min_size)
        if f.extensions:
            exts = [e.lower().lstrip(".") for e in f.extensions]
            exts += ["jpeg"] if "jpg" in exts else []
            clause, values = self._one_of("ext", exts)
            where.append(clause)
            args += values
        return self._files(" AND ".join(where), args)

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
            yield ids, np.stack([self._vec(r[1]) for r in rows])
            last = int(ids[-1])

    def vector_count(self, model: str | None = None) -> int:
        return int(self._query("SELECT COUNT(*) FROM vectors WHERE model = ?", [self._m(model)])[0][0])

    def max_vector_id(self) -> int:
        return int(self._query("SELECT COALESCE(MAX(id), 0) FROM vectors")[0][0])

    def vector_ids(self, model: str | None = None, regions: bool | None = None) -> set[int]:
        """Ids of ``model``'s vectors: all, or (``regions`` False) whole pictures and video frames only,
        or (True) photo regions only."""
        only = {None: "", False: " AND x0 IS NULL", True: " AND x0 IS NOT NULL"}[regions]
        return {r[0] for r in self._query(f"SELECT id FROM vectors WHERE model = ?{only}", [self._m(model)])}

    def vectors_of(self, file_id: int, model: str | None = None) -> list[tuple[int, np.ndarray, float | None]]:
        """(id, vector, ts) of a file's whole picture or video frames (not its regions), by time."""
        rows = self._query("SELECT id, vec, ts FROM vectors WHERE file_id = ? AND model = ? AND x0 IS NULL "
                           "ORDER BY ts", [file_id, self._m(model)])
        return [(r[0], self._vec(r[1]), r[2]) for r in rows]

    def sample_vectors(self, n: int, model: str | None = None, seed: int = 0) -> np.ndarray:
        """About ``n`` of ``model``'s vectors picked at random (ids drawn below the highest, so
        fewer where ids are sparse), without reading the whole table."""
        top = self.max_vector_id()
        if top == 0:
            return np.zeros((0, 0), np.float32)
        ids = np.unique(np.random.default_rng(seed).integers(1, top + 1, min(n, top)))
        out = self.vectors_by_id(ids.tolist(), only_model=self._m(model))
        return np.stack(out) if out else np.zeros((0, 0), np.float32)

    # models ------------------------------------------------------------------------
    def coverage(self, model: str) -> Coverage:
        """Indexed files with vectors of ``model``, of all indexed files."""
        total = self._query("SELECT COUNT(*) FROM files WHERE status = 'ok'")[0][0]
        done = self._query("SELECT COUNT(*) FROM files WHERE status = 'ok' AND EXISTS (SELECT 1 FROM vectors v "
                           "WHERE v.file_id = files.id AND v.model = ?)", [model])[0][0]
        return Coverage(int(done), int(total))

    def switch_active(self, model: str, meta: dict[str, str], clear: Sequence[str]) -> None:
        """Make ``model`` the active one and update ``meta`` in one transaction (a switch's flip)."""
        with self.transaction():
            for k, v in meta.items():
                self.set_meta(k, v)
            for k in clear:
                self._run("DELETE FROM meta WHERE key = ?", [k])
        self.model = model

    def follow_active(self) -> bool:
        """Take up the active model another process made active since (a switch it finished); True if it changed."""
        active = self.get_meta("model") or ""
        changed, self.model = active != self.model, active
        return changed

    def put_model_vectors(self, file_id: int, model: str, vectors: Sequence, expect_mtime: float | None,
                          regions: bool = False) -> bool:
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

    def put_regions(self, file_id: int, model: str, vectors: Sequence, expect_mtime: float | None) -> bool:
        """Add one photo's region vectors of ``model`` (the regions pass), inside ``transaction()``.

        False, writing nothing, when the file changed since it was decoded: indexing makes its
        regions with its new content.
        """
        if not self._as_decoded(file_id, expect_mtime):
            return False
        self._add_vectors(file_id, model, vectors, regions=True)
        return True

    def _as_decoded(self, file_id: int, expect_mtime: float | None) -> bool:
        """The file is still indexed with the content a background pass decoded (same mtime)."""
        rows = self._query("SELECT mtime, status FROM files WHERE id = ?", [file_id])
        return bool(rows) and rows[0][0] == expect_mtime and rows[0][1] == "ok"

    def region_count(self, model: str | None = None) -> RegionCounts:
        """Region vectors, and photos with regions made, of ``model``."""
        n = self._query("SELECT COUNT(*) FROM vectors WHERE model = ? AND x0 IS NOT NULL", [self._m(model)])[0][0]
        done = self._query("SELECT COUNT(*) FROM regions_done WHERE model = ?", [self._m(model)])[0][0]
        return RegionCounts(int(n), int(done))

    # text ---------------------------------------------------------------------------
    def text_read_count(self) -> TextCounts:
        """Files whose text was read, and of them files where some text was found."""
        read = self._query("SELECT COUNT(*) FROM files WHERE text_read IS NOT NULL")[0][0]
        return TextCounts(int(read), self.files_with_text())

    def files_with_text(self) -> int:
        return int(self._query("SELECT COUNT(DISTINCT file_id) FROM text_lines")[0][0])

    def was_text_read(self, file_id: int) -> bool:
        return bool(self._query("SELECT text_read IS NOT NULL FROM files WHERE id = ?", [file_id])[0][0])

    def text_of(self, file_id: int) -> list[TextRow]:
        rows = self._query(f"SELECT {TEXT_FIELDS} FROM text_lines WHERE file_id = ? ORDER BY ts, y0, x0", [file_id])
        return [_text_row(r) for r in rows]

    # searches: recent and saved ---------------------------------------------------------
    def forget_search(self, query: str) -> None:
        """A recent search no longer worth keeping (a saved one of the same query stays)."""
        self._run("DELETE FROM searches WHERE name IS NULL AND query = ?", [query])

    def recent_searches(self, limit: int = 20) -> list[str]:
        rows = self._query("SELECT query FROM searches WHERE name IS NULL ORDER BY used DESC, id DESC LIMIT ?", [limit])
        return [r[0] for r in rows]

    def saved_searches(self) -> list[SavedRow]:
        """The saved searches, by name."""
        rows = self._query("SELECT name, query, used, seen FROM searches WHERE name IS NOT NULL ORDER BY name")
        return [SavedRow(n, q, u, json.loads(s or "[]")) for n, q, u, s in rows]

    def mark_search_seen(self, name: str, seen: Sequence[int]) -> None:
        import time

        self._run("UPDATE searches SET used = ?, seen = ? WHERE name = ?",
                  [time.time(), json.dumps(sorted(set(seen))), name])

    def delete_search(self, name: str) -> bool:
        return self._run("DELETE FROM searches WHERE name = ?", [name]) > 0
