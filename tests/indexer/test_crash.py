"""A file that crashes its decoder with a real native crash costs that file only.

The crash is real: a ``sitecustomize`` put on the indexing process's path makes PIL's opening of one
marked JPEG read memory at address 0 through ctypes, a segmentation fault inside decoding, as the
libjpeg/libtiff/LibRaw bugs the issue names do. Nothing in the test stands in for the crash.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from indexer import Library, Query
from indexer.base.isolation import Crashed
from indexer.indexing.inflight import JOURNAL
from tests import world
from tests.conftest import MODEL_SPEC
from tests.crashing import HOOK, MARK

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(os.name != "posix", reason="signals")


@pytest.fixture
def crashing(tmp_path: Path):
    """30 photos, one of which crashes the image decoder; the environment that makes it crash."""
    items = world.write_corpus(tmp_path / "photos", world.distinct_scenes(random.Random(71), 30), seed=71)
    bad = items[7].path
    bad.write_bytes(bad.read_bytes() + MARK)  # after the JPEG's end: other readers ignore it
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(HOOK)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(hook), str(REPO)])}
    return items, bad, env


def test_the_hook_really_crashes_the_process(crashing) -> None:
    _, bad, env = crashing
    code = f"from PIL import Image; Image.open({str(bad)!r})"
    assert subprocess.run([sys.executable, "-c", code], env=env, capture_output=True).returncode == -signal.SIGSEGV


def test_a_file_that_crashes_its_decoder_costs_that_file_only(tmp_path: Path, crashing) -> None:
    items, bad, env = crashing
    lib = tmp_path / "lib"
    with Library.open(lib, model=MODEL_SPEC, read_text=False, batch_size=4) as made:
        made.embedder  # noqa: B018 - the model loads, so the library keeps these settings
    # `glimpse index` as a person runs it (its own supervisor: a run a crash ends is started again)
    run = subprocess.run([sys.executable, "-c", "import sys; from indexer.cli.main import main; sys.exit(main())",
                          "--library", str(lib), "index", str(items[0].path.parent)],
                         env=env, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert "crashed a decoder (signal 11)" in run.stderr, run.stderr
    assert run.returncode == 3, run.stderr  # finished; some files could not be indexed
    with Library.open(lib) as opened:
        assert opened.status().photos == 29  # every other photo
        errors = {row.path: row.error for row in opened.errors()}
        assert list(errors) == [str(bad)] and "crashed the image decoder (SIGSEGV, signal 11)" in errors[str(bad)]
        good = items[3]
        assert opened.search(Query(world.caption(good.scene), min_score=0.0, limit=3))  # the library works
    assert not (lib / JOURNAL).exists()  # nothing left behind
    again = subprocess.run([sys.executable, "-m", "indexer", "--library", str(lib), "index"], env=env, cwd=REPO,
                           capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and "crashed" not in again.stderr, again.stderr  # not tried again while unchanged
    con = sqlite3.connect(lib / "library.db")
    assert con.execute("SELECT COUNT(*) FROM files WHERE status = 'error'").fetchone()[0] == 1  # recorded once
    con.close()


# The app's way (Library.open(isolated=True)): files are decoded in worker processes, so a crash costs a
# worker, never this process. The hook is put on the workers' path only: this process decodes safely.
B_MODEL = f"local-dir:{REPO / 'tests' / 'assets' / 'tiny-clip-gap'}"


@pytest.fixture
def indexed_then_crashing(tmp_path: Path, crashing, monkeypatch):
    """The 30 photos indexed while nothing crashed (then the marked one starts to), and the library's folder."""
    items, bad, env = crashing
    lib = tmp_path / "lib"
    with Library.open(lib, model=MODEL_SPEC, read_text=False, batch_size=4) as made:
        assert made.index([items[0].path.parent]).errors == 0
    monkeypatch.setenv("PYTHONPATH", env["PYTHONPATH"])  # from now on the workers crash on the marked file
    return items, bad, lib


def test_in_the_app_a_crashing_file_costs_a_worker_and_is_set_aside(where, crashing, monkeypatch) -> None:
    items, bad, env = crashing
    monkeypatch.setenv("PYTHONPATH", env["PYTHONPATH"])
    with Library.open(where, isolated=True, model=MODEL_SPEC, read_text=False, batch_size=4) as lib:
        report = lib.index([items[0].path.parent])
        assert (report.added, report.errors) == (29, 1)
        errors = {row.path: row.error for row in lib.errors()}
        assert list(errors) == [str(bad)] and "crashed the image decoder (SIGSEGV, signal 11)" in errors[str(bad)]
        assert lib.index().errors == 0  # not tried again while it is unchanged
        assert [row.path for row in lib.errors()] == [str(bad)]


def test_thumbnails_previews_and_examples_survive_a_crashing_file(indexed_then_crashing) -> None:
    items, bad, folder = indexed_then_crashing
    with Library.open(folder, isolated=True) as lib:
        hits = lib.search(Query(world.caption(items[7].scene), min_score=0.0, limit=30))
        mine = next(h for h in hits if h.path == str(bad))
        other = next(h for h in hits if h.path != str(bad))
        with pytest.raises(Crashed, match="SIGSEGV"):
            lib.views.thumbnail(mine)
        with pytest.raises(Crashed, match="SIGSEGV"):
            lib.views.picture(str(bad), 800)
        assert lib.views.thumbnail(other).exists() and lib.views.picture(other.path, 64).size[0] <= 64
        with pytest.raises(ValueError, match=r"crashed the image decoder \(SIGSEGV"):
            lib.search(Query(images=(str(bad),)))  # "More like this" on it: an error, not a dead app
        assert lib.search(Query(images=(other.path,), limit=3, min_score=0.0))  # a good example still works


def test_the_passes_after_indexing_set_a_crashing_file_aside(indexed_then_crashing) -> None:
    items, bad, folder = indexed_then_crashing
    with Library.open(folder, isolated=True, read_text=True) as lib:
        text = lib.read_text()
        assert text.failed == 1 and text.read == 29
        assert {row.path: row.error for row in lib.errors()}.keys() == {str(bad)}
        assert "crashed the image decoder" in lib.errors()[0].error
        assert lib.status().photos == 29  # its vectors went with it: it is not found until it changes


def test_a_model_switch_finishes_past_a_crashing_file(indexed_then_crashing) -> None:
    items, bad, folder = indexed_then_crashing
    with Library.open(folder, isolated=True) as lib:
        lib.change_model(B_MODEL)
        report = lib.switch.reembed()
        assert report.failed == 1 and report.remaining == 0
        assert lib.model_id is not None and "tiny-clip-gap" in lib.settings.model  # the switch flipped
        assert [row.path for row in lib.errors()] == [str(bad)]
        good = items[3]
        assert lib.search(Query(world.caption(good.scene), min_score=0.0, limit=30))
