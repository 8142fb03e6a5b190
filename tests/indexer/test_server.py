"""A library on PostgreSQL with pgvector (#40), against a real server (the ``pgserver`` wheel).

What a user relies on: the same answers as a folder library with the same model; two computers
(two processes with different computer names) indexing their own folders into one library and
finding each other's photos; a writer killed with SIGKILL mid-batch losing nothing committed and
leaving the lock free; one line saying what to do when the server cannot be used, written nothing.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests import retrieval, textworld, world
from tests.conftest import MODEL_SPEC
from tests.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
SEED = 7103  # a held-out seed (test_retrieval.py)


def glimpse(url: str, *args: str, computer: str = "laptop", **kw) -> subprocess.CompletedProcess:
    """`glimpse` run as ``computer``: its name, and a data folder of its own (its part of the library)."""
    env = {**os.environ, "GLIMPSE_COMPUTER": computer, "XDG_DATA_HOME": f"{os.environ['XDG_DATA_HOME']}/{computer}"}
    return subprocess.run([sys.executable, "-m", "indexer", "--library", url, *args], cwd=REPO, env=env,
                          capture_output=True, text=True, **kw)


def psql(url: str, sql: str, *params: object) -> list[tuple]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(sql, params)
        return cur.fetchall() if cur.description else []


def drop_sessions(url: str) -> None:
    """The server ends every other session on the library's database (a restart, a lost network)."""
    psql(url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
              "WHERE datname = current_database() AND pid <> pg_backend_pid()")


def test_a_server_library_answers_as_a_folder_library(pg_url: str, tmp_path: Path) -> None:
    """The retrieval tests' library and queries (photos, videos, short clips, composed queries,
    nonsense), built twice from the same seed: every metric is the same on both kinds."""
    folder = retrieval.build(tmp_path / "a", MODEL_SPEC, SEED)
    server = retrieval.build(tmp_path / "b", MODEL_SPEC, SEED, library=pg_url)
    try:
        assert server.lib.store.vector_count() == folder.lib.store.vector_count() > 100
        on_folder, on_server = retrieval.evaluate(folder, SEED + 1), retrieval.evaluate(server, SEED + 1)
    finally:
        folder.lib.close()
        server.lib.close()
    for metric, v in on_folder.items():
        for way, x in v.items():
            assert on_server[metric][way] == pytest.approx(x, abs=0.02), (metric, way)


def test_words_read_in_pictures_are_found_alike(pg_url: str, tmp_path: Path) -> None:
    """Signs read by the real OCR models: quoted phrases, prefixes, accents and loose words find the
    same pictures in both kinds of library."""
    from indexer import Library, Query

    photos = [p.path for p in world.write_corpus(tmp_path / "bg", world.distinct_scenes(random.Random(3), 4), 3)]
    signs = textworld.write_text_corpus(tmp_path / "signs", 5101, 6, photos, max_angle=0, perspective=0)
    answers = []
    for where in (tmp_path / "lib", pg_url):
        with Library.open(where, model=MODEL_SPEC) as lib:
            lib.index([tmp_path / "signs"])
            lib.read_text()
            assert lib.store.text_read_count().read == 6
            queries = [f'"{s.lines[0].text}"' for s in signs] + [f'"{s.lines[0].text[:4]}*"' for s in signs]
            queries += [s.lines[0].text.split()[0] for s in signs] + ['"zürich"']
            answers.append([[Path(h.path).name for h in lib.search(Query(q, text_only=True))] for q in queries])
    assert answers[0] == answers[1]
    assert sum(1 for a in answers[1][:6] if a) >= 5  # the phrases are found (OCR reads most signs whole)


