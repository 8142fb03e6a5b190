"""Words in pictures, read by the real OCR model (rapidocr's PP-OCRv6) and searched.

The corpus is rendered by ``tests/textworld.py`` on a seed used for nothing else (the
reader's settings were chosen on seed 5101), on plain backgrounds and on real photos
from ../shared/data when present.
"""

from __future__ import annotations

import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from indexer import Library, Query, SearchOptions
from indexer.search.words import words_of
from tests import textworld
from tests.conftest import MODEL_SPEC, once_per_run
from tests.waiting import lock_is_free, wait_until

HELD_OUT = 9103
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def read(tmp_path_factory: pytest.TempPathFactory):
    """A library of pictures with known text (upright; turned and in perspective) and without, read
    (built once a run, its tests only read it)."""

    def build(base: Path):
        photos = textworld.photo_backgrounds(40)
        upright = textworld.write_text_corpus(base / "pics" / "upright", HELD_OUT, 30, photos, max_angle=0,
                                              perspective=0)
        turned = textworld.write_text_corpus(base / "pics" / "turned", HELD_OUT + 1, 20, photos, heights=(24, 64))
        plain = textworld.write_textless(base / "pics" / "plain", HELD_OUT + 2, 20, [])
        plain += [shutil.copy(p, base / "pics" / "plain" / p.name) and base / "pics" / "plain" / p.name
                  for p in textworld.photo_backgrounds(200)[100:150]]
        with Library.open(base / "lib", model=MODEL_SPEC) as lib:
            lib.index([base / "pics"])
            report = lib.read_text()
        return base / "lib", upright, turned, plain, report

    folder, upright, turned, plain, report = once_per_run(tmp_path_factory, "text-read", build)
    lib = Library.open(folder)
    yield lib, upright, turned, plain, report
    lib.close()


def word_scores(lib: Library, pictures: list[textworld.TextPicture]) -> tuple[float, float]:
    """Word-level recall and precision of what the library read against what was rendered."""
    hit = missed = extra = 0
    for pic in pictures:
        got = Counter(w for line in lib.text_of(str(pic.path)) or [] for w in words_of(line.text))
        want = Counter(w for line in pic.lines for w in words_of(line.text))
        both = sum((got & want).values())
        hit, missed, extra = hit + both, missed + sum(want.values()) - both, extra + sum(got.values()) - both
    return hit / max(hit + missed, 1), hit / max(hit + extra, 1)


def test_upright_text_is_read_word_for_word(read) -> None:
    lib, upright, _, _, report = read
    recall, precision = word_scores(lib, upright)
    assert recall >= 0.9 and precision >= 0.9, (recall, precision)
    assert report.remaining == 0 and report.read == lib.status().photos


def test_turned_and_slanted_text_is_mostly_read(read) -> None:
    """Up to ±30° and mild perspective: the issue sets no bar; measured 0.96 on the tuning seed."""
    lib, _, turned, _, _ = read
    recall, precision = word_scores(lib, turned)
    assert recall >= 0.8 and precision >= 0.9, (recall, precision)


def test_pictures_without_text_get_no_text(read) -> None:
    lib, _, _, plain, _ = read
    with_text = [p for p in plain if lib.text_of(str(p))]
    assert lib.text_of(str(plain[0])) == []  # read, and nothing found
    assert len(with_text) <= 0.02 * len(plain), [(p.name, lib.text_of(str(p))) for p in with_text]


def test_a_quoted_phrase_finds_the_pictures_showing_it(read) -> None:
    lib, upright, turned, _, _ = read
    everything = upright + turned
    shows = {str(p.path): " ".join(" ".join(words_of(line.text)) for line in p.lines) for p in everything}
    right = asked = 0
    for pic in upright:
        for line in pic.lines:
            phrase = " ".join(words_of(line.text))
            hits = lib.search(Query(f'"{line.text}"'))
            asked += 1
            right += bool(hits) and f" {phrase} " in f" {shows.get(hits[0].path, '')} "
            assert all(f" {phrase} " in f" {shows.get(h.path, '')} " for h in hits), (line.text, hits[:3])
    assert right / asked >= 0.95, (right, asked)


