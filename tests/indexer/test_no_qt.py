"""The engine never imports Qt: it must work in a terminal and on a server."""

from __future__ import annotations

import subprocess
import sys


def test_indexer_imports_with_qt_blocked() -> None:
    code = ("import sys\nsys.modules['PySide6'] = None\n"
            "import indexer, indexer.cli.main, indexer.library.library, indexer.indexing.pipeline, indexer.media.video\n"
            "import indexer.search.query\n"
            "assert not any(m.startswith('PySide6.') for m in sys.modules)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
