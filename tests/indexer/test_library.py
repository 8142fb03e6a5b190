"""The Library's own controls: pause and cancel, removing a folder, settings, filtered search on
the approximate (ANN) path, and a disk that really fills up."""

from __future__ import annotations

import random
import sqlite3
import threading
from pathlib import Path

import pytest

from indexer import Filters, Library, LibraryError, Query
from indexer.store.database import StoreError
from indexer.upkeep.doctor import check
from tests import world
from tests.conftest import MODEL_SPEC
from tests.waiting import wait_until


@pytest.fixture
def photos(tmp_path: Path) -> list[world.CorpusItem]:
    return world.write_corpus(tmp_path / "photos", world.distinct_scenes(random.Random(41), 48), seed=41)


def test_pause_holds_indexing_and_cancel_keeps_what_was_done(where, photos) -> None:
    with Library.open(where, model=MODEL_SPEC, batch_size=8, read_text=False) as lib:
        lib.embedder  # noqa: B018 - loaded before the clock starts
        pause, cancel, out = threading.Event(), threading.Event(), []
        pause.set()
        seen: list[int] = []

        def progress(p) -> None:
            if p.phase == "indexing":
                seen.append(p.done)
                if p.done >= 20:
                    cancel.set()

        scanned = threading.Event()

        def progress_and_scan(p) -> None:
            if p.phase == "scanning" and p.done == 48:
                scanned.set()
            progress(p)

        t = threading.Thread(target=lambda: out.append(lib.index([photos[0].path.parent], progress_and_scan, cancel,
                                                                 pause)))
        t.start()
        assert scanned.wait(60)  # the run found all 48 photos, then met the pause
        assert not wait_until(lambda: seen, timeout=1.0)  # paused: nothing decoded
        assert lib.status().photos == 0  # nothing written
        pause.clear()
        t.join(60)
        report = out[0]
        assert report.cancelled and 0 < report.added < 48
        assert check(lib) == []
        again = lib.index()
        assert again.added == 48 - report.added and lib.store.vector_count() == 48  # nothing embedded twice
        assert lib.store.max_vector_id() - min(lib.store.vector_ids()) == 47


def test_removing_a_folder_forgets_its_files_and_nothing_else(tmp_path: Path, where, photos) -> None:
    other = world.write_corpus(tmp_path / "other", world.distinct_scenes(random.Random(42), 6), seed=42)
    with Library.open(where, model=MODEL_SPEC, read_text=False) as lib:
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


def test_filtered_search_on_the_ann_path_finds_what_the_exact_path_finds(where, photos, monkeypatch) -> None:
    """Every test library is small enough for exact search under a filter; force the ANN path."""
    from indexer.search import rank

    with Library.open(where, model=MODEL_SPEC, read_text=False) as lib:
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
        lib.searching.prepare()
        assert "text" in lib.embedder.towers._towers and lib._core.loaded_ann is not None
        assert lib.searching.searcher()._bank is None

        def no_loading(*_: object) -> None:
            raise AssertionError("a search loaded the tokenizer")

        monkeypatch.setattr(tokenizers, "Tokenizer", type("NotLoaded", (), {"from_file": no_loading}))
        unseen = f"{world.caption(photos[0].scene)} zq{random.Random().randrange(10**9)}x naïve café"
        assert lib.search(Query(unseen, limit=1))  # a word never seen and text that is not plain ASCII
        assert lib.search(Query(world.caption(photos[0].scene), limit=1))[0].path == str(photos[0].path)
        assert lib.searching.searcher()._bank is None


B_MODEL = f"local-dir:{Path(__file__).resolve().parents[1] / 'assets' / 'tiny-clip-gap'}"


def answers_meanwhile(lib: Library, words: str) -> bool:
    """A search run in a thread answers within a minute (a regression would hang it, not the test)."""
    got: list[object] = []
    t = threading.Thread(target=lambda: got.append(lib.search(Query(words, min_score=0.0, limit=3))), daemon=True)
    t.start()
    t.join(60)
    return bool(got and got[0])


def blocking_load(lib: Library, spec: str) -> tuple[threading.Event, threading.Event, list[bool]]:
    """Loading ``spec`` waits for ``release``; whether the library lock was held at each load is recorded."""
    core, load = lib._core, lib._core.load_encoder
    loading, release, held = threading.Event(), threading.Event(), []

    def slow(s: str):
        held.append(core.lock._is_owned())
        if s == spec:
            loading.set()
            assert release.wait(60)
        return load(s)

    core.load_encoder = slow
    return loading, release, held