def test_accents_and_case_do_not_matter_in_quotes(read) -> None:
    lib, upright, turned, _, _ = read
    accented = [(p, w) for p in upright + turned for line in p.lines for w in line.text.split()
                if w.lower() != "".join(words_of(w)) and w.isalpha()]
    assert accented, "the corpus should hold a word with an accent"
    pic, word = accented[0]
    plain = "".join(words_of(word))  # "Zürich" -> "zurich"
    assert str(pic.path) in [h.path for h in lib.search(Query(f'"{plain.upper()}"', limit=50))]


@pytest.fixture(scope="module", params=["tiny-clip", "tiny-clip-gap", "tiny-clip-conv"])
def per_model(request, tmp_path_factory: pytest.TempPathFactory):
    """Signs on plain backgrounds, indexed and read with each of the three test models (built once a run)."""

    def build(base: Path):
        pics = textworld.write_text_corpus(base / "pics", HELD_OUT + 3, 20, [], max_angle=0, perspective=0)
        textworld.write_textless(base / "pics", HELD_OUT + 4, 10, [])
        with Library.open(base / "lib", model=f"local-dir:{REPO / 'tests' / 'assets' / request.param}") as lib:
            lib.index([base / "pics"])
            lib.read_text()
        return base / "lib", pics

    folder, pics = once_per_run(tmp_path_factory, f"words-{request.param}", build)
    lib = Library.open(folder)
    yield lib, pics
    lib.close()


def test_words_raise_the_pictures_that_show_them_above_the_picture_search(per_model) -> None:
    """Same run: the plain picture search (no text) and the blend, one written word per query.

    The blend weight was chosen on the tuning seed (tests/textworld, seed 5101) of all three
    models: a weight below 1 left the conv model's confident picture matches on top.
    """
    lib, pics = per_model
    blended = plain = asked = 0
    for pic in pics:
        word = max(words_of(pic.lines[0].text), key=len)
        holds = {str(p.path) for p in pics if word in words_of(" ".join(line.text for line in p.lines))}
        hits = lib.search(Query(word, min_score=0.0))
        base = lib.searching.by_vector(lib.searching.query_vector(Query(word)), SearchOptions(limit=1, min_score=0.0))
        asked += 1
        blended += hits[0].path in holds
        plain += base[0].path in holds
    assert blended / asked >= 0.9 and blended > plain, (blended, plain, asked)


def test_words_nobody_wrote_leave_the_picture_ranking_alone(read) -> None:
    lib, _, _, _, _ = read
    q = Query("a green circle in the grass", min_score=0.0, limit=30)
    plain = lib.searching.by_vector(lib.searching.query_vector(q), SearchOptions(limit=30, min_score=0.0))
    assert [h.path for h in lib.search(q)] == [h.path for h in plain]


def test_text_only_and_the_text_filter(read) -> None:
    lib, upright, _, plain, _ = read
    word = words_of(upright[3].lines[0].text)[0]
    only = lib.search(Query(word, text_only=True, limit=100))
    assert only and all(word in words_of(h.text or "") or h.text_score > 0 for h in only)
    assert str(upright[3].path) in [h.path for h in only]
    from indexer.search.query import Filters

    without = lib.search(Query("a photo", min_score=0.0, limit=200, filters=Filters(has_text=False)))
    assert without and not any(lib.text_of(h.path) for h in without)


def test_cli_text_search_and_text_command(read, tmp_path: Path) -> None:
    lib, upright, _, _, _ = read
    pic = upright[0]
    cli = [sys.executable, "-m", "indexer", "--library", str(lib.folder)]
    out = subprocess.run([*cli, "search", f'"{pic.lines[0].text}"', "--json"], cwd=REPO, capture_output=True,
                         text=True, check=True)
    import json

    res = json.loads(out.stdout)["results"]
    assert res[0]["path"] == str(pic.path) or pic.lines[0].text.lower() in res[0]["text"].lower()
    assert res[0]["text_box"] and 0 <= res[0]["text_box"][0] < res[0]["text_box"][2] <= 1
    shown = subprocess.run([*cli, "text", str(pic.path)], cwd=REPO, capture_output=True, text=True, check=True)
    assert words_of(pic.lines[0].text)[0] in words_of(shown.stdout)


