"""The search index of a library on a PostgreSQL server: pgvector's HNSW, asked through the store.

It answers as ``AnnIndex`` (index.py) does, so the search code is one for both kinds of
library; what ``AnnIndex`` keeps beside the library (a graph file, its version, tombstones
to catch up on) the server keeps inside the database, up to date with every commit, so
catching up, saving and rebuilding after a crash have nothing to do here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from indexer.store.server import ServerStore
from indexer.store.server_vectors import default_ef


class ServerIndex:
    """Cosine-space search over one model's vectors in the server library, keyed by vector id."""

    dirty = False  # nothing to save: every commit is in the server's index
    projected = False

    def __init__(self, folder: Path, dim: int, store: ServerStore, model: str | None = None) -> None:
        self.folder, self.dim, self.store = folder, dim, store  # ``folder``: this computer's files for the model
        self.model = model if model is not None else store.model
        store.ensure_index(self.model, dim)

    @classmethod
    def open(cls, folder: Path, dim: int, store: ServerStore, model: str | None = None) -> ServerIndex:
        return cls(folder, dim, store, model)

    @property
    def version(self) -> int:
        return self.store.version()  # always level with the store (searcher.fresh has nothing to do)

    def describe(self) -> str:
        return f"{self.dim}-d pgvector HNSW, ef_search {default_ef(self.store.indexed_estimate(self.model))}"

    @property
    def live(self) -> int:
        return self.store.vector_count(self.model)

    def __len__(self) -> int:
        return self.live

    def ids(self) -> set[int]:
        return self.store.vector_ids(self.model)

    def save(self) -> None:
        """Nothing kept here: the server's index is written with each commit."""

    def catch_up(self, store: ServerStore, rebuild: bool = True) -> int:
        return 0

    def rebuild(self, store: ServerStore) -> None:
        """A new graph from the table (doctor --repair): dropped and built again."""
        store.drop_index(self.model)
        store.ensure_index(self.model, self.dim)

    def search(self, query: np.ndarray, k: int, ef: int | None = None,
               probes: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (ids, cosine similarities) for one unit query vector."""
        if k <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        return self.store.nearest(query, k, self.dim, self.model, ef)

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        if len(ids) == 0:
            return np.zeros((0, self.dim), np.float32)
        return np.stack(self.store.vectors_by_id(np.asarray(ids).tolist()))
