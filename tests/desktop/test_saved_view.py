"""Coming back later in the window: the Recent menu restores a search; a saved search shows its
new matches beside the results and counts them as seen once opened."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import world
from tests.desktop.test_window import type_query, window_on

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_recent_and_saved_searches(qtbot, tmp_path: Path) -> None:
    with window_on(qtbot, tmp_path, 16, 71) as (win, lib, items):
        target = items[3]
        words = f"a {target.scene.colour} {target.scene.shape}"
        type_query(qtbot, win, "a blue circle")
        first = type_query(qtbot, win, words)
        qtbot.waitUntil(lambda: len(win.bar.recent_menu.actions()) >= 2, timeout=10000)
        assert win.bar.recent_menu.actions()[0].text() == words  # newest first
        with qtbot.waitSignal(win.searched, timeout=30000):
            win.bar.recent_menu.actions()[1].trigger()  # back to the earlier search
        assert win.bar.search_field.text() == "a blue circle"

        type_query(qtbot, win, words)
        win.save_search("mine")
        qtbot.waitUntil(lambda: win.saved.list.count() == 1 and win.saved.isVisible(), timeout=20000)
        assert win.saved.list.item(0).text() == "mine"
        world.render(target.scene, 192, seed=4242).save(tmp_path / "pics" / "new.jpg")  # a new match arrives
        win.start_indexing()
        qtbot.waitUntil(lambda: "new" in win.saved.list.item(0).text(), timeout=60000)
        type_query(qtbot, win, "something else")
        with qtbot.waitSignal(win.searched, timeout=30000) as sig:
            win.saved.list.itemClicked.emit(win.saved.list.item(0))
        assert win.bar.search_field.text() == words and str(tmp_path / "pics" / "new.jpg") in [h.path for h in sig.args[0]]
        assert "1 new since you last opened it" in win.status.text.text()
        qtbot.waitUntil(lambda: win.saved.list.item(0).text() == "mine", timeout=20000)  # seen now
        assert first


def test_a_saved_search_opened_as_the_library_changes_shows_its_own_words(qtbot, tmp_path: Path) -> None:
    """The click wins: a search the window starts meanwhile (a pass that added files) runs the saved
    words, not the ones typed before; a pass that found nothing new does not search again."""
    from indexer import IndexReport

    with window_on(qtbot, tmp_path, 12, 73) as (win, lib, items):
        words = f"a {items[2].scene.colour} {items[2].scene.shape}"
        type_query(qtbot, win, words)
        win.save_search("mine")
        qtbot.waitUntil(lambda: win.saved.list.count() == 1, timeout=20000)
        type_query(qtbot, win, "something else")
        with qtbot.assertNotEmitted(win.searched, wait=1000):
            win.background.bridge.report.emit(IndexReport(unchanged=12))  # the watcher's pass: nothing new
        with qtbot.waitSignal(win.searched, timeout=30000) as sig:
            win.saved.list.itemClicked.emit(win.saved.list.item(0))
            win.background.bridge.report.emit(IndexReport(added=1))  # a pass ends as the click is answered
        assert win.bar.search_field.text() == words
        assert sig.args[0] == lib.search(lib.searches.get("mine").query)
