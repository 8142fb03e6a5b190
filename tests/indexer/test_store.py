"""SQLite is the truth; the hnswlib cache catches up after a crash and rebuilds when lost."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from indexer.ann.index import AnnIndex
from indexer.store.database import FileRecord, Store, VectorIn


def unit(rng: np.random.Generator, n: int, d: int = 16) -> np.ndarray:
    v = rng.normal(size=(n, d)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def add(store: Store, name: str, vec: np.ndarray) -> int:
    with store.transaction():
        return store.put_file(FileRecord(name, "photo"), [VectorIn(vec)])[0]


ALL = ["m001_initial", "m002_filter_indexes", "m003_text", "m004_vectors_per_model", "m005_searches", "m006_regions",
       "m007_region_index"]


def test_schema_is_migrated_once_and_recorded(tmp_path: Path) -> None:
    s = Store(tmp_path / "db")
    assert s.schema_migrations() == ALL
    s.close()
    s = Store(tmp_path / "db")
    assert s.schema_migrations() == ALL and s.version() == 0


@pytest.mark.parametrize("older", ALL[:-1])
def test_every_older_schema_upgrades_keeping_data(tmp_path: Path, older: str) -> None:
    """A library written by an older Glimpse (schema up to ``older``) opens and keeps its rows."""
    from indexer.store.database import SCHEMA

    old = Store(tmp_path / "db", migrate=False)
    SCHEMA.apply(old.db, stop_before=ALL[ALL.index(older) + 1])
    assert old.schema_migrations() == ALL[: ALL.index(older) + 1]
    # written as that version did: its own columns only (today's put_file also clears text rows)
    old.db.execute("INSERT INTO files (path, kind, status) VALUES ('/kept.jpg', 'photo', 'ok')")
    cur = old.db.execute("INSERT INTO vectors (file_id, vec) VALUES (1, ?)",
                         [unit(np.random.default_rng(4), 1)[0].astype(np.float16).tobytes()])
    vid = cur.lastrowid
    old.close()
    new = Store(tmp_path / "db")
    assert new.schema_migrations() == ALL
    assert new.vector_ids() == {vid} and new.file("/kept.jpg") is not None


def test_a_failing_migration_leaves_the_database_as_it_was(tmp_path: Path) -> None:
    import sqlite_utils
    from sqlite_utils.migrations import Migrations

    s = Store(tmp_path / "db")
    add(s, "/a.jpg", unit(np.random.default_rng(5), 1)[0])
    broken = Migrations("glimpse")

    @broken()
    def m999_half_done(db: sqlite_utils.Database) -> None:
        db.execute("ALTER TABLE files ADD COLUMN rating INTEGER")
        raise RuntimeError("power cut")

    with pytest.raises(RuntimeError):
        broken.apply(s.db)
    cols = {c.name for c in s.db["files"].columns}
    assert "rating" not in cols and s.file("/a.jpg") is not None
    assert "m999_half_done" not in s.schema_migrations()


def test_replacing_a_file_tombstones_its_old_vectors(tmp_path: Path) -> None:
    s = Store(tmp_path / "db")
    rng = np.random.default_rng(0)
    first = add(s, "/a.jpg", unit(rng, 1)[0])
    second = add(s, "/a.jpg", unit(rng, 1)[0])
    assert second > first and s.vector_ids() == {second}
    assert s.tombstones_since(0) == [first]


def test_index_saved_before_a_crash_is_patched_from_sqlite(tmp_path: Path) -> None:
    s = Store(tmp_path / "db")
    rng = np.random.default_rng(1)
    vecs = unit(rng, 50)
    ids = [add(s, f"/{i}.jpg", v) for i, v in enumerate(vecs[:40])]
    ann = AnnIndex.open(tmp_path / "ann", 16, s)
    ann.save()
    # committed after the last save, as if the process died before saving again
    ids += [add(s, f"/{i}.jpg", v) for i, v in enumerate(vecs[40:], start=40)]
    s.delete_files([s.file("/3.jpg").id])
    reopened = AnnIndex.open(tmp_path / "ann", 16, s)
    assert len(reopened) == 49
    got, _ = reopened.search(vecs[45], 1)
    assert got[0] == ids[45]
    got, _ = reopened.search(vecs[3], 49)
    assert ids[3] not in got.tolist()


def test_unreadable_index_file_is_rebuilt(tmp_path: Path) -> None:
    s = Store(tmp_path / "db")
    vecs = unit(np.random.default_rng(2), 20)
    ids = [add(s, f"/{i}.jpg", v) for i, v in enumerate(vecs)]
    AnnIndex.open(tmp_path / "ann", 16, s).save()
    for f in (tmp_path / "ann").glob("*.hnsw"):
        f.write_bytes(b"garbage")
    ann = AnnIndex.open(tmp_path / "ann", 16, s)
    assert ann.search(vecs[7], 1)[0][0] == ids[7]


def test_vectors_are_stored_compactly_and_faithfully(tmp_path: Path) -> None:
    s = Store(tmp_path / "db")
    v = unit(np.random.default_rng(3), 1, 512)[0]
    add(s, "/x.jpg", v)
    (got,), = [m for _, m in s.vectors_since(0)]
    assert float(got @ v) > 0.9999
    blob = s.db.execute("SELECT vec FROM vectors").fetchone()[0]
    assert len(blob) == 512 * 2
