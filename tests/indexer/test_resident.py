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


def _raw(path: Path, payload: bytes, hold: float = 0.0) -> None:
    """Bytes sent over the resident's real socket as any local program could; its answer, if any, ignored."""
    import socket
    import time

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        while True:
            try:
                s.connect(str(path))
                break
            except BlockingIOError:  # its queue of waiting connections is full: it is still taking them
                time.sleep(0.005)
        s.sendall(payload)
        time.sleep(hold)  # a client that stops half way holds the resident this long at most


def _frame(obj: object) -> bytes:
    import struct

    data = json.dumps(obj).encode()
    return struct.pack("!I", len(data)) + data


def test_the_resident_only_searches_and_survives_whatever_is_sent_to_it(library: Path, tmp_path: Path, capfd,
                                                                        monkeypatch) -> None:
    """1,000 malformed or hostile messages over the real socket, then a normal search is still answered by it;
    a command other than search is refused; the client's folder and time zone are the client's."""
    import struct

    assert shell_search(library, tmp_path, "a red star", linger="120").returncode == 0
    path = resident.socket_path(library)
    assert wait_until(lambda: path.exists() and resident._alive(path), timeout=120)
    inode = path.stat().st_ino  # the same socket (the same resident) all along
    rng = random.Random(5)
    good = {"stamp": resident.stamp(), "argv": ["--library", str(library), "search", "x"], "cwd": str(tmp_path),
            "tz": None, "encoding": "utf-8", "errors": "strict"}
    shapes = [
        lambda: rng.randbytes(rng.randint(0, 64)),  # noise
        lambda: struct.pack("!I", rng.choice([0xFFFFFFFF, 1 << 31, 1 << 24])) + b"{}",  # a length of gigabytes
        lambda: _frame(rng.choice([[], [1, 2], "text", 42, None, True])),  # JSON, but not an object
        lambda: _frame({k: rng.choice([None, 1, [], {}, "", ["a", 2]]) for k in good}),  # fields of the wrong kind
        lambda: _frame({**good, "argv": rng.choice([["watch"], ["model", "import", str(tmp_path), "--name", "/x"],
                                                    ["index", str(tmp_path)], ["--help"], ["nonsense"]])}),
        lambda: _frame({**good, "cwd": rng.choice(["/nonexistent", str(tmp_path / "nothing"), ""])}),
        lambda: _frame(good)[: rng.randint(1, 20)],  # cut short
    ]
    for _ in range(1000):
        _raw(path, rng.choice(shapes)())
    _raw(path, struct.pack("!I", 100) + b"{", hold=0.1)  # stops half way
    assert resident._alive(path) and path.stat().st_ino == inode

    monkeypatch.chdir(tmp_path)
    rc, out, err = ask(library, capfd, "a red star", "-n", "2")
    assert rc == 0 and out.strip(), err  # still answering, as before
    model_dir = tmp_path / "elsewhere"
    refused = resident._exchange(library, {**good, "argv": ["--library", str(library), "model", "import",
                                                            str(tmp_path), "--name", str(model_dir)]})
    assert refused is not None and refused["rc"] == 2 and "searches only" in refused["err"]
    assert not model_dir.exists()

    pids = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _runs(p, "resident", str(library))]
    assert pids  # the client's folder is not kept busy, once the answer is sent
    assert wait_until(lambda: all((p / "cwd").resolve() == Path("/") for p in pids), timeout=10)


def _runs(proc: Path, *words: str) -> bool:
    try:
        cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False
    return all(w in cmdline for w in words)


def test_a_socket_folder_that_is_a_link_is_never_used(tmp_path: Path, monkeypatch) -> None:
    """Where XDG_RUNTIME_DIR is unset the folder is in /tmp: a link planted there is refused, not followed."""
    runtime = tmp_path / "run"
    runtime.mkdir()
    target = tmp_path / "planted"
    target.mkdir(mode=0o700)
    (runtime / f"glimpse-{os.getuid()}").symlink_to(target)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    assert resident.socket_path(tmp_path / "lib") is None
    (runtime / f"glimpse-{os.getuid()}").unlink()
    assert resident.socket_path(tmp_path / "lib") is not None  # a real folder of ours is used


def test_a_search_behind_a_busy_resident_runs_in_its_own_process_at_once(library: Path, tmp_path: Path, capfd) -> None:
    """One client keeps the resident waiting (it connected and says nothing): the next `glimpse search`
    does not queue behind it for up to a minute, it searches in its own process."""
    import socket
    import time

    assert shell_search(library, tmp_path, "a red star", linger="120").returncode == 0
    path = resident.socket_path(library)
    assert wait_until(lambda: path.exists() and resident._alive(path), timeout=120)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as silent:
        silent.connect(str(path))
        assert silent.recv(1) == resident.READY  # taken up: the resident now waits for this client
        t0 = time.monotonic()
        assert ask(library, capfd, "a red star")[0] is None  # not answered by the busy resident...
        assert time.monotonic() - t0 < 10  # ...and not after a long wait (READY_TIMEOUT, 1 s)
    found = shell_search(library, tmp_path, "a red star", "-n", "1", linger="120")
    assert found.returncode == 0 and found.stdout.strip()  # and the resident answers again after


def test_the_resident_answers_in_the_clients_time_zone(tmp_path: Path, capfd, monkeypatch) -> None:
    """Photos from 23:30 UTC on 31 January: January in London, February in Tokyo. A resident started in
    one zone groups them by month in the zone of the `glimpse search` that asks, as a fresh process would."""
    import datetime as dt
    import time

    items = world.write_corpus(tmp_path / "photos", world.distinct_scenes(random.Random(5), 4), seed=5)
    edge = dt.datetime(2024, 1, 31, 23, 30, tzinfo=dt.UTC).timestamp()
    for item in items:
        os.utime(item.path, (edge, edge))
    lib = tmp_path / "lib"
    assert main(["--library", str(lib), "--model", MODEL_SPEC, "index", str(tmp_path / "photos"), "-q",
                 "--no-text"]) == 0
    words = ("a red star", "--sort", "newest", "--min-score", "0")
    try:
        monkeypatch.setenv("TZ", "Europe/London")
        first = shell_search(lib, tmp_path, *words, linger="60")
        assert first.returncode == 0 and "January 2024" in first.stdout.decode(), first.stderr
        path = resident.socket_path(lib)
        assert wait_until(lambda: path is not None and path.exists() and resident._alive(path), timeout=120)
        monkeypatch.setenv("TZ", "Asia/Tokyo")
        time.tzset()
        capfd.readouterr()
        rc, out, _ = ask(lib, capfd, *words)
        fresh = shell_search(lib, tmp_path, *words, linger="0")
        assert rc == 0 and "February 2024" in out and "January 2024" not in out
        assert out == fresh.stdout.decode()
    finally:
        resident.stop(lib)
        monkeypatch.undo()
        time.tzset()
