"""A library's search index by the kind of its store: a graph file beside a folder library
(index.py), the server's own index for a library on PostgreSQL (server_index.py)."""

from __future__ import annotations

from pathlib import Path

from indexer.ann.index import AnnIndex
from indexer.ann.server_index import ServerIndex
from indexer.store.opening import AnyStore
from indexer.store.server import ServerStore

SearchIndex = AnnIndex | ServerIndex


def open_index(folder: Path, dim: int, store: AnyStore, model: str | None = None) -> SearchIndex:
    if isinstance(store, ServerStore):
        return ServerIndex.open(folder, dim, store, model)
    return AnnIndex.open(folder, dim, store, model)