def test_two_computers_index_their_own_folders_and_find_each_others(pg_url: str, tmp_path: Path) -> None:
    items = world.write_corpus(tmp_path / "all", world.distinct_scenes(random.Random(5), 12), 5)
    for i, it in enumerate(items):
        (tmp_path / ("a" if i % 2 else "b")).mkdir(exist_ok=True)
        it.path.rename(tmp_path / ("a" if i % 2 else "b") / it.path.name)
    runs = [subprocess.Popen([sys.executable, "-m", "indexer", "--library", pg_url, "--model", MODEL_SPEC, "index",
                              "--wait", "--no-text", str(tmp_path / name)], cwd=REPO, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env={**os.environ, "GLIMPSE_COMPUTER": name})
            for name in ("a", "b")]
    for run in runs:
        _, err = run.communicate(timeout=240)
        assert run.returncode == 0, err
    names = {"a": {p.name for p in (tmp_path / "a").iterdir()}, "b": {p.name for p in (tmp_path / "b").iterdir()}}
    for me, other in (("a", "b"), ("b", "a")):
        roots = glimpse(pg_url, "roots", "list", computer=me, check=True).stdout
        assert str(tmp_path / me) in roots and str(tmp_path / other) not in roots  # each computer its own folders
        found = glimpse(pg_url, "search", "a photo", "--min-score", "0", "--limit", "40", computer=me,
                        check=True).stdout
        shown = {Path(line.split()[-1]).name for line in found.splitlines() if line.strip()}
        assert names[other] <= shown and names[me] <= shown  # everything, whoever indexed it
    assert psql(pg_url, "SELECT host, COUNT(*) FROM files GROUP BY host ORDER BY host") == [("a", 6), ("b", 6)]


def test_a_writer_killed_mid_batch_loses_only_that_batch(pg_url: str, tmp_path: Path) -> None:
    """SIGKILL to `glimpse index` while it writes: what was committed stays, the advisory lock goes
    with the dead connection, and the next run finishes the folder with one vector per photo."""
    world.write_corpus(tmp_path / "p", world.distinct_scenes(random.Random(8), 40), 8)
    env = {**os.environ, "GLIMPSE_COMPUTER": "laptop"}
    run = subprocess.Popen([sys.executable, "-m", "indexer", "--library", pg_url, "--model", MODEL_SPEC, "index",
                            "--no-text", str(tmp_path / "p")], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, start_new_session=True)

    def committed() -> set[int]:
        try:
            return {r[0] for r in psql(pg_url, "SELECT f.id FROM files f JOIN vectors v ON v.file_id = f.id")}
        except Exception:  # noqa: BLE001 - the schema is not made yet
            return set()

    assert wait_until(lambda: committed() or run.poll() is not None, timeout=120)
    before = committed()
    os.killpg(run.pid, signal.SIGKILL)  # the supervisor and the run it started
    run.wait()
    assert before and before <= committed()  # nothing committed is lost
    done = glimpse(pg_url, "--model", MODEL_SPEC, "index", "--no-text", timeout=240)  # the lock was let go
    assert done.returncode == 0, done.stderr
    per_file = psql(pg_url, "SELECT f.id, COUNT(v.id) FROM files f LEFT JOIN vectors v ON v.file_id = f.id "
                            "GROUP BY f.id")
    assert len(per_file) == 40 and all(n == 1 for _, n in per_file)


def test_a_connection_the_server_drops_mid_pass_ends_in_one_line_and_the_next_run_goes_on(
        pg_url: str, tmp_path: Path) -> None:
    """The server ends `glimpse index`'s sessions while it reads text (what a restart or a lost network
    does; here the server itself terminates them, a real fault on a real connection): the command says
    so in one line, exit 2, no traceback; what it saved stays, and the next run reads only the rest."""
    textworld.write_text_corpus(tmp_path / "pics", 4747, 16, [], max_angle=0, perspective=0)
    env = {**os.environ, "GLIMPSE_COMPUTER": "laptop"}
    run = subprocess.Popen([sys.executable, "-m", "indexer", "--library", pg_url, "--model", MODEL_SPEC, "index",
                            str(tmp_path / "pics")], cwd=REPO, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)

    def read() -> int:
        try:
            return psql(pg_url, "SELECT COUNT(*) FROM files WHERE text_read IS NOT NULL")[0][0]
        except Exception:  # noqa: BLE001 - the schema is not made yet
            return 0

    assert wait_until(lambda: read() >= 2 or run.poll() is not None, timeout=180)
    assert run.poll() is None, "the pass ended before its connection could be dropped"
    drop_sessions(pg_url)
    _, err = run.communicate(timeout=120)
    assert run.returncode == 2, err[-2000:]
    assert "Traceback" not in err and "lost the connection to the PostgreSQL server" in err.splitlines()[-1], err
    done = read()
    assert 2 <= done < 16
    again = glimpse(pg_url, "index", timeout=300)
    assert again.returncode == 0, again.stderr
    assert f"read {16 - done} pictures" in again.stdout, again.stdout  # the rest, none twice
    assert read() == 16