def test_moved_file_keeps_its_text_and_changed_file_is_read_again(tmp_path: Path, where) -> None:
    pics = textworld.write_text_corpus(tmp_path / "pics", 4242, 3, [], max_angle=0, perspective=0)
    with Library.open(where, model=MODEL_SPEC) as lib:
        lib.index([tmp_path / "pics"])
        assert lib.read_text().read == 3
        before = lib.text_of(str(pics[0].path))
        moved = tmp_path / "pics" / "renamed.jpg"
        pics[0].path.rename(moved)
        shutil.copy(pics[2].path, pics[1].path)  # new content under an old name
        lib.index()
        again = lib.read_text()
        assert again.read == 1  # only the changed file: the moved one kept its text
        assert [(t.id, t.text) for t in lib.text_of(str(moved))] == [(t.id, t.text) for t in before]
        assert [t.text for t in lib.text_of(str(pics[1].path))] == [t.text for t in lib.text_of(str(pics[2].path))]


def test_reading_text_can_be_turned_off(tmp_path: Path, where) -> None:
    textworld.write_text_corpus(tmp_path / "pics", 4343, 2, [], max_angle=0, perspective=0)
    with Library.open(where, model=MODEL_SPEC) as lib:
        lib.update_settings(read_text=False)
        lib.index([tmp_path / "pics"])
        assert lib.read_text().read == 0 and lib.status().text_read == 0
        lib.update_settings(read_text=True)
        assert lib.text_pending() == 2 and lib.read_text().read == 2


def test_kill_9_during_the_text_pass_resumes_without_reading_anything_twice(tmp_path: Path) -> None:
    n = 16
    textworld.write_text_corpus(tmp_path / "pics", 4444, n, [], max_angle=0, perspective=0)
    libdir = tmp_path / "lib"
    with Library.open(libdir, model=MODEL_SPEC) as lib:
        lib.index([tmp_path / "pics"])  # pictures embedded; their text not read yet
    proc = subprocess.Popen([sys.executable, "-m", "indexer", "--library", str(libdir), "index", "-q"], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    con = sqlite3.connect(f"file:{libdir / 'library.db'}?mode=ro", uri=True, timeout=5)
    try:
        while proc.poll() is None:
            if con.execute("SELECT COUNT(*) FROM files WHERE text_read IS NOT NULL").fetchone()[0] >= 4:
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.005)
    finally:
        con.close()
    assert proc.wait() == -signal.SIGKILL, "the pass ended before it could be killed"
    assert wait_until(lambda: lock_is_free(libdir))  # the run it supervised dies with it, a moment later
    with Library.open(libdir) as lib:
        done = lib.status().text_read
        kept = {r.id: [t.id for t in lib.store.text_of(r.id)] for r in lib.store.files() if lib.store.was_text_read(r.id)}
        assert 4 <= done < n
        report = lib.read_text()
        assert report.read == n - done  # the files read before the kill are not read again
        assert {fid: [t.id for t in lib.store.text_of(fid)] for fid in kept} == kept
        assert lib.status().text_read == n and lib.text_pending() == 0


def test_video_moments_are_read_when_asked(tmp_path: Path, where) -> None:
    import cv2
    import numpy as np

    rng = __import__("random").Random(5)
    frames = [textworld.render(rng, [], size=(640, 480), max_angle=0, perspective=0, n_lines=1) for _ in range(2)]
    path = tmp_path / "vids" / "slides.mp4"
    path.parent.mkdir()
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 5, (640, 480))
    for img, _ in frames:
        for _ in range(5 * 6):  # six seconds per slide
            out.write(cv2.cvtColor(np.asarray(img), cv2.COLOR_RGB2BGR))
    out.release()
    with Library.open(where, model=MODEL_SPEC) as lib:
        lib.index([path.parent])
        assert lib.read_text().read == 0  # videos are off by default
        lib.update_settings(read_text_video=True)
        assert lib.read_text().read == 1
        lines = lib.text_of(str(path))
        got = set(words_of(" ".join(t.text for t in lines)))
        assert all(set(words_of(f[1][0].text)) <= got for f in frames)
        word = words_of(frames[1][1][0].text)[0]
        hit = lib.search(Query(f'"{word}"', text_only=True))[0]
        assert hit.kind == "video" and hit.timestamp is not None and hit.timestamp >= 5.0


