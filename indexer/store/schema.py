"""The one place the library's schema lives: ``sqlite_utils.Migrations`` steps, each with its reason.

A library written by any earlier Glimpse opens: the missing steps run once, each in its own
transaction, recorded in the database (tests/indexer/test_store.py upgrades every older schema).
"""

from __future__ import annotations

import sqlite_utils
from sqlite_utils.migrations import Migrations

SCHEMA = Migrations("glimpse")


@SCHEMA()
def m001_initial(db: sqlite_utils.Database) -> None:
    """Files, their vectors (photos: one; videos: one per sampled frame), roots, meta."""
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
    db.execute("""CREATE TABLE roots (
        id INTEGER PRIMARY KEY, path TEXT UNIQUE NOT NULL, added REAL NOT NULL,
        online INTEGER NOT NULL DEFAULT 1)""")
    db.execute("""CREATE TABLE files (
        id INTEGER PRIMARY KEY, path TEXT UNIQUE NOT NULL, root_id INTEGER REFERENCES roots(id),
        kind TEXT NOT NULL, ext TEXT, size INTEGER, mtime REAL, hash TEXT,
        width INTEGER, height INTEGER, taken_at REAL, camera TEXT, lat REAL, lon REAL,
        duration REAL, status TEXT NOT NULL, error TEXT, indexed_at REAL)""")
    db.execute("CREATE INDEX files_root ON files(root_id)")
    db.execute("CREATE INDEX files_hash ON files(hash)")
    # AUTOINCREMENT: a vector id is an hnswlib label and must never be reused, or a
    # stale index entry could point at somebody else's row.
    db.execute("""CREATE TABLE vectors (
        id INTEGER PRIMARY KEY AUTOINCREMENT, file_id INTEGER NOT NULL REFERENCES files(id),
        ts REAL, start REAL, end REAL, vec BLOB NOT NULL)""")
    db.execute("CREATE INDEX vectors_file ON vectors(file_id)")
    db.execute("CREATE TABLE tombstones (id INTEGER PRIMARY KEY, version INTEGER NOT NULL)")
    db.execute("INSERT INTO meta VALUES ('version', '0')")


@SCHEMA()
def m002_filter_indexes(db: sqlite_utils.Database) -> None:
    """Date and camera filters scan ``files``; index them so selective filters stay fast."""
    db.execute("CREATE INDEX files_when ON files(COALESCE(taken_at, mtime))")
    db.execute("CREATE INDEX files_kind_status ON files(kind, status)")


@SCHEMA()
def m003_text(db: sqlite_utils.Database) -> None:
    """Words read in pictures (ocr.py): lines with boxes, an FTS5 index over them, and per file
    which reader read it (NULL: not yet), so the text pass resumes and a new reader re-reads.

    ``remove_diacritics 2`` makes "zurich" find "Zürich"; the FTS table holds no copy of the
    text (``content=``), triggers keep it level with ``text_lines``.
    """
    db.execute("""CREATE TABLE text_lines (
        id INTEGER PRIMARY KEY, file_id INTEGER NOT NULL REFERENCES files(id), ts REAL,
        text TEXT NOT NULL, confidence REAL NOT NULL, x0 REAL, y0 REAL, x1 REAL, y1 REAL)""")
    db.execute("CREATE INDEX text_lines_file ON text_lines(file_id)")
    db.execute("""CREATE VIRTUAL TABLE text_fts USING fts5(text, content='text_lines', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2')""")
    db.execute("""CREATE TRIGGER text_lines_ai AFTER INSERT ON text_lines BEGIN
        INSERT INTO text_fts(rowid, text) VALUES (new.id, new.text); END""")
    db.execute("""CREATE TRIGGER text_lines_ad AFTER DELETE ON text_lines BEGIN
        INSERT INTO text_fts(text_fts, rowid, text) VALUES ('delete', old.id, old.text); END""")
    db.execute("ALTER TABLE files ADD COLUMN text_read TEXT")
    db.execute("CREATE INDEX files_text_read ON files(kind, status, text_read)")


@SCHEMA()
def m004_vectors_per_model(db: sqlite_utils.Database) -> None:
    """Vectors carry the model that made them, so a library can change model without starting
    over: the new model's vectors are added beside the old ones until it covers the library
    (library.py: ``start_switch``). Existing vectors belong to the library's model."""
    db.execute("ALTER TABLE vectors ADD COLUMN model TEXT NOT NULL DEFAULT ''")
    db.execute("UPDATE vectors SET model = COALESCE((SELECT value FROM meta WHERE key = 'model'), '')")
    db.execute("CREATE INDEX vectors_model_file ON vectors(model, file_id)")


@SCHEMA()
def m005_searches(db: sqlite_utils.Database) -> None:
    """Recent searches (``name`` NULL) and saved ones ("smart albums"): the query as JSON and, for
    saved ones, the files it showed when last opened, so new matches can be counted."""
    db.execute("""CREATE TABLE searches (
        id INTEGER PRIMARY KEY, name TEXT UNIQUE, query TEXT NOT NULL, used REAL NOT NULL, seen TEXT)""")
    db.execute("CREATE INDEX searches_used ON searches(used)")


@SCHEMA()
def m006_regions(db: sqlite_utils.Database) -> None:
    """Region vectors (regions.py): a crop of a large photo, stored as one more vector of the photo
    with its box as fractions of the picture (NULL: the whole picture or a video frame); and per
    file and model whether its regions were made, since the detail gate may leave none."""
    for col in ("x0", "y0", "x1", "y1"):
        db.execute(f"ALTER TABLE vectors ADD COLUMN {col} REAL")
    db.execute("""CREATE TABLE regions_done (
        file_id INTEGER NOT NULL REFERENCES files(id), model TEXT NOT NULL, PRIMARY KEY (file_id, model))""")


@SCHEMA()
def m007_region_index(db: sqlite_utils.Database) -> None:
    """Counting a model's region vectors read every vector row's box (54 ms at 100k items, on
    every status the window shows); a partial index holds only the region rows."""
    db.execute("CREATE INDEX vectors_regions ON vectors(model) WHERE x0 IS NOT NULL")
