"""The resident search process: a second `glimpse search` answered by it, exactly as a fresh process would."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from indexer.cli import resident
from indexer.cli.main import main
from tests import world
from tests.conftest import MODEL_SPEC
from tests.waiting import wait_until

pytestmark = pytest.mark.skipif(os.name != "posix", reason="the resident talks over a Unix socket")


def shell_search(lib: Path, cwd: Path, *args: str, linger: str) -> subprocess.CompletedProcess:
    """`glimpse search` from a shell, the way a person runs it (a new process each time)."""
    env = {**os.environ, "GLIMPSE_RESIDENT": linger}
    return subprocess.run([sys.executable, "-m", "indexer", "--library", str(lib), "search", *args],
                          capture_output=True, cwd=cwd, env=env, check=False)


@pytest.fixture
def library(tmp_path: Path, capfd) -> Path:
    photos = world.write_corpus(tmp_path / "photos", world.distinct_scenes(random.Random(11), 16), seed=11)
    lib = tmp_path / "lib"
    assert main(["--library", str(lib), "--model", MODEL_SPEC, "index", str(photos[0].path.parent), "-q",
                 "--no-text"]) == 0
    capfd.readouterr()
    yield lib
    resident.stop(lib)  # none is left behind, whatever the test did


def ask(lib: Path, capfd, *args: str) -> tuple[int | None, str, str]:
    rc = resident.ask(lib, ["--library", str(lib), "search", *args])
    said = capfd.readouterr()
    return rc, said.out, said.err


def test_the_next_search_is_answered_by_the_resident_as_a_fresh_process_would(library: Path, tmp_path: Path,
                                                                               capfd, monkeypatch) -> None:
    query = tmp_path / "query.jpg"
    world.render(world.Scene("star", "red", "large", "left", "striped", "gray"), 160, seed=2).save(query)
    words = ("a red star", "-n", "5", "--json", "--min-score", "0")
    first = shell_search(library, tmp_path, *words, linger="60")
    assert first.returncode == 0, first.stderr
    path = resident.socket_path(library)
    assert wait_until(lambda: path is not None and path.exists() and resident._alive(path), timeout=120)

    rc, out, _ = ask(library, capfd, *words)
    assert rc == 0
    assert json.loads(out) == json.loads(first.stdout)
    # a relative path means the client's folder, not the resident's
    monkeypatch.chdir(tmp_path)
    rc, by_image, _ = ask(library, capfd, "--image", "query.jpg", "-n", "3", "--json", "--min-score", "0")
    fresh = shell_search(library, tmp_path, "--image", "query.jpg", "-n", "3", "--json", "--min-score", "0",
                         linger="0")
    assert rc == 0 and json.loads(by_image) == json.loads(fresh.stdout)
    # a failing search fails the same way, with its message
    rc, _, err = ask(library, capfd, "--image", "missing.jpg")
    assert rc == 2 and err == "glimpse: no such picture: missing.jpg\n"


def test_the_resident_steps_aside_when_the_library_changes_and_leaves_when_idle(library: Path, tmp_path: Path,
                                                                                capfd, monkeypatch) -> None:
    assert shell_search(library, tmp_path, "a blue circle", linger="60").returncode == 0
    path = resident.socket_path(library)
    assert wait_until(lambda: path.exists() and resident._alive(path), timeout=120)
    assert ask(library, capfd, "a blue circle")[0] == 0
    assert main(["--library", str(library), "settings", "read_text", "off"]) == 0
    assert ask(library, capfd, "a blue circle")[0] is None  # stale: the search runs in-process
    assert wait_until(lambda: not path.exists(), timeout=30)

    assert shell_search(library, tmp_path, "a blue circle", linger="1").returncode == 0
    assert wait_until(lambda: path.exists(), timeout=120)
    assert wait_until(lambda: not path.exists(), timeout=60)  # a second without a question: gone
    assert ask(library, capfd, "a blue circle")[0] is None

    assert shell_search(library, tmp_path, "a blue circle", linger="60").returncode == 0
    assert wait_until(lambda: path.exists() and resident._alive(path), timeout=120)
    resident.stop(library)
    assert not path.exists()
