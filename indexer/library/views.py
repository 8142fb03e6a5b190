"""What the app shows of a file besides its row — a thumbnail, a moment's poster, a larger picture for
the preview pane — and a moment saved as a clip or a still. Each is decoded from the person's file
under the library's guard for looks (``base/isolation.py``): in the app, a file that crashes its
decoder costs a blank tile or an error message, not the app."""

from __future__ import annotations

from pathlib import Path

from indexer.base.isolation import Guard
from indexer.media.decode import picture
from indexer.media.export import clip, still
from indexer.media.thumbs import make_thumbnail, thumb_path
from indexer.search.rank import Hit
from indexer.store.database import Store


class Views:
    """Thumbnails (cached in the library's ``thumbs/``) and preview pictures of indexed files."""

    def __init__(self, folder: Path, store: Store, guard: Guard) -> None:
        self.folder, self.store, self.guard = folder, store, guard

    def thumbnail(self, hit: Hit) -> Path:
        """A cached JPEG thumbnail of a photo, or the poster frame of a video moment.
        Raises ``Crashed`` if making it crashed the decoder (in the app: in a worker process)."""
        row = self.store.file(hit.path)
        ts = hit.timestamp if hit.kind == "video" else None
        dest = thumb_path(self.folder / "thumbs", hit.path, row.mtime if row else None, ts)
        return dest if dest.exists() else self.guard.run(hit.path, make_thumbnail, ts, dest)

    def picture(self, path: str, max_side: int):
        """The photo upright (as the indexer sees it: region boxes land in place), at most ``max_side``
        px on its long side, as a PIL image."""
        return self.guard.run(Path(path), picture, max_side)

    def moment(self, hit: Hit, as_clip: bool, dest: Path) -> Path:
        """A video moment saved in ``dest`` as a clip (± 1 s, ``media/export.py``) or its best frame as a JPEG."""
        if as_clip:
            return self.guard.run(Path(hit.path), clip, hit.start or 0.0, hit.end or hit.timestamp or 0.0, dest)
        return self.guard.run(Path(hit.path), still, hit.timestamp or 0.0, dest)
