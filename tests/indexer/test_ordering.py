"""Results by date (taken, else the file's date), grouped by month; paths for other tools."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from indexer import Library, Query
from indexer.search.ordering import by_month, order
from tests import world
from tests.conftest import MODEL_SPEC

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dated(tmp_path_factory: pytest.TempPathFactory):
    """Photos whose file dates span three months (the generated JPEGs carry no EXIF date)."""
    folder = tmp_path_factory.mktemp("dated")
    items = world.write_corpus(folder / "photos", world.distinct_scenes(random.Random(17), 18), seed=17)
    odd = folder / "photos" / os.fsdecode(b"caf\xe9.jpg")  # a name that is not UTF-8
    world.render(items[0].scene, 192, seed=99).save(odd, format="JPEG")
    for i, p in enumerate([*(it.path for it in items), odd]):
        when = dt.datetime(2024, 3 + i % 3, 1 + i).timestamp()
        os.utime(p, (when, when))
    lib = Library.open(tmp_path_factory.mktemp("lib"), model=MODEL_SPEC, read_text=False)
    lib.index([folder / "photos"])
    yield lib, items, odd
    lib.close()


def test_date_order_is_the_same_results_reordered(dated) -> None:
    lib, items, _ = dated
    q = Query(f"a {items[2].scene.colour} object", min_score=0.0, limit=12)
    best = lib.search(q)
    for sort, newest_first in (("newest", True), ("oldest", False)):
        hits = lib.search(Query(q.text, min_score=0.0, limit=12, sort=sort))
        assert sorted(h.path for h in hits) == sorted(h.path for h in best)  # the same results
        when = [h.when for h in hits]
        assert when == sorted(when, reverse=newest_first)
        assert all(h.date_is_file_date for h in hits)  # no EXIF date: the file's date, marked so


def test_months_group_consecutive_results_with_counts() -> None:
    from indexer.search.rank import Hit

    def hit(path: str, month: int | None) -> Hit:
        return Hit(path=path, score=0.5, kind="photo", file_date=dt.datetime(2024, month, 5).timestamp() if month else None)

    hits = order([hit("a", 3), hit("b", 5), hit("c", None), hit("d", 3), hit("e", 5)], "newest")
    assert [(label, [h.path for h in g]) for label, g in by_month(hits)] == [
        ("May 2024 · 2", ["b", "e"]), ("March 2024 · 2", ["a", "d"]), ("No date · 1", ["c"])]


def test_cli_sort_months_and_paths_for_other_tools(dated) -> None:
    lib, items, odd = dated
    cli = [sys.executable, "-m", "indexer", "--library", str(lib.folder), "search", "a star", "--min-score", "0",
           "-n", "30"]
    text = subprocess.run([*cli, "--sort", "oldest"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    headers = [line for line in text.splitlines() if line.startswith("# ")]
    assert headers[0].startswith("# March 2024 ·") and len(headers) == 3
    js = json.loads(subprocess.run([*cli, "--sort", "newest", "--json"], cwd=REPO, capture_output=True,
                                   check=True).stdout)["results"]
    assert [r["date"] for r in js] == sorted((r["date"] for r in js), reverse=True) and js[0]["date_is_file_date"]
    raw = subprocess.run([*cli, "-0"], cwd=REPO, capture_output=True, check=True).stdout
    paths = raw.split(b"\0")[:-1]
    assert raw.endswith(b"\0") and os.fsencode(str(odd)) in paths  # exact bytes, usable by xargs -0
    assert len(paths) == len(set(paths)) == 19
    lines = subprocess.run([*cli, "--paths"], cwd=REPO, capture_output=True, check=True).stdout.splitlines()
    assert lines == paths
