"""Recent and saved searches, kept in the library: a saved search counts its new matches."""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
from pathlib import Path

from indexer import Filters, Library, Query
from tests import world
from tests.conftest import MODEL_SPEC

REPO = Path(__file__).resolve().parents[2]


def test_queries_survive_the_library_round_trip() -> None:
    q = Query("a dog", images=("x.jpg:0.5",), minus=("cat",), limit=30, strength=0.7, filters=Filters("photo", 1.0, camera="pix",
              has_gps=True, extensions=("jpg",), has_text=True), sort="newest")
    assert Query.from_json(q.to_json()) == q


def test_recent_searches_newest_first_once_each_and_bounded(library) -> None:
    for text in ["a", "b", "a", *[f"q{i}" for i in range(30)]]:
        library.searches.remember(Query(text))
    recent = [q.text for q in library.searches.recent(50)]
    assert recent[:3] == ["q29", "q28", "q27"] and len(recent) == 20 and recent.count("a") <= 1


def test_recent_keeps_what_was_typed_not_every_prefix_on_the_way(library) -> None:
    for text in ["a", "a d", "a dog", "a dog on", "a dog o", "a cat"]:  # searched as typed, a letter deleted
        library.searches.remember(Query(text))
    library.searches.remember(Query("a cat", kind="video"))  # another search, not more typing
    assert [(q.text, q.kind) for q in library.searches.recent(10)] == [("a cat", "video"), ("a cat", "all"),
                                                                      ("a dog o", "all")]
    for text in ["a", "a r", "a red star"]:  # the field cleared, a new search that starts the same way
        library.searches.remember(Query(text, kind="video"))
    assert [(q.text, q.kind) for q in library.searches.recent(10)][:2] == [("a red star", "video"), ("a cat", "video")]


def test_a_saved_search_counts_new_matches_and_they_are_seen_once_opened(tmp_path: Path, where) -> None:
    items = world.write_corpus(tmp_path / "photos", world.distinct_scenes(random.Random(61), 20), seed=61)
    target = items[4]
    q = Query(f"a {target.scene.colour} {target.scene.shape}", min_score=0.0, limit=10)
    with Library.open(where, model=MODEL_SPEC, read_text=False) as lib:
        lib.index([tmp_path / "photos"])
        lib.searches.save("mine", q)
        assert [(s.name, n) for s, n in lib.searches.counts()] == [("mine", 0)]
        copy = tmp_path / "photos" / "copy.jpg"  # a new photo matching the search arrives
        world.render(target.scene, 192, seed=777).save(copy)
        lib.index()
        [(saved, new)] = lib.searches.counts()
        assert new >= 1
        hits, fresh = lib.searches.open("mine")
        assert str(copy) in [h.path for h in fresh] and len(fresh) == new
        assert lib.searches.counts()[0][1] == 0  # opened: nothing is new any more
        shutil.move(copy, tmp_path / "photos" / "renamed.jpg")  # a move is not new
        lib.index()
        assert lib.searches.counts()[0][1] == 0
    with Library.open(where) as again:  # kept in the library, not in the app
        assert [s.name for s in again.searches.saved()] == ["mine"] and again.searches.get("mine").query == q


def test_cli_save_list_run_and_delete(tmp_path: Path) -> None:
    world.write_corpus(tmp_path / "photos", world.distinct_scenes(random.Random(62), 8), seed=62)
    cli = [sys.executable, "-m", "indexer", "--library", str(tmp_path / "lib"), "--model", MODEL_SPEC]
    subprocess.run([*cli, "index", str(tmp_path / "photos"), "-q", "--no-text"], cwd=REPO, check=True,
                   capture_output=True)
    subprocess.run([*cli, "search", "a red star", "--min-score", "0", "--save", "stars"], cwd=REPO, check=True,
                   capture_output=True)
    listed = subprocess.run([*cli, "saved"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert listed.startswith("stars: a red star")
    ran = subprocess.run([*cli, "saved", "stars"], cwd=REPO, capture_output=True, text=True, check=True)
    assert "0 new since" in ran.stderr and ran.stdout.strip()
    subprocess.run([*cli, "saved", "stars", "--delete"], cwd=REPO, check=True, capture_output=True)
    gone = subprocess.run([*cli, "saved", "stars"], cwd=REPO, capture_output=True, text=True)
    assert gone.returncode == 2 and "no saved search" in gone.stderr
