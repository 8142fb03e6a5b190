"""The window, driven like a person would, offscreen, on a generated library."""

from __future__ import annotations

import random
import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QDropEvent

from indexer import Library
from tests import world
from tests.conftest import MODEL_SPEC

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("media")
    items = world.write_corpus(folder / "photos", world.distinct_scenes(random.Random(21), 24), seed=21)
    scenes = [world.Scene("circle", "green", "large", "center", "plain", "white"),
              world.Scene("star", "red", "large", "right", "striped", "gray"),
              world.Scene("triangle", "blue", "large", "center", "plain", "black")]
    truth = world.write_video(folder / "videos" / "trip.mp4", scenes, [6, 6, 8])
    return folder, items, truth


@pytest.fixture(scope="module")
def media_library(tmp_path_factory: pytest.TempPathFactory, media) -> Path:
    """``media`` indexed and read once a module; each window test starts from a copy of it."""
    folder = tmp_path_factory.mktemp("media-library") / "lib"
    with Library.open(folder, model=MODEL_SPEC) as lib:
        lib.index([media[0]])
        lib.read_text()
    return folder


@pytest.fixture
def window(qtbot, tmp_path: Path, media_library: Path):
    from desktop.window import MainWindow

    shutil.copytree(media_library, tmp_path / "lib")
    lib = Library.open(tmp_path / "lib")
    win = MainWindow(lib)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.model_ready, timeout=120000)
    # the catch-up pass (indexing, then reading text) re-runs the current search when it ends;
    # let it end before a test types
    qtbot.waitUntil(lambda: win.watcher is not None and win.watcher.runs >= 1, timeout=120000)
    qtbot.waitUntil(lambda: not win.status.cancel_button.isVisible(), timeout=120000)
    yield win
    win.close()
    lib.close()


@contextmanager
def window_on(qtbot, folder: Path, items: int, seed: int, model: str = MODEL_SPEC):
    """A window on a fresh library of ``items`` generated photos, its catch-up pass done."""
    from desktop.window import MainWindow

    corpus = world.write_corpus(folder / "pics", world.distinct_scenes(random.Random(seed), items), seed=seed)
    lib = Library.open(folder / "lib", model=model, read_text=False)
    lib.index([folder / "pics"])
    win = MainWindow(lib)
    qtbot.addWidget(win)
    win.show()
    try:
        qtbot.waitUntil(lambda: win.watcher is not None and win.watcher.runs >= 1, timeout=120000)
        yield win, lib, corpus
    finally:
        win.close()
        lib.close()


def type_query(qtbot, win, text: str) -> list:
    with qtbot.waitSignal(win.searched, timeout=60000) as sig:
        win.bar.search_field.clear()
        qtbot.keyClicks(win.bar.search_field, text)
    return sig.args[0]


def test_typing_a_query_shows_the_right_first_result(qtbot, window, media) -> None:
    _, items, _ = media
    target = items[5]
    hits = type_query(qtbot, window, world.caption(target.scene))
    assert hits[0].path == str(target.path)
    assert window.results.currentIndex() == 0
    assert window.results.model.item(0).text().startswith(f"{hits[0].score:.2f}")


