"""The Library's own controls: pause and cancel, removing a folder, settings, filtered search on
the approximate (ANN) path, and a disk that really fills up."""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from indexer import Filters, Library, LibraryError, Query
from indexer.doctor import check
from indexer.store import StoreError
from tests import world
from tests.conftest import MODEL_SPEC


@pytest.fixture
def photos(tmp_path: Path) -> list[world.CorpusItem]:
    return world.write_corpus(tmp_path / "photos", world.distinct_scenes(random.Random(41), 48), seed=41)


def test_pause_holds_indexing_and_cancel_keeps_what_was_done(tmp_path: Path, photos) -> None:
    with Library.open(tmp_path / "lib", model=MODEL_SPEC, batch_size=8, read_text=False) as lib:
        lib.embedder  # noqa: B018 - loaded before the clock starts
        pause, cancel, out = threading.Event(), threading.Event(), []
        pause.set()
        seen: list[int] = []

        def progress(p) -> None:
            if p.phase == "indexing":
                seen.append(p.done)
                if p.done >= 20:
                    cancel.set()

        t = threading.Thread(target=lambda: out.append(lib.index([photos[0].path.parent], progress, cancel, pause)))
        t.start()
        time.sleep(1.0)
        assert not seen and lib.status().photos == 0  # paused: nothing decoded, nothing written
        pause.clear()
        t.join(60)
        report = out[0]
        assert report.cancelled and 0 < report.added < 48
        assert check(lib) == []
        again = lib.index()
        assert again.added == 48 - report.added and lib.store.max_vector_id() == 48  # nothing embedded twice


def test_removing_a_folder_forgets_its_files_and_nothing_else(tmp_path: Path, photos) -> None:
    other = world.write_corpus(tmp_path / "other", world.distinct_scenes(random.Random(42), 6), seed=42)
    with Library.open(tmp_path / "lib", model=MODEL_SPEC, read_text=False) as lib:
        lib.index([photos[0].path.parent, other[0].path.parent])
        assert lib.remove_root(photos[0].path.parent) == 48
        assert [r.path for r in lib.roots()] == [str(other[0].path.parent)]
        assert lib.status().photos == 6 and check(lib) == []
        hits = lib.search(Query(world.caption(photos[3].scene), min_score=0.0, limit=50))
        assert {h.path for h in hits} == {str(o.path) for o in other}
        with pytest.raises(LibraryError, match="not one of this library's folders"):
            lib.remove_root(photos[0].path.parent)
        assert photos[0].path.exists()  # the photos themselves are never touched


def test_settings_are_saved_and_used(tmp_path: Path, photos) -> None:
    folder = photos[0].path.parent
    with Library.open(tmp_path / "lib", model=MODEL_SPEC, read_text=False) as lib:
        lib.update_settings(exclude=("scene_00*",), video_interval=3.0)
        lib.index([folder])
        names = {Path(f.path).name for f in lib.store.files()}
        assert names and not any(n.startswith("scene_00") for n in names)
        with pytest.raises(LibraryError, match="glimpse model use"):
            lib.update_settings(model="ViT-B-32:openai")
    reopened = Library.open(tmp_path / "lib")
    try:
        assert reopened.settings.exclude == ("scene_00*",) and reopened.settings.video_interval == 3.0
        assert reopened.settings.model.endswith("tiny-clip")  # the refused change was not saved
    finally:
        reopened.close()


def test_filtered_search_on_the_ann_path_finds_what_the_exact_path_finds(tmp_path: Path, photos, monkeypatch) -> None:
    """Every test library is small enough for exact search under a filter; force the ANN path."""
    from indexer import rank

    with Library.open(tmp_path / "lib", model=MODEL_SPEC, read_text=False) as lib:
        lib.index([photos[0].path.parent])
        cut = sorted(p.path.stat().st_mtime for p in photos)[len(photos) // 2]
        filters = [Filters("photo"), Filters(after=cut), Filters(folder=str(photos[0].path.parent))]
        queries = [Query(world.caption(p.scene), min_score=0.0, limit=10, filters=f)
                   for p in photos[:6] for f in filters]
        exact = [[h.path for h in lib.search(q)] for q in queries]
        monkeypatch.setattr(rank, "EXACT_MAX_VECTORS", 0)
        monkeypatch.setattr(rank, "EXACT_FRACTION", 0.0)
        assert [[h.path for h in lib.search(q)] for q in queries] == exact


def test_a_disk_that_fills_up_stops_indexing_clearly_and_keeps_whole_batches(tmp_path: Path, photos) -> None:
    """A real full database (SQLite's page limit), not a simulated error."""
    with Library.open(tmp_path / "lib", model=MODEL_SPEC, batch_size=8, read_text=False) as lib:
        lib.embedder  # noqa: B018
        db = lib.store.db
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        db.execute(f"PRAGMA max_page_count = {pages + 3}")  # room for a few batches, not for 48 photos
        with pytest.raises(StoreError, match="disk .* is full"):
            lib.index([photos[0].path.parent])
        assert check(lib) == []
        kept = lib.status().photos
        assert 0 < kept < 48 and kept % 8 == 0  # whole batches committed, the failing one rolled back
        db.execute("PRAGMA max_page_count = 1073741823")  # space again
        assert lib.index().added == 48 - kept and lib.store.max_vector_id() == 48  # resumes, nothing twice
    assert sqlite3.connect(tmp_path / "lib" / "library.db").execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_preparing_to_search_loads_what_a_search_needs_and_nothing_more(tmp_path: Path, photos,
                                                                        monkeypatch) -> None:
    """The window's start: index, text tower and tokenizer loaded (loading the BPE later froze the
    window), the reference query bank (only for hubness and prompt-directional composition, both
    off by default) left unencoded."""
    import tokenizers

    with Library.open(tmp_path / "lib", model=MODEL_SPEC, precision="int8") as lib:
        lib.index([photos[0].path.parent])
    with Library.open(tmp_path / "lib") as lib:
        lib.prepare_search()
        assert "text" in lib.embedder.towers._towers and lib._ann is not None
        assert lib.searcher()._bank is None

        def no_loading(*_: object) -> None:
            raise AssertionError("a search loaded the tokenizer")

        monkeypatch.setattr(tokenizers, "Tokenizer", type("NotLoaded", (), {"from_file": no_loading}))
        unseen = f"{world.caption(photos[0].scene)} zq{random.Random().randrange(10**9)}x naïve café"
        assert lib.search(Query(unseen, limit=1))  # a word never seen and text that is not plain ASCII
        assert lib.search(Query(world.caption(photos[0].scene), limit=1))[0].path == str(photos[0].path)
        assert lib.searcher()._bank is None
