"""The app and a file that crashes its decoder with a real native crash: the app decodes in worker
processes (``Library.open(isolated=True)``, as ``desktop/app.py`` opens it), so the crash ends a
worker — thumbnails, the preview, "More like this" and the background indexing go on, and the file
is named with its reason. The crash is real (``tests/indexer/test_crash.py``'s hook, put on the
workers' path: PIL's opening of the marked JPEG reads address 0)."""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

import pytest

from indexer import Library
from tests import world
from tests.conftest import MODEL_SPEC
from tests.crashing import HOOK, MARK
from tests.desktop.test_window import type_query
from tests.indexer.test_crash import REPO

pytestmark = [pytest.mark.skipif(os.name != "posix", reason="signals"),
              pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def test_the_app_survives_a_file_that_crashes_its_decoder(qtbot, tmp_path: Path, monkeypatch) -> None:
    from desktop.window import MainWindow

    items = world.write_corpus(tmp_path / "photos", world.distinct_scenes(random.Random(71), 12), seed=71)
    bad = items[4].path
    bad.write_bytes(bad.read_bytes() + MARK)
    with Library.open(tmp_path / "lib", model=MODEL_SPEC, read_text=False) as made:
        made.index([tmp_path / "photos"])  # indexed while nothing crashed it: it is among the results
    (tmp_path / "hook").mkdir()
    (tmp_path / "hook" / "sitecustomize.py").write_text(HOOK)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path / "hook"), str(REPO)]))
    lib = Library.open(tmp_path / "lib", isolated=True)
    win = MainWindow(lib)
    qtbot.addWidget(win)
    win.show()
    try:
        qtbot.waitUntil(lambda: win.model_ready and win.watcher is not None and win.watcher.runs >= 1, timeout=120000)
        hits = type_query(qtbot, win, world.caption(items[4].scene))
        row = [h.path for h in hits].index(str(bad))
        # every other tile gets its thumbnail; the crashing one keeps its placeholder
        tiles = [win.results.model.item(r) for r in range(win.results.model.rowCount())]
        placeholder = win.results.placeholder.cacheKey()
        qtbot.waitUntil(lambda: sum(t.icon().cacheKey() != placeholder for t in tiles) == len(hits) - 1, timeout=30000)
        assert tiles[row].icon().cacheKey() == placeholder
        win.results.select_row(row)
        qtbot.waitUntil(lambda: win.preview.hit is not None and win.preview.hit.path == str(bad)
                        and win.preview.picture.text() == "(no preview)", timeout=30000)
        win.preview.similar_btn.click()  # "More like this": an example that crashes its decoder
        qtbot.waitUntil(lambda: "crashed the image decoder" in win.status.text.text(), timeout=30000)
        assert win.bar.chips.count() == 1  # the chip is there, with the file icon
        # a new copy dropped into a watched folder: indexed by the app's watcher, set aside with its reason
        reports: list = []
        win.indexed.connect(reports.append)
        shutil.copy(bad, tmp_path / "photos" / "copy.jpg")
        win.handle_drop([tmp_path / "photos"])
        qtbot.waitUntil(lambda: any(r.errors for r in reports), timeout=60000)
        errors = {r.path: r.error for r in lib.errors()}
        assert "crashed the image decoder (SIGSEGV" in errors[str(tmp_path / "photos" / "copy.jpg")]
        assert win.isVisible()
    finally:
        win.close()
        lib.close()
