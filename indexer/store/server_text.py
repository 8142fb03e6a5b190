"""A server library's text tables: lines read in pictures, found by PostgreSQL's full-text search.

Part of ``ServerStore`` (server.py). Each line keeps its tokens as Glimpse makes them
(base/tokens.py: lower case, accents removed) and a ``tsvector`` over those with the
``simple`` configuration (no stemming, no stopwords), so "zurich" finds "Zürich" on any server,
with or without ``unaccent``, and both kinds of library find the same lines.
"""

from __future__ import annotations

from collections.abc import Sequence

from indexer.base.tokens import tokens
from indexer.store.rows import TEXT_FIELDS, FileRow, TextPattern, TextRow, _text_row


class ServerText:
    """Mixed into ``ServerStore``: uses its connection, lock, ``host`` and ``_files``."""

    def _drop_text_of(self, file_ids: Sequence[int]) -> None:
        ids = [int(i) for i in file_ids]
        self._run("DELETE FROM text_lines WHERE file_id = ANY(%s)", [ids])
        self._run("UPDATE files SET text_read = NULL WHERE id = ANY(%s)", [ids])

    def files_without_text(self, reader: str, kinds: Sequence[str], limit: int = 10_000) -> list[FileRow]:
        """This computer's indexed files that ``reader`` has not read yet, oldest rows first."""
        return self._files(f"{_UNREAD} ORDER BY id LIMIT %s", [list(kinds), reader, self.host, limit])

    def text_pending_count(self, reader: str, kinds: Sequence[str]) -> int:
        return int(self._query(f"SELECT COUNT(*) FROM files WHERE {_UNREAD}", [list(kinds), reader, self.host])[0][0])

    def put_text(self, file_id: int, reader: str, lines: Sequence[tuple[str, float, Sequence[float], float | None]],
                 expect_mtime: float | None) -> bool:
        """Replace a file's text (committed on its own); False, writing nothing, when the file changed."""
        with self._talking(), self.conn.transaction():
            row = self.conn.execute("SELECT mtime FROM files WHERE id = %s FOR UPDATE", [file_id]).fetchone()
            if row is None or row[0] != expect_mtime:
                return False
            self.conn.execute("DELETE FROM text_lines WHERE file_id = %s", [file_id])
            with self.conn.cursor() as cur:
                cur.executemany("INSERT INTO text_lines (file_id, ts, text, confidence, x0, y0, x1, y1, words) "
                                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                                [(file_id, ts, text, conf, *box, " ".join(tokens(text))) for text, conf, box, ts in lines])
            self.conn.execute("UPDATE files SET text_read = %s WHERE id = %s", [reader, file_id])
            return True

    def match_text(self, pattern: TextPattern, limit: int = 5000) -> list[tuple[TextRow, float]]:
        """Lines holding ``pattern``, best first, with a rank where lower is better (as FTS5's)."""
        if not pattern.words:
            return []
        query = " <-> ".join(pattern.words) + (":*" if pattern.prefix else "")
        rows = self._query(f"SELECT {TEXT_FIELDS}, ts_rank(tsv, q) FROM text_lines, to_tsquery('simple', %s) q "
                           "WHERE tsv @@ q ORDER BY ts_rank(tsv, q) DESC, id LIMIT %s", [query, limit])
        return [(_text_row(r[:-1]), -float(r[-1])) for r in rows]


# This computer's indexed files of these kinds that this reader has not read (never, or another did).
_UNREAD = "status = 'ok' AND kind = ANY(%s) AND (text_read IS NULL OR text_read != %s) AND host = %s"
