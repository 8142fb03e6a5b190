"""Changing a library's model without starting over, with two committed tiny models.

A = tests/assets/tiny-clip (a ViT), B = tests/assets/tiny-clip-gap (another ViT with a
large modality gap): different weights, different scores, different rankings.
"""

from __future__ import annotations

import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from indexer import Library, Query
from indexer.upkeep.doctor import check
from tests import world
from tests.waiting import lock_is_free, wait_until

REPO = Path(__file__).resolve().parents[2]
A = f"local-dir:{REPO / 'tests' / 'assets' / 'tiny-clip'}"
B = f"local-dir:{REPO / 'tests' / 'assets' / 'tiny-clip-gap'}"


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("switch-media")
    # Random scenes, small: near neighbours that differ in one attribute, where the two models
    # disagree on some captions (each answers ~85 % first; each gets some the other misses).
    rng = random.Random(31)
    items = world.write_corpus(folder / "photos", [world.random_scene(rng) for _ in range(120)], seed=31, size=96)
    scenes = [world.Scene("circle", "green", "large", "center", "plain", "white"),
              world.Scene("star", "red", "large", "right", "striped", "gray")]
    world.write_video(folder / "videos" / "clip.mp4", scenes, [6, 6])
    return folder, items


def queries(items: list[world.CorpusItem]) -> list[str]:
    return [world.caption(it.scene) for it in items]


def answers(lib: Library, qs: list[str]) -> list[list[tuple[str, float]]]:
    return [[(h.path, round(h.score, 6)) for h in lib.search(Query(q, min_score=0.0, limit=10))] for q in qs]


def same(got: list[list[tuple[str, float]]], want: list[list[tuple[str, float]]]) -> bool:
    """The same files in the same order with the same scores, up to the last bits of float32 (a server
    library's scores come from pgvector's distance, a folder library's from hnswlib's)."""
    return len(got) == len(want) and all(
        [p for p, _ in g] == [p for p, _ in w] and all(abs(a - b) <= 1e-5 for (_, a), (_, b) in zip(g, w, strict=True))
        for g, w in zip(got, want, strict=True))


def fresh(where: Path | str, media: Path, model: str) -> Library:
    lib = Library.open(where, model=model, read_text=False)
    lib.index([media])
    return lib


@pytest.fixture(scope="module")
def baselines(tmp_path_factory: pytest.TempPathFactory, media):
    """What A and B answer when each indexed the library from scratch."""
    folder, items = media
    qs = queries(items)
    out = {}
    for name, spec in (("A", A), ("B", B)):
        lib = fresh(tmp_path_factory.mktemp(f"only-{name}"), folder, spec)
        out[name] = answers(lib, qs)
        lib.close()
    return qs, out


def started(where: Path | str, media: Path) -> Library:
    """A library of ``media`` on model A, a switch to B started (both kinds of library: ``where``)."""
    lib = fresh(where, media, A)
    lib.switch.start(B)
    return lib


def test_search_answers_with_a_until_b_covers_the_library_then_with_b(where, media, baselines) -> None:
    folder, items = media
    qs, base = baselines
    lib = started(where, folder)
    assert same(answers(lib, qs), base["A"])
    partial = lib.switch.reembed(should_yield=lambda: lib.switch.state().covered >= 16)
    assert partial.remaining > 0 and lib.switch.state().covered >= 16
    assert same(answers(lib, qs), base["A"]), "a half-done switch changed the results"
    seen: list[list[list[tuple[str, float]]]] = []
    runner = threading.Thread(target=lib.switch.reembed)
    runner.start()
    while runner.is_alive():  # searching while the switch runs in another thread
        seen.append(answers(lib, qs[:5]))
    runner.join()
    assert all(same([got], [base["A"][i]]) or same([got], [base["B"][i]]) for s in seen for i, got in enumerate(s)), \
        "a search mixed the two models"
    assert lib.switch.state().target is None and lib.switch.state().active_spec == B
    assert same(answers(lib, qs), base["B"])
    only_b = [i for i, q in enumerate(qs) if base["B"][i][0][0] == str(items[i].path) != base["A"][i][0][0]]
    assert only_b, "the two test models should disagree somewhere"
    assert all(lib.search(Query(qs[i]))[0].path == str(items[i].path) for i in only_b)
    lib.close()
    with Library.open(where) as again:  # remembered: no --model needed
        assert again.settings.model == B and same(answers(again, qs[:3]), base["B"][:3])


