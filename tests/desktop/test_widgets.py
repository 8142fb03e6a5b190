"""The window's parts on their own: the worker's error path, thumbnails (right picture, stale ones
dropped), pasting an image, and the Stop button during indexing."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

from desktop.workers import Worker, start
from indexer import Library, Query
from tests import world
from tests.conftest import MODEL_SPEC

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_a_failing_worker_reports_its_message_and_never_its_result(qtbot) -> None:
    def fails() -> None:
        raise ValueError("the folder is gone")

    w = Worker(fails)
    results: list[object] = []
    w.signals.result.connect(results.append)
    with qtbot.waitSignal(w.signals.error, timeout=5000) as err, qtbot.waitSignal(w.signals.finished, timeout=5000):
        start(w)
    assert err.args == ["the folder is gone"] and results == []


@pytest.fixture
def lib(tmp_path: Path):
    items = world.write_corpus(tmp_path / "pics", world.distinct_scenes(random.Random(12), 12), seed=12)
    library = Library.open(tmp_path / "lib", model=MODEL_SPEC, read_text=False)
    library.index([tmp_path / "pics"])
    yield library, items
    library.close()


def _mean_rgb(image: QImage) -> np.ndarray:
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    arr = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
    return arr[:, : image.width() * 3].reshape(image.height(), image.width(), 3).reshape(-1, 3).mean(axis=0)


def test_tiles_get_the_thumbnail_of_their_own_picture(qtbot, lib) -> None:
    from desktop.results import HIT_ROLE, ResultsView

    library, items = lib
    view = ResultsView(library)
    qtbot.addWidget(view)
    hits = library.search(Query(world.caption(items[3].scene), min_score=0.0, limit=6))
    view.show_hits(hits, 0.0)
    placeholder = view.placeholder.cacheKey()
    qtbot.waitUntil(lambda: all(view.model.item(r).icon().cacheKey() != placeholder for r in range(len(hits))),
                    timeout=20000)
    for r in range(len(hits)):
        hit = view.model.item(r).data(HIT_ROLE)
        tile = view.model.item(r).icon().pixmap(176).toImage()
        original = QImage(hit.path)
        assert np.abs(_mean_rgb(tile) - _mean_rgb(original)).max() < 12  # the same picture, smaller


def test_a_late_thumbnail_from_an_older_search_is_dropped(qtbot, lib) -> None:
    from desktop.results import ResultsView

    library, items = lib
    view = ResultsView(library)
    qtbot.addWidget(view)
    q = Query
    first = library.search(q(world.caption(items[0].scene), min_score=0.0, limit=4))
    view.show_hits(first, 0.0)
    old = view.generation
    second = library.search(q(world.caption(items[7].scene), min_score=0.0, limit=4))
    view.show_hits(second, 0.0)
    before = view.model.item(0).icon().cacheKey()
    red = QImage(8, 8, QImage.Format.Format_RGB888)
    red.fill(0xFF0000)
    view._set_thumbnail(old, 0, red)  # what a slow job of the first search would deliver now
    assert view.model.item(0).icon().cacheKey() == before
    view._set_thumbnail(view.generation, 0, red)  # the current search's own thumbnail lands
    assert view.model.item(0).icon().cacheKey() != before


def test_pasting_an_image_searches_with_it(qtbot, lib) -> None:
    from PySide6.QtWidgets import QApplication

    from desktop.window import MainWindow

    library, items = lib
    win = MainWindow(library)
    qtbot.addWidget(win)
    win.show()
    try:
        qtbot.waitUntil(lambda: win.model_ready and win.watcher is not None and win.watcher.runs >= 1, timeout=60000)
        QApplication.clipboard().setImage(QImage(str(items[5].path)))
        win.results.grid.setFocus()
        with qtbot.waitSignal(win.searched, timeout=30000) as sig:
            win.paste_image()
        assert len(win.bar.query_images) == 1 and win.bar.query_images[0].parent == library.folder / "pasted"
        assert sig.args[0][0].path == str(items[5].path)
    finally:
        win.close()


def test_stop_ends_indexing_at_once_and_keeps_the_library_sound(qtbot, tmp_path: Path) -> None:
    from desktop.window import MainWindow
    from indexer.upkeep.doctor import check

    world.write_corpus(tmp_path / "many", world.distinct_scenes(random.Random(13), 80), seed=13, size=384)
    library = Library.open(tmp_path / "lib", model=MODEL_SPEC, read_text=False, batch_size=4)
    win = MainWindow(library)
    qtbot.addWidget(win)
    win.show()
    try:
        qtbot.waitUntil(lambda: win.model_ready, timeout=60000)
        win.add_folders([tmp_path / "many"])
        qtbot.waitUntil(lambda: 0 < library.status().photos, timeout=60000)
        qtbot.mouseClick(win.status.cancel_button, Qt.MouseButton.LeftButton)
        assert win.watcher is None and "Stopping" in win.status.text.text()
        qtbot.wait(1500)
        done = library.status().photos
        assert done < 80 and check(library) == []
        qtbot.wait(1000)
        assert library.status().photos == done  # stopped: nothing more is indexed
    finally:
        win.close()
        library.close()


def test_a_large_photo_is_decoded_small_and_upright_for_the_preview(tmp_path: Path) -> None:
    """The preview reads photos in a worker at most PREVIEW_SIDE wide, turned as EXIF says."""
    from PIL import Image

    from desktop.files import load_image
    from desktop.preview import PREVIEW_SIDE

    big = tmp_path / "big.jpg"
    Image.new("RGB", (4000, 3000), (200, 30, 30)).save(big, quality=80)
    img = load_image(str(big), PREVIEW_SIDE)
    assert (img.width(), img.height()) == (PREVIEW_SIDE, PREVIEW_SIDE * 3 // 4)
    turned = tmp_path / "turned.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to view"
    Image.new("RGB", (400, 300), (30, 30, 200)).save(turned, exif=exif.tobytes())
    assert (load_image(str(turned)).width(), load_image(str(turned)).height()) == (300, 400)


def test_signals_can_be_emitted_many_times(qtbot) -> None:
    """PySide6 6.12.0 dropped a reference to the bool every ``emit`` returns; indexing emits
    thousands of progress signals, and Python then aborted ("deallocating True or False")."""
    import sys

    from PySide6.QtCore import QObject, Signal

    class Source(QObject):
        changed = Signal(object)

    src, got = Source(), []
    src.changed.connect(got.append)
    before = sys.getrefcount(True), sys.getrefcount(False)
    for i in range(20000):
        src.changed.emit(i % 2 == 0)
    assert len(got) == 20000
    assert sys.getrefcount(True) >= before[0] and sys.getrefcount(False) >= before[1]


def test_the_preview_says_where_in_a_video_a_hit_is(qtbot) -> None:
    from desktop.preview import Preview
    from indexer import Hit

    preview = Preview()
    qtbot.addWidget(preview)
    preview.show_hit(Hit(path="/v/a.mp4", score=0.9, kind="video", timestamp=56.0, start=41.0, end=60.0), None, [])
    assert "moment 0:41–1:00, best at 0:56" in preview.details.text()
    words = Hit(path="/v/a.mp4", score=1.0, kind="video", timestamp=56.0, text="harbour")  # read in one frame
    preview.show_hit(words, None, [])
    assert "at 0:56" in preview.details.text() and "moment" not in preview.details.text()
