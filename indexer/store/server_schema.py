"""A server library's schema (PostgreSQL with pgvector): numbered steps, each with its reason.

The same tables as the folder library's (``schema.py``) with what several computers need:
every root and file belongs to a computer (``host``), so two laptops may both have a
``/home/anna/Pictures`` and each indexes, re-embeds and reads only what it can see. Paths
are ``bytea`` (a file name is any bytes, base/paths.py). Vectors are pgvector ``vector``
columns of any length (a model switch keeps two models' vectors side by side); each model
gets its own partial HNSW index over ``vec::vector(dim)`` (server_vectors.py).

``meta.schema`` records the steps applied; a database whose number is higher was made by a
newer Glimpse and is refused before anything is written.
"""

from __future__ import annotations

STEPS: tuple[tuple[str, str], ...] = (
    ("initial", """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
        CREATE TABLE roots (
            id BIGSERIAL PRIMARY KEY, host TEXT NOT NULL, path BYTEA NOT NULL,
            added DOUBLE PRECISION NOT NULL, online BOOLEAN NOT NULL DEFAULT TRUE, UNIQUE (host, path));
        CREATE TABLE files (
            id BIGSERIAL PRIMARY KEY, host TEXT NOT NULL, path BYTEA NOT NULL,
            root_id BIGINT REFERENCES roots(id), kind TEXT NOT NULL, ext TEXT, size BIGINT,
            mtime DOUBLE PRECISION, hash TEXT, width INTEGER, height INTEGER, taken_at DOUBLE PRECISION,
            camera TEXT, lat DOUBLE PRECISION, lon DOUBLE PRECISION, duration DOUBLE PRECISION,
            status TEXT NOT NULL, error TEXT, indexed_at DOUBLE PRECISION, text_read TEXT, UNIQUE (host, path));
        CREATE INDEX files_root ON files(root_id);
        CREATE INDEX files_when ON files((COALESCE(taken_at, mtime)));
        CREATE INDEX files_kind_status ON files(kind, status);
        CREATE TABLE vectors (
            id BIGSERIAL PRIMARY KEY, file_id BIGINT NOT NULL REFERENCES files(id), model TEXT NOT NULL,
            ts DOUBLE PRECISION, start_s DOUBLE PRECISION, end_s DOUBLE PRECISION,
            x0 REAL, y0 REAL, x1 REAL, y1 REAL, vec vector NOT NULL);
        CREATE INDEX vectors_model_file ON vectors(model, file_id);
        CREATE INDEX vectors_file ON vectors(file_id);
        CREATE TABLE regions_done (
            file_id BIGINT NOT NULL REFERENCES files(id), model TEXT NOT NULL, PRIMARY KEY (file_id, model));
        CREATE TABLE text_lines (
            id BIGSERIAL PRIMARY KEY, file_id BIGINT NOT NULL REFERENCES files(id), ts DOUBLE PRECISION,
            text TEXT NOT NULL, confidence REAL NOT NULL, x0 REAL, y0 REAL, x1 REAL, y1 REAL,
            words TEXT NOT NULL, tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', words)) STORED);
        CREATE INDEX text_lines_file ON text_lines(file_id);
        CREATE INDEX text_lines_tsv ON text_lines USING gin(tsv);
        CREATE TABLE searches (
            id BIGSERIAL PRIMARY KEY, name TEXT UNIQUE, query TEXT NOT NULL, used DOUBLE PRECISION NOT NULL,
            seen TEXT);
        INSERT INTO meta VALUES ('version', '0');
    """),
)

VERSION = len(STEPS)
