"""Keeping current: watching, moves that keep their vectors, no mass deletion, crash safety."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from indexer import Library, Query, Watcher
from indexer.upkeep.doctor import check
from tests import world
from tests.conftest import MODEL_SPEC
from tests.waiting import lock_is_free, wait_until

REPO = Path(__file__).resolve().parents[2]


def vector_id(lib: Library, path: Path) -> int | None:
    row = lib.store.file(str(path))
    vecs = lib.store.vectors_of(row.id) if row else []
    return vecs[0][0] if vecs else None


def top(lib: Library, text: str) -> str:
    return lib.search(Query(text, limit=1, min_score=0))[0].path


@pytest.mark.parametrize("events", [True, False], ids=["watchdog", "polling"])
def test_changes_are_picked_up_and_moves_keep_their_vectors(tmp_path: Path, events: bool, where) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    scenes = world.distinct_scenes(random.Random(8), 12)
    items = world.write_corpus(a, scenes[:8], seed=8)
    b.mkdir()
    lib = Library.open(where, model=MODEL_SPEC)
    lib.add_root(a)
    lib.add_root(b)
    w = Watcher(lib, poll_interval=0.5 if not events else 300, use_events=events, settle=0.3).start()
    try:
        assert wait_until(lambda: lib.status().photos == 8)
        # new file
        new = a / "new.png"
        world.render(scenes[9], 192, seed=1).save(new)
        assert wait_until(lambda: lib.store.file(str(new)) is not None)
        assert top(lib, world.caption(scenes[9])) == str(new)
        # modified file: new content, same name
        world.render(scenes[10], 192, seed=2).save(new)
        assert wait_until(lambda: top(lib, world.caption(scenes[10])) == str(new))
        # rename, move into a subfolder, move across roots: same vector row each time
        vid = vector_id(lib, items[0].path)
        renamed = a / "renamed.jpg"
        items[0].path.rename(renamed)
        assert wait_until(lambda: vector_id(lib, renamed) == vid)
        (a / "sub").mkdir()
        moved = a / "sub" / "moved.jpg"
        renamed.rename(moved)
        assert wait_until(lambda: vector_id(lib, moved) == vid)
        other_root = b / "elsewhere.jpg"
        shutil.move(moved, other_root)
        assert wait_until(lambda: vector_id(lib, other_root) == vid)
        assert lib.store.file(str(renamed)) is None and lib.store.file(str(moved)) is None
        # deleted file
        items[1].path.unlink()
        assert wait_until(lambda: lib.store.file(str(items[1].path)) is None)
        assert str(items[1].path) not in [h.path for h in lib.search(Query(world.caption(items[1].scene), limit=20, min_score=0))]
    finally:
        w.stop()
        lib.close()


def test_a_file_still_being_written_waits_until_it_is_stable(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    folder.mkdir()
    lib = Library.open(tmp_path / "lib", model=MODEL_SPEC)
    lib.add_root(folder)
    f = folder / "copying.png"
    world.render(world.random_scene(random.Random(1)), 192).save(f)
    report = lib.index(settle=60)
    assert report.deferred == 1 and lib.store.file(str(f)) is None
    os.utime(f, (time.time() - 120, time.time() - 120))
    assert lib.index(settle=60).added == 1
    lib.close()


def test_unmounted_root_and_mass_disappearance_delete_nothing(tmp_path: Path) -> None:
    root = tmp_path / "drive"
    items = world.write_corpus(root, world.distinct_scenes(random.Random(2), 30), seed=2)
    lib = Library.open(tmp_path / "lib", model=MODEL_SPEC)
    lib.index([root])
    root.rename(tmp_path / "unplugged")
    report = lib.index()
    assert report.offline_roots == (str(root),) and report.removed == 0
    assert lib.status().photos == 30 and not lib.status().roots[0].online
    (tmp_path / "unplugged").rename(root)
    for it in items[:25]:
        it.path.unlink()
    report = lib.index()
    assert report.held_back == (str(root),) and report.removed == 0 and lib.status().photos == 30
    assert lib.index(allow_mass_delete=True).removed == 25
    lib.close()


def test_second_writer_is_refused_or_waits(tmp_path: Path) -> None:
    photos = tmp_path / "p"
    world.write_corpus(photos, world.distinct_scenes(random.Random(3), 5), seed=3)
    lib = Library.open(tmp_path / "lib", model=MODEL_SPEC)
    lib.add_root(photos)
    lib.writing.acquire()
    cmd = [sys.executable, "-m", "indexer.cli.main", "--library", str(tmp_path / "lib"), "--model", MODEL_SPEC, "index", "-q"]
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    assert res.returncode == 2 and f"another Glimpse process (pid {os.getpid()})" in res.stderr
    waiting = subprocess.Popen([*cmd, "--wait"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    said = waiting.stderr.readline()  # it says it waits, and for whom, once it has found the library busy
    assert f"waiting for another Glimpse process (pid {os.getpid()})" in said, said
    assert waiting.poll() is None  # still waiting for us
    lib.writing.release()
    out, err = waiting.communicate(timeout=120)
    assert waiting.returncode == 0, err
    assert "5 new" in out
    lib.close()


def _startup_seconds(tmp_path: Path, photos: Path) -> float:
    """How long `glimpse index` takes to start and index one photo on this machine, now."""
    one = tmp_path / "one"
    one.mkdir()
    shutil.copy(next(photos.iterdir()), one)
    took = []
    for name in ("warm", "timed"):  # "warm": a first start exports the model
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "indexer.cli.main", "--library", str(tmp_path / name), "--model", MODEL_SPEC,
                        "index", str(one), "-q"], cwd=REPO, check=True, capture_output=True)
        took.append(time.perf_counter() - t)
    return took[-1]


def _kill_at(proc: subprocess.Popen, db: Path, files: int) -> bool:
    """SIGKILL ``proc`` as soon as ``files`` files are committed (it may be mid-batch, mid-save)."""
    import sqlite3

    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        while proc.poll() is None:
            if con.execute("SELECT COUNT(*) FROM files").fetchone()[0] >= files:
                proc.send_signal(signal.SIGKILL)
                return True
            time.sleep(0.002)
        return False
    finally:
        con.close()


def test_sigkill_at_random_points_never_corrupts_or_re_embeds(tmp_path: Path) -> None:
    """kill -9 during indexing, again and again: consistent every time, each file once."""
    photos = tmp_path / "photos"
    n = 240
    world.write_corpus(photos, world.distinct_scenes(random.Random(5), n), seed=5, size=160)
    start_s = _startup_seconds(tmp_path, photos)
    libdir = tmp_path / "lib"
    with Library.open(libdir, model=MODEL_SPEC, batch_size=8) as lib:
        lib.embedder  # noqa: B018 - the model loads, so these settings are valid and saved
    cmd = [sys.executable, "-m", "indexer.cli.main", "--library", str(libdir), "index", str(photos), "-q"]
    rng = random.Random(1234)
    kills = 0
    for _ in range(14):
        with Library.open(libdir) as lib:
            done = lib.status().photos
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Points are chosen by progress, not by the clock, so they fall inside the run on
        # any machine: during start-up (model loading, crawl), or after a random number of
        # further commits while later batches are decoding, embedding or being saved.
        if n - done < 24 or rng.random() < 0.3:
            time.sleep(rng.uniform(0.1, 0.9) * start_s)
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
        else:
            kills += _kill_at(proc, libdir / "library.db", done + rng.randint(1, n - done - 16))
        proc.wait()
        assert wait_until(lambda: lock_is_free(libdir))  # the run it supervised dies with it, a moment later
        with Library.open(libdir) as lib:
            assert check(lib) == [], "inconsistent after kill"
    assert kills >= 10
    subprocess.run(cmd, cwd=REPO, check=True, capture_output=True)
    with Library.open(libdir) as lib:
        assert check(lib) == []
        assert lib.status().photos == n
        assert len(lib.store.vector_ids()) == n
        # ids are never reused, so the highest id counts every embedding ever committed:
        # nothing committed before a kill was embedded again
        assert lib.store.max_vector_id() == n