def test_abandoning_a_switch_leaves_the_library_exactly_as_it_was(where, media, baselines) -> None:
    folder, _ = media
    qs, base = baselines
    lib = started(where, folder)
    before_ids = lib.store.vector_ids()
    lib.switch.reembed(should_yield=lambda: lib.switch.state().covered >= 10)
    assert lib.switch.cancel()
    st = lib.switch.state()
    assert st.target is None and [m for m, _ in st.space] == [lib.model_id]
    assert lib.store.vector_ids() == before_ids and same(answers(lib, qs), base["A"])
    assert check(lib) == []
    lib.close()


def test_new_files_during_a_switch_are_embedded_with_both_and_found_after(tmp_path: Path, where, media,
                                                                           baselines) -> None:
    folder, _ = media
    lib = started(where, folder)
    lib.switch.reembed(should_yield=lambda: lib.switch.state().covered >= 8)
    new = world.write_corpus(tmp_path / "more", world.distinct_scenes(random.Random(99), 3), seed=99)
    for it in new:
        shutil.copy(it.path, folder / "photos" / f"new_{it.path.name}")
    try:
        lib.index()
        row = lib.store.file(str(folder / "photos" / f"new_{new[0].path.name}"))
        target = lib.switch.state().target
        assert lib.store.vectors_of(row.id) and lib.store.vectors_of(row.id, target)
        lib.switch.reembed()
        assert lib.switch.state().target is None
        hit = lib.search(Query(world.caption(new[1].scene), min_score=0.0))[0]
        assert hit.path == str(folder / "photos" / f"new_{new[1].path.name}")
    finally:
        for it in new:
            (folder / "photos" / f"new_{it.path.name}").unlink()
        lib.close()


def test_prune_frees_the_old_models_space(tmp_path: Path, media) -> None:
    folder, _ = media
    lib = started(tmp_path / "lib", folder)
    old = lib.model_id
    lib.switch.reembed()
    st = lib.switch.state()
    assert st.kept == (old,) and dict(st.space)[old] > 0
    size = lib.store.size_bytes()
    dropped, freed = lib.switch.prune()
    assert dropped > 0 and freed > 0 and lib.store.size_bytes() == size - freed
    assert (tmp_path / "lib" / "library.db").stat().st_size <= size - freed  # the file itself shrank
    assert [m for m, _ in lib.switch.state().space] == [lib.model_id] and lib.switch.state().kept == ()
    assert check(lib) == []
    lib.close()


def _b_vectors(db: Path, model: str) -> int:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return con.execute("SELECT COUNT(DISTINCT file_id) FROM vectors WHERE model = ?", [model]).fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        con.close()


