"""Changing the model from the window: Settings → Model starts a switch, the status bar shows
its progress, search keeps answering, and the Library dialog shows and prunes the old model."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from tests import world
from tests.desktop.test_window import type_query, window_on
from tests.indexer.test_switch import A, B

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_settings_model_switches_in_the_background_and_search_keeps_working(qtbot, tmp_path: Path) -> None:
    with window_on(qtbot, tmp_path, 24, 8, model=A) as (win, lib, items):
        first = type_query(qtbot, win, world.caption(items[4].scene))
        assert first[0].path == str(items[4].path)
        dlg = win.show_settings()  # the real dialog: the model typed in its field, then OK
        dlg.model.lineEdit().clear()
        qtbot.keyClicks(dlg.model.lineEdit(), B)
        seen: list[str] = []
        win.status.progress.valueChanged.connect(lambda _: seen.append(win.status.text.text()))
        # the words on screen are searched again once the new model answers
        with qtbot.waitSignal(win.searched, timeout=60000,
                              check_params_cb=lambda _hits: lib.switch.state().active_spec == B):
            qtbot.mouseClick(dlg.ok_button, Qt.MouseButton.LeftButton)
        assert win.background.summary.startswith("Now using")  # what the status bar says when results are not shown
        assert any(f"Re-embedding for {B}" in s for s in seen), seen  # progress, named, in the status bar
        after = type_query(qtbot, win, world.caption(items[6].scene))
        assert after[0].path == str(items[6].path)  # answered by the new model
        dlg = win.show_library_dialog()
        qtbot.addWidget(dlg)
        qtbot.waitUntil(lambda: dlg.loaded, timeout=20000)  # counts arrive from a worker
        assert "tiny-clip-gap" in dlg.model_line.text() and dlg.prune.isVisibleTo(dlg)
        dlg.prune.click()
        qtbot.waitUntil(lambda: not lib.switch.state().kept, timeout=20000)
        qtbot.waitUntil(lambda: not dlg.prune.isVisibleTo(dlg), timeout=20000)
