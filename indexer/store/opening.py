"""The store and the writers' lock of a library, by where it lives (base/location.py)."""

from __future__ import annotations

from indexer.base.location import Location
from indexer.store.database import Store
from indexer.store.server import ServerStore
from indexer.store.server_lock import ServerWriteLock
from indexer.store.writelock import WriteLock

AnyStore = Store | ServerStore


def open_store(location: Location) -> AnyStore:
    if location.server:
        return ServerStore(location.server, location.folder)
    return Store(location.folder / "library.db")


def write_lock(location: Location) -> WriteLock:
    if location.server:
        return ServerWriteLock(location.server, location.folder)
    return WriteLock(location.folder / "write.lock")
