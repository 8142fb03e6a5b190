"""``glimpse-gui``: start the window at once; the model loads in the background."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="glimpse-gui", description="Glimpse: find photos and video moments.")
    ap.add_argument("--library", metavar="DIR", help="library folder (default: $GLIMPSE_LIBRARY or your data dir)")
    ap.add_argument("--model", metavar="SPEC", help="open_clip model spec (see `glimpse --help`)")
    args = ap.parse_args(argv)

    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication, QMessageBox

    from desktop.window import MainWindow
    from indexer import Library, LibraryError

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Glimpse")
    app.setOrganizationName("Glimpse")
    app.setWindowIcon(QIcon(str(_icon())))
    try:
        library = Library.open(args.library, model=args.model)
    except LibraryError as e:
        QMessageBox.critical(None, "Glimpse", str(e))
        return 2
    win = MainWindow(library)
    win.show()
    code = app.exec()
    library.close()
    return code


def _icon():
    from pathlib import Path

    return Path(__file__).resolve().parent.parent / "resources" / "glimpse.svg"


if __name__ == "__main__":
    sys.exit(main())
