"""Words in pictures in the window: a quoted search, the words marked on the preview, the
text to copy, the "Text in image" filter and the settings switch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from indexer import Library
from tests import textworld
from tests.conftest import MODEL_SPEC
from tests.desktop.test_window import type_query

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def text_window(qtbot, tmp_path: Path):
    from desktop.window import MainWindow

    pics = textworld.write_text_corpus(tmp_path / "pics", 6101, 6, [], max_angle=0, perspective=0,
                                       heights=(28, 48), n_lines=1)
    textworld.write_textless(tmp_path / "pics", 6102, 3, [])
    lib = Library.open(tmp_path / "lib", model=MODEL_SPEC)
    lib.index([tmp_path / "pics"])  # embedded; the window's own catch-up pass reads the text
    win = MainWindow(lib)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.watcher is not None and win.watcher.runs >= 1, timeout=120000)
    qtbot.waitUntil(lambda: not win.status.cancel_button.isVisible(), timeout=60000)
    yield win, lib, pics
    win.close()
    lib.close()


def test_a_quoted_word_finds_the_picture_and_the_preview_marks_it(qtbot, text_window) -> None:
    win, lib, pics = text_window
    assert lib.status().text_read == 9  # read by the window's background pass
    pic = pics[2]
    word = pic.lines[0].text.split()[0]
    hits = type_query(qtbot, win, f'"{word}"')
    assert hits and hits[0].path == str(pic.path) and hits[0].text_box is not None
    win.results.select_row(0)
    qtbot.waitUntil(lambda: win.preview.text.isVisible(), timeout=20000)
    assert word.lower() in win.preview.text.toPlainText().lower()  # the text, selectable to copy
    assert "matched the words" in win.preview.details.text()
    shown = win.preview.picture.pixmap().toImage()
    x0, y0, x1, y1 = hits[0].text_box
    inside = shown.pixelColor(int((x0 + x1) / 2 * shown.width()), int(y0 * shown.height()) - 1)
    assert inside.red() > 200 and inside.green() > 150 and inside.blue() < 120, inside.name()  # the yellow frame


def test_the_text_filter_keeps_pictures_with_words(qtbot, text_window) -> None:
    win, lib, pics = text_window
    win.bar.filters_button.setChecked(True)
    win.bar.text_filter.setChecked(True)
    hits = type_query(qtbot, win, pics[0].lines[0].text.split()[0])
    assert hits and all(lib.text_of(h.path) for h in hits)
    assert {h.path for h in hits} <= {str(p.path) for p in pics}


def test_reading_text_can_be_switched_off_in_settings(qtbot, text_window) -> None:
    win, lib, _ = text_window
    dlg = win.show_settings()  # the real dialog, as the person sees it
    assert dlg.read_text.isChecked() and not dlg.read_text_video.isChecked()
    qtbot.mouseClick(dlg.read_text, Qt.MouseButton.LeftButton)
    assert not dlg.read_text_video.isEnabled()
    chosen = dlg.values()
    assert chosen["read_text"] is False and chosen["read_text_video"] is False
    qtbot.mouseClick(dlg.ok_button, Qt.MouseButton.LeftButton)
    saved = lib.folder / "settings.json"
    qtbot.waitUntil(lambda: json.loads(saved.read_text())["read_text"] is False, timeout=20000)  # kept with the library
    assert not lib.settings.read_text