def test_an_open_library_carries_on_after_the_server_dropped_its_connection(pg_url: str, tmp_path: Path) -> None:
    """As an app left open through a server restart: the one call that finds the connection gone
    fails in plain words; the next ones connect anew, search and index again."""
    from indexer import Library, Query
    from indexer.base.errors import StoreError

    scenes = world.distinct_scenes(random.Random(12), 6)
    items = world.write_corpus(tmp_path / "p", scenes[:5], 12)
    with Library.open(pg_url, model=MODEL_SPEC, read_text=False) as lib:
        lib.index([tmp_path / "p"])
        drop_sessions(pg_url)
        with pytest.raises(StoreError, match="lost the connection to the PostgreSQL server"):
            lib.search(Query(world.caption(items[0].scene), limit=1, min_score=0))
        assert lib.search(Query(world.caption(items[0].scene), limit=1, min_score=0))[0].path == str(items[0].path)
        world.render(scenes[5], 192, seed=3).save(tmp_path / "p" / "new.png")
        assert lib.index().added == 1 and lib.status().photos == 6


def test_one_writer_at_a_time_across_processes(pg_url: str) -> None:
    """Another process holding the write lock: a write here is refused with who holds it, and goes
    through as soon as that process dies (SIGKILL: no goodbye)."""
    from indexer import Library, LibraryBusy

    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys; from indexer import Library\n"
        f"lib = Library.open({pg_url!r})\n"
        "lib.writing.acquire(); print('held', flush=True); sys.stdin.read()")],
        cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "GLIMPSE_COMPUTER": "desk"})
    try:
        assert holder.stdout.readline().strip() == "held"
        with Library.open(pg_url) as lib:
            with pytest.raises(LibraryBusy, match=f"pid {holder.pid} on desk"):
                lib.writing.acquire()
            holder.kill()
            holder.wait()

            def free() -> bool:
                try:
                    lib.writing.acquire()
                except LibraryBusy:
                    return False
                lib.writing.release()
                return True

            assert wait_until(free, timeout=20)
    finally:
        holder.kill()


def test_a_finished_write_frees_the_library_at_once(pg_url: str) -> None:
    """The next write, here or on another computer, never meets the last one's lock: a write that
    ended has let go of it on the server before it returns (CI once found a switch's cancel
    refused by its own process's finished write)."""
    import psycopg

    from indexer import Library
    from indexer.store.server_lock import LOCK_KEY

    with Library.open(pg_url) as lib, psycopg.connect(pg_url, autocommit=True) as other:
        for _ in range(40):
            with lib.writing():
                pass
            taken = other.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY]).fetchone()[0]
            assert taken
            other.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])


def test_errors_say_what_to_do_and_write_nothing(pg_server, pg_url: str) -> None:
    unreachable = glimpse("postgresql://glimpse@127.0.0.1:9/photos", "status")
    assert unreachable.returncode == 2
    assert unreachable.stderr.count("\n") == 1 and "cannot reach the PostgreSQL server at" in unreachable.stderr
    assert "glimpse@127.0.0.1:9/photos" in unreachable.stderr

    missing = glimpse(pg_url.replace("/lib_", "/nolib_"), "status")
    assert missing.returncode == 2 and "there is no database" in missing.stderr and "createdb" in missing.stderr

    # a user without the right to enable pgvector, on a database that does not have it yet
    pg_server.psql("CREATE ROLE plain LOGIN; GRANT ALL ON DATABASE " + pg_url.split("/")[-1].split("?")[0]
                   + " TO plain; ALTER DATABASE " + pg_url.split("/")[-1].split("?")[0] + " OWNER TO plain;")
    refused = glimpse(pg_url.replace("postgres:@", "plain:@"), "status")
    assert refused.returncode == 2 and "may not enable pgvector" in refused.stderr
    assert psql(pg_url, "SELECT to_regclass('meta')") == [(None,)]  # nothing written

    assert glimpse(pg_url, "status").returncode == 0
    psql(pg_url, "UPDATE meta SET value = '99' WHERE key = 'schema'")
    tables = psql(pg_url, "SELECT COUNT(*) FROM meta")
    newer = glimpse(pg_url, "--model", MODEL_SPEC, "index", "/nonexistent")
    assert newer.returncode == 2 and "made by a newer Glimpse" in newer.stderr and newer.stderr.count("\n") == 1
    assert psql(pg_url, "SELECT COUNT(*) FROM meta") == tables and psql(pg_url, "SELECT COUNT(*) FROM roots") == [(0,)]


