"""Shared fixtures: the committed tiny model, generated corpora, fresh libraries.

Media is generated from ``tests/world.py`` into temporary folders; nothing binary
besides the tiny model lives in git.
"""

from __future__ import annotations

import os
import pickle
import random
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from tests import world

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Window geometry and preferences (QSettings) of test windows never reach the user's config.
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="glimpse-test-config-")
# A server library's local part (thumbnails, logs) lives in the data directory: never the user's.
os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp(prefix="glimpse-test-data-")
# One model cache (and so one int8 export) shared by every test library, never the user's.
os.environ.setdefault("GLIMPSE_MODELS", os.path.join(tempfile.gettempdir(), f"glimpse-test-models-{os.getuid()}"))
# `glimpse search` leaves no resident search process behind unless a test asks for one.
os.environ["GLIMPSE_RESIDENT"] = "0"
TINY_MODEL = Path(__file__).parent / "assets" / "tiny-clip"
MODEL_SPEC = f"local-dir:{TINY_MODEL}"
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
T = TypeVar("T")


@pytest.fixture(scope="session")
def model_spec() -> str:
    return MODEL_SPEC


@pytest.fixture(scope="session")
def embedder():
    """The committed model, loaded through the same code path as any user model."""
    from indexer.model.openclip import Embedder

    return Embedder(MODEL_SPEC)


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[world.CorpusItem]:
    """40 distinct scenes as JPEGs in a temporary folder, with their ground truth."""
    folder = tmp_path_factory.mktemp("photos")
    return world.write_corpus(folder, world.distinct_scenes(random.Random(11), 40), seed=11)


@pytest.fixture
def library(tmp_path: Path):
    """An empty library using the tiny model."""
    from indexer import Library

    lib = Library.open(tmp_path / "library", model=MODEL_SPEC)
    yield lib
    lib.close()


@pytest.fixture(scope="session")
def indexed(tmp_path_factory: pytest.TempPathFactory, corpus: list[world.CorpusItem]):
    """A library holding ``corpus``, shared by read-only tests."""
    from indexer import Library

    lib = Library.open(tmp_path_factory.mktemp("lib"), model=MODEL_SPEC)
    lib.index([corpus[0].path.parent])
    yield lib
    lib.close()


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory):
    """A real PostgreSQL 16 with pgvector (the ``pgserver`` wheel), one per test process."""
    pgserver = pytest.importorskip("pgserver")
    server = pgserver.get_server(tmp_path_factory.mktemp("pg"), cleanup_mode="stop")
    yield server
    server.cleanup()


@pytest.fixture
def pg_url(pg_server) -> str:
    """The address of a new, empty database on ``pg_server``: one library."""
    import uuid

    name = f"lib_{uuid.uuid4().hex[:12]}"
    pg_server.psql(f"CREATE DATABASE {name};")
    return pg_server.get_uri().replace("/postgres?", f"/{name}?")


@pytest.fixture(params=["folder", "server"])
def where(request, tmp_path: Path) -> Path | str:
    """Where a test's library lives: a folder, and a database on a real PostgreSQL (#40), for the tests
    of behaviour that does not depend on the kind of library."""
    if request.param == "folder":
        return tmp_path / "lib"
    return request.getfixturevalue("pg_url")


def once_per_run(factory: pytest.TempPathFactory, key: str, compute: Callable[[Path], T]) -> T:
    """``compute(folder)`` run by one test process of this run, its result read by the others.

    For the expensive fixtures that build a corpus and measure it or index it (retrieval figures,
    a library whose text was read): with the suite on both cores (pytest-xdist) each worker built
    them again. ``folder`` outlives the fixture and is shared by every worker: what is built there
    is only read afterwards. Without xdist it is simply computed here.
    """
    from filelock import FileLock

    root = factory.getbasetemp()
    root = root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root
    folder = root / "once" / key
    done = folder / "result.pickle"
    folder.parent.mkdir(exist_ok=True)
    with FileLock(str(folder) + ".lock"):
        if done.exists():
            return pickle.loads(done.read_bytes())
        folder.mkdir(exist_ok=True)
        value = compute(folder)
        done.write_bytes(pickle.dumps(value))
        return value
