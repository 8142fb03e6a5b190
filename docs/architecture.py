"""The module table of docs/architecture.md, made from the packages and their docstrings.

``python docs/architecture.py`` writes it between the two markers; ``tests/test_docs.py``
fails when the file and the code disagree, so the table cannot go stale.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "architecture.md"
START, END = "<!-- modules: made by docs/architecture.py -->", "<!-- end of modules -->"


def summary(path: Path) -> str:
    """A module's docstring up to its first blank line, on one line."""
    doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    return " ".join(doc.split("\n\n")[0].split()).replace("|", "\\|")


def table() -> str:
    """One row per module: each package's own line first, then its modules."""
    sys.path.insert(0, str(REPO))
    from tests.indexer.test_layers import LAYERS

    rows = ["| layer | package / module | what it is for |", "|---|---|---|"]
    for pkg in sorted((p for p in (REPO / "indexer").iterdir() if (p / "__init__.py").exists()),
                      key=lambda p: (LAYERS[p.name], p.name)):
        rows.append(f"| {LAYERS[pkg.name]} | **`{pkg.name}/`** | {summary(pkg / '__init__.py')} |")
        rows += [f"| | `{m.name}` | {summary(m)} |" for m in sorted(pkg.glob("*.py")) if m.name != "__init__.py"]
    for pkg in ("desktop",):
        rows.append(f"| app | **`{pkg}/`** | the PySide6 app, a client of `indexer`'s public API only |")
        rows += [f"| | `{m.name}` | {summary(m)} |" for m in sorted((REPO / pkg).glob("*.py")) if m.name != "__init__.py"]
    return "\n".join(rows)


def rendered(text: str) -> str:
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{table()}\n{END}{tail}"


if __name__ == "__main__":
    DOC.write_text(rendered(DOC.read_text()))
