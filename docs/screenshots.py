"""Take the README screenshots of the real window (run under Xvfb: `make screenshots`).

Builds a demo library from the synthetic test world with the committed tiny model,
then captures: first run, text search results, a video moment in the preview, and a
search for words written in pictures (rendered signs on plain backgrounds, read by the
real OCR model) with the matched words framed on the preview, results by date, and a small
object in a large photo found by a region, framed on the preview.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QEventLoop, Qt, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from desktop.window import MainWindow  # noqa: E402
from indexer import Library, Query  # noqa: E402
from tests import textworld, world  # noqa: E402
from tests.conftest import MODEL_SPEC  # noqa: E402


def wait(ms: int) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def wait_for(cond, timeout_ms: int = 60000) -> None:
    waited = 0
    while not cond() and waited < timeout_ms:
        wait(100)
        waited += 100


def shoot(win: MainWindow, name: str, settle_ms: int = 800) -> None:
    wait(settle_ms)
    out = ROOT / "docs" / name
    # grab the screen, not the widget tree, so the video surface is captured too
    win.screen().grabWindow(0, win.x(), win.y(), win.width(), win.height()).save(str(out))
    print("saved", out)


def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    os.environ["XDG_CONFIG_HOME"] = str(tmp / "config")  # default window size, not the user's
    _app = QApplication.instance() or QApplication(sys.argv)  # kept alive for the whole run
    media = tmp / "Pictures"
    world.write_corpus(media / "2024", world.distinct_scenes(random.Random(2), 36), seed=2, size=256)
    scenes = [world.Scene("circle", "green", "large", "center", "plain", "white"),
              world.Scene("star", "red", "large", "right", "striped", "gray"),
              world.Scene("triangle", "blue", "large", "center", "dotted", "black")]
    world.write_video(media / "videos" / "holiday.mp4", scenes, [8, 8, 8], size=(320, 240))

    first = Library.open(tmp / "empty-lib", model=MODEL_SPEC)
    win = MainWindow(first)
    win.show()
    wait_for(lambda: win.model_ready)
    shoot(win, "screenshot-first-run.png")
    win.close()

    lib = Library.open(tmp / "lib", model=MODEL_SPEC)
    lib.index([media])
    lib.read_text()  # so the window's catch-up pass has nothing left to do while it is photographed
    win = MainWindow(lib)
    win.resize(1200, 780)
    win.show()
    wait_for(lambda: win.model_ready)
    win.bar.search_field.setText("a red star")
    win.run_search()
    wait_for(lambda: win.results.model.rowCount() > 0)
    shoot(win, "screenshot-search.png")

    win.bar.kind.setCurrentIndex(2)
    win.bar.search_field.setText(world.caption(scenes[2]))
    win.run_search()
    wait_for(lambda: win.hits and win.hits[0].kind == "video")
    win.results.select_row(0)
    wait(700)
    pl = win.preview.player
    print("player", pl.position(), pl.playbackState(), pl.mediaStatus(), win.preview.video_widget.isVisible(),
          win.preview.video_widget.size())
    shoot(win, "screenshot-video.png", 300)
    win.close()
    lib.close()
    shoot_text_search(tmp)
    shoot_dates(tmp)
    shoot_small_thing(tmp)


def shoot_small_thing(tmp: Path) -> None:
    """A small object in a large photo, found by its region, framed on the preview with the why line."""
    from tests import smallworld

    targets = smallworld.write(tmp / "Landscapes", 7401)
    lib = Library.open(tmp / "regions-lib", model=MODEL_SPEC, read_text=False, regions=True)
    lib.index([tmp / "Landscapes"])
    best = None
    for t in targets:  # the description whose photo comes first, found by a region
        hits = lib.search(Query(t.text, limit=5))
        if hits and hits[0].path == str(t.path) and hits[0].region is not None:
            best = t
            break
    win = MainWindow(lib)
    win.resize(1200, 780)
    win.show()
    wait_for(lambda: win.model_ready)
    wait_for(lambda: win.watcher is not None and win.watcher.runs >= 1)
    win.bar.search_field.setText(best.text if best else targets[0].text)
    win.run_search()
    wait_for(lambda: win.results.model.rowCount() > 0)
    win.results.select_row(0)
    wait_for(lambda: win.preview.why.text().startswith("matched"))
    shoot(win, "screenshot-regions.png")
    win.close()
    lib.close()


def shoot_text_search(tmp: Path) -> None:
    signs = textworld.write_text_corpus(tmp / "Signs", 31, 18, [], max_angle=0, perspective=0, heights=(30, 60))
    lib = Library.open(tmp / "text-lib", model=MODEL_SPEC)
    lib.index([tmp / "Signs"])
    lib.read_text()
    win = MainWindow(lib)
    win.resize(1200, 780)
    win.show()
    wait_for(lambda: win.model_ready)
    wait_for(lambda: win.watcher is not None and win.watcher.runs >= 1)
    word = max((w for s in signs for line in s.lines for w in line.text.split()), key=lambda w: (w == "SALE", len(w)))
    win.bar.search_field.setText(f'"{word}"')
    win.run_search()
    wait_for(lambda: win.results.model.rowCount() > 0)
    win.results.select_row(0)
    wait_for(lambda: win.preview.text.isVisible())
    shoot(win, "screenshot-text.png")
    win.close()
    lib.close()



def shoot_dates(tmp: Path) -> None:
    """Results in date order, grouped by month, three of them selected, a saved search beside."""
    import datetime as dt

    from PySide6.QtCore import QItemSelectionModel

    items = world.write_corpus(tmp / "Trips", world.distinct_scenes(random.Random(5), 40), seed=5, size=256)
    for i, it in enumerate(items):
        when = dt.datetime(2023, 5 + i % 4, 1 + i % 27, 12).timestamp()
        os.utime(it.path, (when, when))
    lib = Library.open(tmp / "dates-lib", model=MODEL_SPEC, read_text=False)
    lib.index([tmp / "Trips"])
    lib.searches.save("Red things", Query("something red", min_score=0.0))
    win = MainWindow(lib)
    win.resize(1200, 780)
    win.show()
    wait_for(lambda: win.model_ready)
    wait_for(lambda: win.watcher is not None and win.watcher.runs >= 1)
    win.bar.sort.setCurrentIndex(1)
    win.bar.search_field.setText("a star")
    win.run_search()
    wait_for(lambda: win.results.model.rowCount() > 0)
    wait(600)
    rows = [r for r in range(win.results.model.rowCount()) if win.results.model.item(r).data(Qt.ItemDataRole.UserRole + 1)]
    sel = win.results.grid.selectionModel()
    for r in rows[:3]:
        sel.select(win.results.model.index(r, 0), QItemSelectionModel.SelectionFlag.Select)
    shoot(win, "screenshot-dates.png")
    win.close()
    lib.close()


if __name__ == "__main__":
    main()
