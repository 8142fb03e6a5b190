"""Small things in large photos, in the window: regions turned on in Settings are made in the
background, and a result found by a region is framed on the preview with one line saying why."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from indexer import Library
from tests import smallworld
from tests.conftest import MODEL_SPEC
from tests.desktop.test_window import type_query

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def region_window(qtbot, tmp_path: Path):
    from desktop.window import MainWindow

    targets = smallworld.write(tmp_path / "photos", 7401, targets=6, distractors=8)
    lib = Library.open(tmp_path / "lib", model=MODEL_SPEC, read_text=False)
    lib.index([tmp_path / "photos"])
    win = MainWindow(lib)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.watcher is not None and win.watcher.runs >= 1, timeout=120000)
    yield win, lib, targets
    win.close()
    lib.close()


def test_regions_switched_on_in_settings_frame_what_matched(qtbot, region_window) -> None:
    from desktop.preview import REGION_COLOUR

    win, lib, targets = region_window
    dlg = win.show_settings()  # the real dialog, as the person sees it
    assert dlg.isVisible() and not dlg.regions.isChecked()
    qtbot.mouseClick(dlg.regions, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(dlg.ok_button, Qt.MouseButton.LeftButton)
    assert not dlg.isVisible()
    qtbot.waitUntil(lambda: lib.store.region_count()[1] == len(lib.store.files(status="ok")), timeout=120000)
    qtbot.waitUntil(lambda: "looked closer at" in win.status.text.text(), timeout=60000)
    found = None
    for t in targets:
        hits = type_query(qtbot, win, t.text)
        row = next((i for i, h in enumerate(hits) if h.path == str(t.path) and h.region is not None), None)
        if row is not None:
            found = (hits, row)
            break
    assert found is not None, "no small object was found by a region"
    hits, row = found
    win.results.select_row(row)
    qtbot.waitUntil(lambda: win.preview.hit is not None and win.preview.hit.path == hits[row].path, timeout=20000)
    qtbot.waitUntil(lambda: win.preview.picture.pixmap() is not None and not win.preview.picture.pixmap().isNull(),
                    timeout=20000)
    assert win.preview.why.text().startswith("matched: region ") and "whole photo" in win.preview.why.text()
    shown = win.preview.picture.pixmap().toImage()
    x0, y0, x1, y1 = hits[row].region
    y = int((y0 + y1) / 2 * shown.height())
    edge = [shown.pixelColor(int(x0 * shown.width()) + dx, y) for dx in range(6)]  # the frame's left side
    assert any(abs(c.red() - REGION_COLOUR.red()) < 40 and abs(c.green() - REGION_COLOUR.green()) < 40
               and c.blue() > 200 for c in edge), [c.name() for c in edge]
