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
from indexer.indexing.inflight import JOURNAL
from tests import world
from tests.conftest import MODEL_SPEC

REPO = Path(__file__).resolve().parents[2]
MARK = b"GLIMPSE-TEST-CRASH"
HOOK = f'''
import ctypes
from pathlib import Path

from PIL import Image

_open = Image.open


def _crashing_open(fp, *args, **kwargs):
    name = fp if isinstance(fp, (str, Path)) else getattr(fp, "name", None)
    if name is not None and {MARK!r} in Path(name).read_bytes()[-64:]:
        ctypes.string_at(0)  # a segmentation fault inside decoding, as a decoder's bug gives
    return _open(fp, *args, **kwargs)


Image.open = _crashing_open
'''

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