def test_words_in_a_1080p_video_are_read_though_its_frames_are_read_smaller(tmp_path: Path) -> None:
    """Video frames are detected at ``ocr.VIDEO_SIDE`` (832 px, photos at 960: a 10-minute video in
    under 10 s); words 16-28 px high on a 1080p frame, about 7-12 px there, are still read."""
    import random

    import cv2
    import numpy as np

    rng = random.Random(HELD_OUT + 7)
    scenes = [textworld.render(rng, [], size=(1920, 1080), heights=(16, 28), max_angle=0, perspective=0, n_lines=3)
              for _ in range(3)]
    path = tmp_path / "vids" / "signs.mp4"
    path.parent.mkdir()
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 2, (1920, 1080))
    for img, _ in scenes:
        for _ in range(2 * 6):  # six seconds a sign
            out.write(cv2.cvtColor(np.asarray(img.convert("RGB")), cv2.COLOR_RGB2BGR))
    out.release()
    with Library.open(tmp_path / "lib", model=MODEL_SPEC) as lib:
        lib.index([path.parent])
        lib.update_settings(read_text_video=True)
        assert lib.read_text().read == 1
        got = set(words_of(" ".join(t.text for t in lib.text_of(str(path)))))
    shown = [w for _, lines in scenes for line in lines for w in words_of(line.text)]
    # 18 of 19 here; read at 480 px, 15 (and at 640 still 18: the test guards against far too small a side)
    assert len(shown) >= 6 and sum(w in got for w in shown) >= 0.85 * len(shown)


def test_glimpse_search_sale_returns_exactly_the_pictures_showing_it(read) -> None:
    """The issue's acceptance check, through the CLI: '"SALE"' on photos with rendered signs."""
    lib, upright, turned, plain, _ = read
    showing = {str(p.path) for p in upright + turned if "sale" in words_of(" ".join(line.text for line in p.lines))}
    assert showing, "the corpus should show SALE somewhere"
    out = subprocess.run([sys.executable, "-m", "indexer", "--library", str(lib.folder), "search", '"SALE"',
                          "--limit", "100"], cwd=REPO, capture_output=True, text=True, check=True)
    found = {line.split("  ", 2)[1].strip() for line in out.stdout.splitlines() if line.strip()}
    assert found == showing


def test_the_text_pass_pauses_stops_and_yields_between_pictures(tmp_path: Path, where) -> None:
    import threading

    textworld.write_text_corpus(tmp_path / "pics", 4545, 4, [], max_angle=0, perspective=0)
    with Library.open(where, model=MODEL_SPEC) as lib:
        lib.index([tmp_path / "pics"])
        pause, out = threading.Event(), []
        pause.set()
        t = threading.Thread(target=lambda: out.append(lib.read_text(pause=pause)))
        t.start()
        assert wait_until(lambda: lib.writing._owner == t.ident)  # the pass has begun (it holds the write lock)
        assert not wait_until(lambda: lib.status().text_read, timeout=1.0)  # paused before the first picture
        pause.clear()
        t.join(60)
        assert out[0].read == 4
        more = textworld.write_text_corpus(tmp_path / "more", 4546, 4, [], max_angle=0, perspective=0)
        for p in more:
            shutil.copy(p.path, tmp_path / "pics" / p.path.name)
        lib.index()
        stop = threading.Event()
        stop.set()
        cancelled = lib.read_text(cancel=stop)
        assert (cancelled.read, cancelled.remaining, cancelled.cancelled) == (0, 4, True)
        yielded = lib.read_text(should_yield=lambda: lib.status().text_read >= 5)  # new files arrived: stop
        # within the pictures already being read (one per OCR engine: two on two cores), nothing lost
        assert 1 <= yielded.read <= 2 and yielded.remaining == 4 - yielded.read
        assert lib.read_text().read == yielded.remaining  # and the next pass resumes with the rest