def test_dropping_an_image_runs_an_image_query(qtbot, window, media, tmp_path: Path) -> None:
    _, items, _ = media
    query = tmp_path / "drop.jpg"
    world.perturb(world.render(items[9].scene, 192, seed=21 * 100_003 + 9), seed=4).save(query)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(query))])
    event = QDropEvent(QPoint(50, 50), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                       Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(window.searched, timeout=60000) as sig:
        window.dropEvent(event)
    assert window.bar.query_images == [query]
    assert window.bar.chips.count() == 1
    assert sig.args[0][0].path == str(items[9].path)


def test_composed_query_reorders_results(qtbot, window, media) -> None:
    _, items, _ = media
    ref = items[2]
    with qtbot.waitSignal(window.searched, timeout=60000) as sig:
        window.bar.set_query_images([ref.path])
        window.run_search()
    image_only = [h.path for h in sig.args[0]]
    new_colour = "blue" if ref.scene.colour != "blue" else "red"
    composed = [h.path for h in type_query(qtbot, window, world.modification("colour", new_colour))]
    assert window.bar.strength.isVisible()
    assert composed[:5] != image_only[:5]
    assert str(ref.path) not in composed  # the example itself is not an answer


def test_video_result_opens_the_player_at_its_moment(qtbot, window, media) -> None:
    _, _, truth = media
    seg = truth[1]
    window.bar.kind.setCurrentIndex(2)
    hits = type_query(qtbot, window, world.caption(seg.scene))
    assert hits[0].kind == "video"
    window.results.select_row(0)
    qtbot.waitUntil(lambda: window.preview.player is not None, timeout=20000)
    qtbot.waitUntil(lambda: (window.preview.position() or 0) >= hits[0].timestamp - 0.5, timeout=30000)
    assert window.preview.position() < hits[0].timestamp + 3  # it started at the moment, not at 0
    assert seg.start - 2 <= hits[0].timestamp <= seg.end + 2


def test_without_qt_multimedia_a_video_result_shows_its_moment_as_a_still(qtbot, window, media, monkeypatch) -> None:
    """A system without Qt's multimedia libraries (e.g. no libpulse) still previews a moment."""
    import sys

    monkeypatch.setitem(sys.modules, "PySide6.QtMultimedia", None)  # the import fails as on such a system
    _, _, truth = media
    window.bar.kind.setCurrentIndex(2)
    hits = type_query(qtbot, window, world.caption(truth[1].scene))
    window.results.select_row(0)
    qtbot.waitUntil(lambda: window.preview.playback_error is not None  # known at once; the still is loaded after
                    and not window.preview.picture.pixmap().isNull(), timeout=20000)
    assert window.preview.player is None and window.preview.stack.currentIndex() == 0
    shown = window.preview.picture.pixmap()
    assert not shown.isNull() and shown.width() > 100
    assert "not available" in window.preview.details.text()
    # the still is the moment's frame: the red star of the video's second scene, not the green or blue shapes
    assert hits[0].kind == "video" and truth[1].start - 2 <= hits[0].timestamp <= truth[1].end + 2
    img = shown.toImage()
    px = [img.pixelColor(x, y) for x in range(0, img.width(), 4) for y in range(0, img.height(), 4)]
    red = sum(c.red() > 150 and c.green() < 90 and c.blue() < 90 for c in px)
    green_or_blue = sum(max(c.green(), c.blue()) > 150 and c.red() < 90 for c in px)
    assert red > 0.01 * len(px) and green_or_blue < red / 10, (red, green_or_blue, len(px))


def test_threshold_slider_hides_low_scores(qtbot, window) -> None:
    hits = type_query(qtbot, window, "a red star")
    assert len(window.results.visible_hits()) == len(hits)
    cut = hits[len(hits) // 2].score
    window.bar.threshold.setValue(int(cut * 100) + 1)
    visible = window.results.visible_hits()
    assert 0 < len(visible) < len(hits) or not visible
    assert all(h.score >= window.bar.threshold.value() / 100 for h in visible)


def test_adding_a_folder_indexes_it_with_visible_progress(qtbot, tmp_path: Path) -> None:
    from desktop.window import MainWindow

    photos = tmp_path / "new"
    world.write_corpus(photos, world.distinct_scenes(random.Random(5), 12), seed=5)
    lib = Library.open(tmp_path / "lib2", model=MODEL_SPEC)
    win = MainWindow(lib)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: "Welcome" in win.results.message.text(), timeout=10000)  # counted off the UI thread
    qtbot.waitUntil(lambda: win.model_ready, timeout=120000)
    seen: list[str] = []
    reports: list = []
    win.status.progress.valueChanged.connect(lambda _: seen.append(win.status.text.text()))
    said: list[str] = []
    win.indexed.connect(lambda r: (reports.append(r), said.append(win.status.text.text())))
    win.handle_drop([photos])
    assert win.status.progress.isVisible()
    # files written a moment ago are left to settle first, then indexed by the background watcher
    qtbot.waitUntil(lambda: sum(r.added for r in reports) == 12, timeout=60000)
    assert any("ETA" in s for s in seen)
    assert lib.status().photos == 12
    # each pass says what it added (files still settling may arrive in a later pass than the rest)
    assert all(s.startswith(f"Indexed: {r.added} new") for r, s in zip(reports, said, strict=True) if r.added)
    # then the text pass, with its own progress, and the last summary again when it is done
    qtbot.waitUntil(lambda: lib.status().text_read == 12 and not win.status.progress.isVisible(), timeout=60000)
    assert any("Reading text" in s for s in seen)
    # the pass's end reaches the window as its own event, a moment after the bar is hidden
    qtbot.waitUntil(lambda: f"Indexed: {reports[-1].added} new" in win.status.text.text(), timeout=10000)
    win.close()
    lib.close()


def test_first_run_without_a_model_explains_and_imports_one(qtbot, tmp_path: Path, monkeypatch) -> None:
    from desktop.window import MainWindow
    from tests.conftest import TINY_MODEL

    monkeypatch.setenv("GLIMPSE_MODELS", str(tmp_path / "models"))
    lib = Library.open(tmp_path / "lib", model=f"local-dir:{tmp_path / 'not-downloaded'}")
    win = MainWindow(lib)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: "not available" in win.results.message.text(), timeout=120000)
    assert win.results.start_button.isVisible() and "Import" in win.results.start_button.text()
    qtbot.keyClicks(win.bar.search_field, "x")
    win.bar.search_field.clear()  # an empty search shows the start page: not over what to do first
    qtbot.wait(1000)
    assert "not available" in win.results.message.text() and "Import" in win.results.start_button.text()
    win.import_model(TINY_MODEL)
    qtbot.waitUntil(lambda: win.model_ready, timeout=60000)
    assert lib.settings.model == f"local-dir:{tmp_path / 'models' / 'imported' / 'tiny-clip'}"
    qtbot.waitUntil(lambda: "Welcome" in win.results.message.text(), timeout=10000)  # counted off the UI thread
    button = win.results.start_button  # under "Add a folder of photos or videos", the button adds one again
    assert button.isVisible() and button.text() == "Add a folder of photos…"
    win.close()
    lib.close()


