"""One ETA for all the work a run has left (#37, library/schedule.py): a real library, real
indexing and real reading of text with the tiny model and RapidOCR."""

from __future__ import annotations

import json
import random
from pathlib import Path

from indexer import Library
from indexer.base.progress import Phase, Progress
from indexer.library.schedule import RATES_FILE, Schedule
from tests import world
from tests.conftest import MODEL_SPEC


def _run(lib: Library, cache: Path, folder: Path) -> list[Progress]:
    """``glimpse index``'s sequence: indexing, then each pass after it, all through one schedule."""
    seen: list[Progress] = []
    plan = Schedule(lib.passes(), cache, seen.append)
    lib.index([folder], on_progress=plan)
    for after in plan.after:
        after.run(plan)
    return seen


def test_indexing_shows_when_everything_will_be_searchable(tmp_path: Path) -> None:
    cache = tmp_path / "cache"  # this computer's: no rates known yet, no OCR engine measured
    world.write_corpus(tmp_path / "first", world.distinct_scenes(random.Random(3), 12), seed=3)
    lib = Library.open(tmp_path / "lib", model=MODEL_SPEC)
    try:
        first = _run(lib, cache, tmp_path / "first")
        # a first run cannot know how fast text is read until it reads some: no guess meanwhile
        assert all(p.eta_all is None for p in first if p.phase is Phase.INDEXING)
        reading = [p for p in first if p.phase is Phase.TEXT and p.eta is not None]
        assert reading and all(p.eta_all == p.eta for p in reading)  # the last pass: its own ETA is all of it
        rates = json.loads((cache / RATES_FILE).read_text())
        assert rates[Phase.INDEXING] > 0 and rates[Phase.TEXT] > 0

        world.write_corpus(tmp_path / "more", world.distinct_scenes(random.Random(4), 24), seed=4)
        second = [p for p in _run(lib, cache, tmp_path / "more") if p.phase is Phase.INDEXING and p.eta is not None]
        assert second
        for p in second:  # the 24 new pictures' reading is counted in, at the rate the last run measured
            assert p.eta_all is not None and p.eta_all > p.eta
            assert abs(p.eta_all - p.eta - p.total / rates[Phase.TEXT]) < 1e-6
            assert p.eta_text.endswith("for everything")
    finally:
        lib.close()


def test_the_one_eta_says_what_it_covers() -> None:
    assert Progress(Phase.INDEXING, 5, 10, rate=1.0, eta=5.0).eta_text == "ETA 0:05"
    assert Progress(Phase.INDEXING, 5, 10, rate=1.0, eta=5.0, eta_all=65.0).eta_text == "ETA 1:05 for everything"
    assert Progress(Phase.TEXT, 0, 10).eta_text == "ETA ?"
