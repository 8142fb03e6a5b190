"""``glimpse-gui``: start the window at once; the model loads in the background."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="glimpse-gui", description="Glimpse: find photos and video moments.")
    ap.add_argument("--library", metavar="DIR|URL", help="library folder, or a postgresql:// address of a library "
                    "several computers share (default: $GLIMPSE_LIBRARY or your data dir)")
    ap.add_argument("--model", metavar="SPEC", help="open_clip model spec (see `glimpse --help`)")
    ap.add_argument("--screenshot", metavar="PNG", help="save a screenshot of the window after start-up and quit "
                    "(used to check installed bundles)")
    ap.add_argument("--verbose", "-v", action="store_true", help="also print library messages (normally in glimpse.log)")
    args = ap.parse_args(argv)
    from indexer import library_location, log_session

    with log_session(library_location(args.library).folder, args.verbose):
        return _run(args)


def _run(args: argparse.Namespace) -> int:

    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication, QMessageBox

    from desktop.window import MainWindow
    from indexer import Env, Library, LibraryError, env_value

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Glimpse")
    app.setOrganizationName("Glimpse")
    app.setWindowIcon(QIcon(str(_icon())))
    try:
        library = Library.open(args.library, isolated=True, model=args.model)  # a crashing file costs a worker
    except LibraryError as e:
        QMessageBox.critical(None, "Glimpse", str(e))
        return 2
    win = MainWindow(library)
    win.show()
    if env_value(Env.STARTUP_PROBE):  # bench/bench_startup.py: report when the window is up
        import time

        from PySide6.QtCore import QTimer

        QTimer.singleShot(0, lambda: (print(f"shown {time.time()}", flush=True), os._exit(0)))
    if args.screenshot:
        from PySide6.QtCore import QTimer

        def shoot() -> None:
            win.screen().grabWindow(0, win.x(), win.y(), win.width(), win.height()).save(args.screenshot)
            win.close()

        QTimer.singleShot(8000, shoot)
    code = app.exec()
    library.close()
    return code


def _icon() -> Path:
    return Path(__file__).resolve().parent.parent / "resources" / "glimpse.svg"


if __name__ == "__main__":
    sys.exit(main())
