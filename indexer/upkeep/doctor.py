"""Checking a library for damage, and repairing what can be repaired.

SQLite holds the truth, so every repair flows one way: the ANN index is rebuilt
from SQLite vectors, and thumbnails nobody refers to are removed. Nothing here
touches the user's photos.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from indexer.library.library import Library


@dataclasses.dataclass(frozen=True)
class Finding:
    """One problem: what is wrong, and whether ``repair`` can fix it."""

    check: str
    problem: str
    repairable: bool = True


def check(lib: Library) -> list[Finding]:
    """Every consistency check; an empty list means the library is healthy."""
    out: list[Finding] = []
    ok = lib.store.integrity_problems()
    if ok:
        out.append(Finding("sqlite", "; ".join(ok[:5]), repairable=False))
    pending = lib.store.pending_migrations()
    if pending:
        out.append(Finding("schema", f"migrations not applied: {', '.join(pending)}"))
    orphans = lib.store.orphan_vector_count()
    if orphans:
        out.append(Finding("vectors", f"{orphans} vectors belong to no file"))
    dup = lib.store.duplicate_paths()
    if dup:
        out.append(Finding("files", f"{len(dup)} paths recorded more than once", repairable=False))
    if lib.model_id is not None:
        sql_ids = lib.store.vector_ids()
        ann = lib.ann
        ann.catch_up(lib.store)
        ann_ids = ann.ids()
        if sql_ids - ann_ids:
            out.append(Finding("ann", f"{len(sql_ids - ann_ids)} vectors are missing from the search index"))
        if ann_ids - sql_ids:
            out.append(Finding("ann", f"{len(ann_ids - sql_ids)} search-index entries have no vector in SQLite"))
    stale = _orphan_thumbnails(lib)
    if stale:
        out.append(Finding("thumbnails", f"{len(stale)} cached thumbnails belong to no indexed file"))
    return out


def repair(lib: Library) -> list[str]:
    """Fix what ``check`` found; returns what was done, in words."""
    done: list[str] = []
    with lib.writing():
        lib.store.migrate()
        n = lib.store.delete_orphan_vectors()
        if n:
            done.append(f"removed {n} orphan vectors")
        if lib.model_id is not None:
            lib.ann.rebuild(lib.store)
            done.append(f"rebuilt the search index from {len(lib.ann)} SQLite vectors")
        stale = _orphan_thumbnails(lib)
        for p in stale:
            p.unlink(missing_ok=True)
        if stale:
            done.append(f"deleted {len(stale)} orphan thumbnails")
    return done


def _orphan_thumbnails(lib: Library) -> list:
    """Thumbnails whose key matches no current (path, mtime, timestamp) of the library."""
    from pathlib import Path

    folder = lib.folder / "thumbs"
    if not folder.is_dir():
        return []
    from indexer.media.thumbs import thumb_name

    wanted = set()
    for f in lib.store.files(status="ok"):
        wanted.add(thumb_name(f.path, f.mtime, None))
        if f.kind == "video":
            for _, _, ts in lib.store.vectors_of(f.id):
                wanted.add(thumb_name(f.path, f.mtime, ts))
    return [p for p in Path(folder).rglob("*.jpg") if p.name not in wanted]