def test_one_lock_order_no_model_loaded_under_the_library_lock_and_searches_never_wait(tmp_path: Path,
                                                                                        photos) -> None:
    """Write lock first, library lock inside, never the other way; a search waits neither for a writer
    nor for a model that is loading (after a restart in the middle of a switch, the target model)."""
    with Library.open(tmp_path / "lib", model=MODEL_SPEC, read_text=False) as lib:
        lib.index([photos[0].path.parent])
        lib.switch.start(B_MODEL, wait=True)
    with Library.open(tmp_path / "lib") as lib:  # a restart mid-switch: the target model is not loaded yet
        assert lib.switch.under_way and answers_meanwhile(lib, "a red circle")
        loading, release, held = blocking_load(lib, B_MODEL)
        switching = threading.Thread(target=lib.switch.reembed, kwargs={"wait": True})
        switching.start()
        assert loading.wait(60)
        try:
            assert answers_meanwhile(lib, "a green triangle")  # while the target model loads
        finally:
            release.set()
            switching.join(60)
        assert held == [False] and not lib.switch.under_way  # the flip: write lock, then the library lock

        holding, done = threading.Event(), threading.Event()

        def writer() -> None:
            with lib.writing(wait=True):
                holding.set()
                done.wait(60)

        t = threading.Thread(target=writer)
        t.start()
        assert holding.wait(60)
        try:
            assert answers_meanwhile(lib, "a blue square")  # while another update of the library runs
        finally:
            done.set()
            t.join(60)


def test_a_folder_that_is_not_a_library_is_refused_and_left_as_it_was(tmp_path: Path, capsys) -> None:
    """`--library DIR` on someone's folder: refused in plain words; not a file in it changed or added."""
    import stat

    from indexer.cli.main import main

    folder = tmp_path / "documents"
    (folder / "ann").mkdir(parents=True)
    (folder / "ann" / "ann_notes.txt").write_text("mine")  # what an older Glimpse deleted on open
    (folder / "report.txt").write_text("mine")
    folder.chmod(0o755)

    def state() -> list[tuple[str, int, int]]:
        return sorted((str(p.relative_to(folder)), p.stat().st_mtime_ns, stat.S_IMODE(p.stat().st_mode))
                      for p in folder.rglob("*"))

    before = state()
    assert main(["--library", str(folder), "status"]) == 2
    assert "not a Glimpse library" in capsys.readouterr().err
    with pytest.raises(LibraryError, match="not a Glimpse library"):
        Library.open(folder, model=MODEL_SPEC)
    assert state() == before and stat.S_IMODE(folder.stat().st_mode) == 0o755


def test_the_library_folder_is_private_even_when_made_beforehand(tmp_path: Path) -> None:
    import stat

    folder = tmp_path / "lib"
    folder.mkdir()
    folder.chmod(0o755)
    with Library.open(folder, model=MODEL_SPEC, read_text=False):
        pass
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_the_index_is_rewritten_only_when_it_changed_and_a_killed_saves_leftovers_go(tmp_path: Path, photos) -> None:
    """A poll that finds nothing new writes no index (hundreds of MB at 100k photos); the temp file of a
    save killed half way is removed at the next open, one being written by a live save is not."""
    import os
    import subprocess
    import sys

    with Library.open(tmp_path / "lib", model=MODEL_SPEC, read_text=False) as lib:
        lib.index([photos[0].path.parent])
        ann = tmp_path / "lib" / "ann"

        def files() -> dict[str, tuple[int, int]]:
            return {str(p.relative_to(ann)): (p.stat().st_ino, p.stat().st_mtime_ns) for p in ann.rglob("*")}

        written = files()
        assert lib.index().unchanged == 48
        assert files() == written  # nothing rewritten
        folder = next(p.parent for p in ann.rglob("ann.json"))
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    saving = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])  # a save still writing
    killed, live = folder / ".ann-7.hnsw.x1.tmp", folder / ".ann-8.hnsw.x2.tmp"  # names without a pid: by age
    killed_now = folder / f".ann-9.hnsw.{int(gone.stdout)}-x3.tmp"  # its writer was killed a moment ago
    writing = folder / f".ann-10.hnsw.{saving.pid}-x4.tmp"
    for p in (killed, live, killed_now, writing):
        p.write_bytes(b"\0" * 1024)
    old = killed.stat().st_mtime - 3600
    os.utime(killed, (old, old))
    try:
        with Library.open(tmp_path / "lib") as lib:
            assert lib.search(Query("a red circle", min_score=0.0, limit=1))  # opens the index
    finally:
        saving.kill()
        saving.wait()
    assert not killed.exists() and live.exists()
    assert not killed_now.exists() and writing.exists()
