"""The short soak (``tests/soak.py``): real processes — a watcher, index runs, searches, a model switch
and back, kill -9 of random ones — on one library while its files change and one crashes its decoder.
At rest, every photo is found by itself once, the crashing one is set aside, `glimpse doctor` finds
nothing and nothing is left behind. The long soak with its figures: ``bench/bench_soak.py``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.soak import ACTIONS, Soak

pytestmark = pytest.mark.skipif(os.name != "posix", reason="signals and kill -9")


def test_a_short_soak_leaves_a_library_where_every_photo_is_found_once(tmp_path: Path) -> None:
    soak = Soak(tmp_path, seed=5, photos=12)
    report = soak.run(steps=len(ACTIONS) + 4)
    soak.settle()
    assert soak.check() == []
    assert report.kills >= 1 and report.switches >= 2 and report.file_changes >= 4 and report.searches >= 3
    assert report.failed_searches == []  # a search always answers, whatever the other processes do
