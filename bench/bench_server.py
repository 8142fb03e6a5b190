"""A library on PostgreSQL (#40) against the folder library, same run: indexing and the store's writes.

* **indexing**: `Library.index` of the same photos (the shared photos when present, else generated
  ones) into a folder library and into a server library on a local PostgreSQL 16 with pgvector
  (the pgserver wheel, over its Unix socket), MobileCLIP2-S0 (random weights), text reading off so
  the figure is the embedding pass and its writes; the image tower warmed first in both.
* **writes alone**: ``put_file`` of synthetic photos with one 512-d vector each, 64 per
  transaction as the pipeline commits, into each store: files/s, and the bytes each vector takes.

Search latency and recall of pgvector's HNSW beside the folder library's index are in
``bench/bench_ann.py`` (candidate "pgvector HNSW").

``python -m bench.bench_server [--writes 20000]``
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.bench_video import random_mobileclip_dir
from bench.common import SHARED, report, table

BATCH = 64


def index_rate(where: str | Path, photos: Path, model: str) -> tuple[float, int]:
    from indexer import Library

    with Library.open(where, model=model, read_text=False) as lib:
        lib.embedder  # noqa: B018 - the tower loaded and run once before the clock, as bench_index does
        t = time.perf_counter()
        rep = lib.index([photos])
        return rep.added / (time.perf_counter() - t), rep.added


def write_rate(store, n: int) -> tuple[float, float]:
    """(files/s, bytes per vector) for ``n`` photos with one vector each, BATCH per transaction."""
    from indexer.store.rows import FileRecord, VectorIn

    rng = np.random.default_rng(0)
    before = store.size_bytes()
    t = time.perf_counter()
    for start in range(0, n, BATCH):
        vecs = rng.normal(size=(BATCH, 512)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        with store.transaction():
            for i, v in enumerate(vecs[: n - start]):
                store.put_file(FileRecord(f"/photos/{start + i:07d}.jpg", "photo", size=1, mtime=1.0), [VectorIn(v)])
    rate = n / (time.perf_counter() - t)
    return rate, (store.size_bytes() - before) / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--writes", type=int, default=20_000)
    args = ap.parse_args()
    import pgserver

    from indexer.store.database import Store
    from indexer.store.server import ServerStore
    from tests import world

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        server = pgserver.get_server(tmp_path / "pg", cleanup_mode="stop")
        base = server.get_uri()
        for name in ("photos", "writes"):
            server.psql(f"CREATE DATABASE {name};")
        photos = SHARED / "photos"
        if not photos.is_dir():
            import random

            photos = tmp_path / "generated"
            world.write_corpus(photos, world.distinct_scenes(random.Random(1), 200), 1)
        model = random_mobileclip_dir()
        rows = []
        for label, where in (("folder library (SQLite + hnswlib)", tmp_path / "lib"),
                             ("server library (PostgreSQL + pgvector)", base.replace("/postgres?", "/photos?"))):
            rate, n = index_rate(where, photos, model)
            rows.append([label, n, rate])
        text = table(["library", "photos", "indexing photos/s (embedding pass, text off)"], rows)
        writes = []
        for label, store in (("folder library", Store(tmp_path / "w.db")),
                             ("server library", ServerStore(base.replace("/postgres?", "/writes?"), tmp_path))):
            store.switch_active("m", {"model": "m", "dim": "512"}, ())
            if isinstance(store, ServerStore):
                store.ensure_index("m", 512)  # kept level with every insert, as in the app
            rate, per = write_rate(store, args.writes)
            writes.append([label, args.writes, rate, per])
            store.close()
        text += "\n\n" + table(["store", "photos written", "files/s (64 per transaction)", "bytes per photo"], writes)
        server.cleanup()
    report("A library on PostgreSQL with pgvector: indexing and writes beside the folder library", text,
           "Same run, same photos; the server is local (Unix socket). Server bytes per photo include the "
           "row, its float32 vector (pgvector 0.6 has no half-precision type), the indexes and the HNSW graph's "
           "share; the folder library stores float16 vectors and keeps its graph in a file beside the database.")


if __name__ == "__main__":
    main()