def test_kill_9_during_a_switch_resumes_and_embeds_every_file_once(tmp_path: Path, media, baselines) -> None:
    folder, _ = media
    qs, base = baselines
    lib = fresh(tmp_path / "lib", folder, A)
    n_files = lib.status().photos + lib.status().videos
    a_vectors = lib.store.vector_count()
    target = lib.switch.start(B).target
    lib.close()
    db = tmp_path / "lib" / "library.db"
    cmd = [sys.executable, "-m", "indexer", "--library", str(tmp_path / "lib"), "model", "use", B]
    rng = random.Random(7)
    kills = 0
    for _ in range(5):
        done = _b_vectors(db, target)
        if done >= n_files - 2:
            break
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        goal = done + rng.randint(1, max(1, (n_files - done) // 3))
        while proc.poll() is None and _b_vectors(db, target) < goal:
            time.sleep(0.002)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
        assert wait_until(lambda: lock_is_free(tmp_path / "lib"))  # the run it supervised dies with it
        with Library.open(tmp_path / "lib") as mid:
            assert check(mid) == [] and same(answers(mid, qs[:5]), base["A"][:5])  # A still answers, unharmed
    assert kills >= 2
    subprocess.run(cmd, cwd=REPO, check=True, capture_output=True)
    with Library.open(tmp_path / "lib") as lib:
        assert lib.switch.state().active_spec == B and check(lib) == []
        files = lib.store.files(status="ok")
        assert all(lib.store.vectors_of(f.id) for f in files)
        # ids are never reused: B's rows were each committed once, none of a killed batch twice
        b_rows = lib.store.vector_count()
        assert lib.store.max_vector_id() == a_vectors + b_rows
        assert same(answers(lib, qs), base["B"])


def test_cli_model_use_status_and_prune(tmp_path: Path, media) -> None:
    folder, _ = media
    fresh(tmp_path / "lib", folder, A).close()
    cli = [sys.executable, "-m", "indexer", "--library", str(tmp_path / "lib")]
    refused = subprocess.run([*cli, "--model", B, "search", "a star"], cwd=REPO, capture_output=True, text=True)
    assert refused.returncode == 2 and "glimpse model use" in refused.stderr
    subprocess.run([*cli, "model", "use", B, "--start-only"], cwd=REPO, check=True, capture_output=True)
    status = subprocess.run([*cli, "status"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert "switching to" in status and "0/" in status
    done = subprocess.run([*cli, "index"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert "the new model is now active" in done
    status = subprocess.run([*cli, "status"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert "tiny-clip-gap" in status.splitlines()[1] and "prune" in status
    pruned = subprocess.run([*cli, "model", "prune"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert "deleted" in pruned


def test_a_watcher_in_another_process_follows_a_model_switch(tmp_path: Path) -> None:
    """`glimpse watch` running (a real process) while `glimpse model use B` finishes in another: a photo
    added afterwards is embedded by the watcher with B, the library's model, and found by itself."""
    photos = tmp_path / "photos"
    world.write_corpus(photos, world.distinct_scenes(random.Random(61), 12), seed=61)
    fresh(tmp_path / "lib", photos, A).close()
    cli = [sys.executable, "-m", "indexer", "--library", str(tmp_path / "lib")]
    # folder events only (no rescan): the watcher stays idle while the other process switches
    watcher = subprocess.Popen([*cli, "watch", "--poll", "3600", "--settle", "0.2"], cwd=REPO,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        for line in watcher.stderr:  # its first pass is done: it has model A loaded
            if "watching for changes" in line:
                break
        subprocess.run([*cli, "model", "use", B, "--wait"], cwd=REPO, check=True, capture_output=True, timeout=300)
        with Library.open(tmp_path / "lib") as lib:
            b_id = lib.model_id
            assert lib.settings.model == B and not lib.switch.under_way
        new = world.write_corpus(tmp_path / "incoming", world.distinct_scenes(random.Random(62), 1), seed=62)[0]
        added = photos / "added.jpg"
        shutil.copy(new.path, added)
        db = sqlite3.connect(f"file:{tmp_path / 'lib' / 'library.db'}?mode=ro", uri=True, timeout=5)

        def models_of_added() -> set[str]:
            q = "SELECT v.model FROM vectors v JOIN files f ON f.id = v.file_id WHERE f.path = ?"
            return {m for (m,) in db.execute(q, [str(added)])}

        assert wait_until(lambda: models_of_added(), timeout=120), "the watcher never indexed the new photo"
        assert b_id in models_of_added()  # embedded with the library's model, not the one the watcher started with
        db.close()
    finally:
        watcher.terminate()
        watcher.wait(30)
    with Library.open(tmp_path / "lib") as lib:  # the same picture from elsewhere finds it first
        assert lib.model_id == b_id
        hits = lib.search(Query(images=(str(new.path),), limit=1, min_score=0.0))
        assert [h.path for h in hits] == [str(added)]


def test_a_library_opened_before_another_switch_flipped_loads_the_new_model(tmp_path: Path) -> None:
    """A process that read the library's settings just before another's switch flipped (the long soak,
    bench/bench_soak.py, saw `glimpse search` fail so, 3 times in 160) loads the library's model: B."""
    photos = tmp_path / "photos"
    world.write_corpus(photos, world.distinct_scenes(random.Random(63), 6), seed=63)
    fresh(tmp_path / "lib", photos, A).close()
    early = Library.open(tmp_path / "lib")  # settings read: model A; nothing loaded yet
    try:
        with Library.open(tmp_path / "lib") as other:
            other.change_model(B)
            other.switch.reembed()
            b_id = other.model_id
        assert early.embedder.id == b_id  # not "this library uses model B, not A"
        assert early.settings.model == B
        assert early.search(Query("a red star", min_score=0.0, limit=3))
    finally:
        early.close()