def test_wrong_password_is_named(pg_server, pg_url: str) -> None:
    """A role with a password, checked (scram) on the server's socket: a wrong one is refused by name."""
    hba = Path(pg_server.psql("SHOW hba_file;").splitlines()[2].strip())
    pg_server.psql("SET password_encryption = 'scram-sha-256'; CREATE ROLE anna LOGIN PASSWORD 'right';")
    hba.write_text("local all anna scram-sha-256\n" + hba.read_text())
    pg_server.psql("SELECT pg_reload_conf();")
    try:
        wrong = glimpse(pg_url.replace("postgres:@", "anna:wrong@"), "status")
        assert wrong.returncode == 2 and "refused the user name or password" in wrong.stderr
        assert "wrong" not in wrong.stderr  # the password itself is never printed
    finally:
        hba.write_text("".join(hba.read_text().splitlines(keepends=True)[1:]))
        pg_server.psql("SELECT pg_reload_conf();")


def test_a_model_switch_is_seen_by_every_computer(pg_url: str, tmp_path: Path) -> None:
    """Laptop switches the model: it re-embeds its own photos and the switch waits for the desk's; the
    desk's next run re-embeds those, and the library flips to the new model for both."""
    weak = f"local-dir:{REPO / 'tests' / 'assets' / 'tiny-clip-weak'}"
    items = world.write_corpus(tmp_path / "all", world.distinct_scenes(random.Random(9), 6), 9)
    for i, it in enumerate(items):
        (tmp_path / ("laptop", "desk")[i % 2]).mkdir(exist_ok=True)
        it.path.rename(tmp_path / ("laptop", "desk")[i % 2] / it.path.name)
    for me in ("laptop", "desk"):
        assert glimpse(pg_url, "--model", MODEL_SPEC, "index", "--no-text", str(tmp_path / me),
                       computer=me).returncode == 0
    switched = glimpse(pg_url, "model", "use", weak, computer="laptop")  # its own three; not finished:
    assert switched.returncode == 3, switched.stderr
    assert "3 files still to re-embed" in switched.stderr  # the desk's three photos
    assert psql(pg_url, "SELECT value FROM meta WHERE key = 'model_spec'") == [(MODEL_SPEC,)]
    desk = glimpse(pg_url, "index", "--no-text", computer="desk")  # its settings still name the old model
    assert desk.returncode == 0, desk.stderr
    assert psql(pg_url, "SELECT value FROM meta WHERE key = 'model_spec'") == [(weak,)]
    for me in ("laptop", "desk"):
        status = glimpse(pg_url, "status", computer=me, check=True).stdout
        assert f"model:   {weak}" in status


def test_settings_are_the_librarys_and_each_computer_keeps_its_own_threads(pg_url: str) -> None:
    assert glimpse(pg_url, "settings", "regions", "on", computer="laptop").returncode == 0
    assert glimpse(pg_url, "settings", "threads", "1", computer="laptop").returncode == 0

    def shown(computer: str) -> dict[str, str]:
        out = glimpse(pg_url, "settings", computer=computer, check=True).stdout
        return dict(line.split(" = ", 1) for line in out.splitlines() if " = " in line)

    assert shown("desk")["regions"] == "true" and shown("desk")["threads"] == "0"  # the library's; the desk's own
    assert shown("laptop")["regions"] == "true" and shown("laptop")["threads"] == "1"
