"""The store's text tables: lines read in pictures, their FTS5 index, which reader read a file.

Part of ``Store`` (store.py); all SQL about text is here.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from indexer.base.errors import StoreError, explain_sqlite
from indexer.store.rows import TEXT_FIELDS, FileRow, TextPattern, TextRow, _text_row, chunks


class TextTables:
    """Mixed into ``Store``: uses its connection, lock and ``_files``."""

    def _drop_text_of(self, file_ids: Sequence[int]) -> None:
        for chunk in chunks(file_ids):
            marks = ",".join("?" * len(chunk))
            self.db.execute(f"DELETE FROM text_lines WHERE file_id IN ({marks})", chunk)
            self.db.execute(f"UPDATE files SET text_read = NULL WHERE id IN ({marks})", chunk)

    # text read in pictures -----------------------------------------------------------
    def files_without_text(self, reader: str, kinds: Sequence[str], limit: int = 10_000) -> list[FileRow]:
        """Indexed files the text pass has not read with ``reader`` yet, oldest rows first."""
        where, args = _unread(reader, kinds)
        return self._files(f"{where} ORDER BY id LIMIT ?", [*args, limit])

    def text_pending_count(self, reader: str, kinds: Sequence[str]) -> int:
        where, args = _unread(reader, kinds)
        return int(self._query(f"SELECT COUNT(*) FROM files WHERE {where}", args)[0][0])

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
                raise StoreError(explain_sqlite(e, self.path)) from e

    def match_text(self, pattern: TextPattern, limit: int = 5000) -> list[tuple[TextRow, float]]:
        """Lines holding ``pattern``, best first, with FTS5's bm25 rank (lower is better)."""
        if not pattern.words:
            return []
        fts_query = '"' + " ".join(pattern.words).replace('"', '""') + '"' + ("*" if pattern.prefix else "")
        q = (f"SELECT {', '.join('l.' + c.strip() for c in TEXT_FIELDS.split(','))}, text_fts.rank "
             "FROM text_fts JOIN text_lines l ON l.id = text_fts.rowid WHERE text_fts MATCH ? "
             "ORDER BY text_fts.rank LIMIT ?")
        try:
            rows = self._query(q, [fts_query, limit])
        except sqlite3.OperationalError:  # a query FTS5 cannot parse matches nothing
            return []
        return [(_text_row(r[:-1]), float(r[-1])) for r in rows]


def _unread(reader: str, kinds: Sequence[str]) -> tuple[str, list[object]]:
    """Indexed files of ``kinds`` that ``reader`` has not read (never, or another reader did)."""
    return (f"status = 'ok' AND kind IN ({','.join('?' * len(kinds))}) AND (text_read IS NULL OR text_read != ?)",
            [*kinds, reader])