def test_library_dialog_lists_folders_and_errors(qtbot, window, media) -> None:
    folder, _, _ = media
    (folder / "photos" / "broken.jpg").write_bytes(b"")
    try:
        window.library.index(wait=True)  # the window's watcher may be indexing: wait our turn
        dlg = window.show_library_dialog()
        qtbot.addWidget(dlg)
        qtbot.waitUntil(lambda: dlg.loaded, timeout=20000)  # counts arrive from a worker
        assert dlg.folders.item(0, 0).text() == str(folder)
        assert int(dlg.folders.item(0, 1).text()) == 24
        assert dlg.errors.rowCount() == 1 and "empty file" in dlg.errors.item(0, 1).text()
    finally:
        (folder / "photos" / "broken.jpg").unlink()


def test_a_file_name_that_is_not_utf8_is_shown_previewed_and_opened(qtbot, tmp_path: Path) -> None:
    import os
    import urllib.parse

    from desktop.files import file_url
    from desktop.window import MainWindow

    folder = tmp_path / os.fsdecode(b"Fotos \xe9t\xe9")  # the folder too, from an old Latin-1 drive
    scene = world.Scene("star", "purple", "large", "center", "dotted", "white")
    photo = folder / os.fsdecode(b"plage \xe0 Nice \xff.jpg")
    folder.mkdir()
    world.render(scene, 192).save(photo, format="JPEG")
    world.write_corpus(folder, world.distinct_scenes(random.Random(77), 6), seed=77)
    lib = Library.open(tmp_path / "lib", model=MODEL_SPEC)
    lib.index([folder])
    win = MainWindow(lib)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.model_ready, timeout=120000)
    try:
        hits = type_query(qtbot, win, world.caption(scene))
        assert hits[0].path == str(photo)
        assert "plage \ufffd Nice \ufffd.jpg" in win.results.model.item(0).text()  # readable tile label
        win.results.select_row(0)
        qtbot.waitUntil(lambda: win.preview._pixmap is not None and not win.preview._pixmap.isNull(), timeout=20000)
        assert "plage \ufffd Nice \ufffd.jpg" in win.preview.details.text()
        url = file_url(str(photo))
        assert urllib.parse.unquote_to_bytes(bytes(url.toEncoded()).decode()[len("file://"):]) == os.fsencode(str(photo))
        dlg = win.show_library_dialog()
        qtbot.addWidget(dlg)
        qtbot.waitUntil(lambda: dlg.loaded, timeout=20000)  # counts arrive from a worker
        assert dlg.folders.item(0, 0).text().endswith("Fotos \ufffdt\ufffd")
    finally:
        win.close()
        lib.close()


