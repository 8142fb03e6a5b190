"""Near-duplicate photos: groups of photos whose vectors are within a cosine threshold."""

from __future__ import annotations

from indexer.ann.index import AnnIndex
from indexer.store.database import Store


def duplicate_groups(store: Store, ann: AnnIndex, threshold: float = 0.95, k: int = 8) -> list[list[str]]:
    """Groups (union-find over each photo's ``k`` nearest neighbours), biggest first."""
    vid_of = {}
    for f in store.files(status="ok", kind="photo"):
        for vid, vec, _ in store.vectors_of(f.id):
            vid_of[vid] = (f.path, vec)
    parent = {p: p for p, _ in vid_of.values()}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for vid, (path, vec) in vid_of.items():
        ids, sims = ann.search(vec, k + 1)
        for other, sim in zip(ids, sims, strict=True):
            if int(other) != vid and sim >= threshold and int(other) in vid_of:
                parent[find(vid_of[int(other)][0])] = find(path)
    groups: dict[str, list[str]] = {}
    for p in parent:
        groups.setdefault(find(p), []).append(p)
    return sorted((sorted(g) for g in groups.values() if len(g) > 1), key=lambda g: (-len(g), g[0]))