def test_words_that_match_nothing_say_so_and_one_click_shows_everything(qtbot, window) -> None:
    hits = type_query(qtbot, window, "zqx vlorp quantum tax invoice")
    assert hits == [] and window.hits.no_good_matches
    assert window.results.currentIndex() == 1 and "No good matches" in window.results.message.text()
    assert window.results.everything_button.isVisible()
    with qtbot.waitSignal(window.searched, timeout=60000) as sig:
        qtbot.mouseClick(window.results.everything_button, Qt.MouseButton.LeftButton)
    assert len(sig.args[0]) > 3 and window.results.currentIndex() == 0
    type_query(qtbot, window, "a red star")  # new words: the default view again
    assert not window.bar.show_all


def test_results_the_relevance_bar_cut_short_offer_the_rest_in_one_click(qtbot, window) -> None:
    """A description shows what stands out; the status bar offers the rest (issue #38: on a
    weak text tower real matches can sit below the bar)."""
    hits = type_query(qtbot, window, "a red object")
    assert hits and window.hits.more_below and len(hits) < window.library.status().photos
    assert window.status.everything_button.isVisible()
    with qtbot.waitSignal(window.searched, timeout=60000) as sig:
        qtbot.mouseClick(window.status.everything_button, Qt.MouseButton.LeftButton)
    assert len(sig.args[0]) > len(hits) and not window.status.everything_button.isVisible()


def test_removing_a_folder_from_the_dialog_waits_for_indexing_and_never_fails(qtbot, tmp_path: Path) -> None:
    from desktop.window import MainWindow

    a, b = tmp_path / "a", tmp_path / "b"
    world.write_corpus(a, world.distinct_scenes(random.Random(81), 40), seed=81)
    world.write_corpus(b, world.distinct_scenes(random.Random(82), 8), seed=82)
    lib = Library.open(tmp_path / "lib", model=MODEL_SPEC)
    lib.index([b])
    lib.add_root(a)
    win = MainWindow(lib)
    qtbot.addWidget(win)
    win.show()
    try:
        qtbot.waitUntil(lambda: win.model_ready, timeout=120000)
        win.start_indexing()  # the watcher indexes a while the user removes b
        dlg = win.show_library_dialog()
        qtbot.addWidget(dlg)
        qtbot.waitUntil(lambda: dlg.loaded, timeout=20000)  # counts arrive from a worker
        row = dlg._roots.index(str(b))
        dlg.folders.selectRow(row)
        dlg._remove()
        qtbot.waitUntil(lambda: [r.path for r in lib.roots()] == [str(a)] and dlg.isEnabled(), timeout=120000)
        qtbot.waitUntil(lambda: lib.status().photos == 40, timeout=120000)
    finally:
        win.close()
        lib.close()


def test_results_can_be_ordered_by_date(qtbot, window) -> None:
    best = type_query(qtbot, window, "a red star")
    with qtbot.waitSignal(window.searched, timeout=60000) as sig:
        window.bar.sort.setCurrentIndex(1)  # Newest
    newest = sig.args[0]
    assert sorted(h.path for h in newest) == sorted(h.path for h in best)
    assert [h.when for h in newest] == sorted((h.when for h in newest), reverse=True)
    tiles = [window.results.model.item(r) for r in range(window.results.model.rowCount())
             if window.results.model.item(r).data(Qt.ItemDataRole.UserRole + 1) is not None]
    assert "file date" in tiles[0].toolTip()  # generated pictures carry no date of their own


def test_many_results_selected_drag_out_as_files_and_export(qtbot, window, tmp_path: Path) -> None:
    from PySide6.QtCore import QItemSelectionModel

    hits = type_query(qtbot, window, "a red star")
    counts: list[int] = []
    window.results.selection_changed.connect(counts.append)
    sel = window.results.grid.selectionModel()
    for r in (0, 2, 3):  # ctrl-click three tiles
        sel.select(window.results.model.index(r, 0), QItemSelectionModel.SelectionFlag.Select)
    assert counts[-1] == 3 and "3 selected" in window.status.text.text()
    chosen = window.results.selected_hits()
    drag = window.results.model.mimeData(sel.selectedIndexes())
    assert [u.toLocalFile() for u in drag.urls()] == [h.path for h in chosen]
    dest = tmp_path / "picked"
    window.exporter.files([h.path for h in chosen], dest)
    qtbot.waitUntil(lambda: "Copied 3 files" in window.status.text.text(), timeout=20000)
    assert sorted(p.name for p in dest.iterdir()) == sorted(Path(h.path).name for h in chosen)
    assert hits  # the grid kept its results
    window.status.say("")
    window.exporter.files([h.path for h in chosen], dest)  # the same again: nothing is overwritten
    qtbot.waitUntil(lambda: "Copied 3 files" in window.status.text.text(), timeout=20000)  # when it has finished
    assert len(list(dest.iterdir())) == 6
    assert sum(" (2)" in p.name for p in dest.iterdir()) == 3
    grid = window.results.grid
    grid.clearSelection()
    for r in (1, 4):  # the mouse: a click, then a ctrl-click
        spot = grid.visualRect(window.results.model.index(r, 0)).center()
        mods = Qt.KeyboardModifier.ControlModifier if r == 4 else Qt.KeyboardModifier.NoModifier
        qtbot.mouseClick(grid.viewport(), Qt.MouseButton.LeftButton, mods, spot)
    assert [h.path for h in window.results.selected_hits()] == [hits[1].path, hits[4].path]
    window.results.grid.setFocus()
    qtbot.keyClick(window.results.grid, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)  # ctrl-A: everything
    assert len(window.results.selected_hits()) == len(window.results.visible_hits()) and counts[-1] == len(hits)
    qtbot.keyClick(window.results.grid, Qt.Key.Key_End)  # keyboard navigation moves the current tile (and the preview)
    assert window.results.grid.currentIndex().row() == window.results.model.rowCount() - 1


def test_date_order_shows_month_headers_that_cannot_be_selected(qtbot, window, media) -> None:
    import datetime as dt
    import os

    _, items, _ = media
    for i, it in enumerate(items):  # three months of file dates
        when = dt.datetime(2023, 6 + i % 3, 10).timestamp()
        os.utime(it.path, (when, when))
    window.start_indexing()  # the watcher sees the new dates (touch: nothing to embed again)
    qtbot.waitUntil(lambda: not window.status.cancel_button.isVisible(), timeout=60000)
    window.bar.sort.setCurrentIndex(2)  # Oldest
    hits = type_query(qtbot, window, "a red star")
    headers = [window.results.model.item(r) for r in range(window.results.model.rowCount())
               if window.results.model.item(r).data(Qt.ItemDataRole.UserRole + 1) is None]
    assert headers and headers[0].text().startswith("June 2023 ·")
    assert sum(int(h.text().split("· ")[1]) for h in headers) == len(hits)
    assert not headers[0].flags() & Qt.ItemFlag.ItemIsSelectable
    window.results.select_row(0)
    assert window.results.selected_hits() == [hits[0]]  # row 0 is the first result, not a header
