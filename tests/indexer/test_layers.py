"""The engine's imports point down only: no circles, no upward or lazy back-imports, no clients.

Every ``indexer`` import is counted, at module level or inside a function (a lazy import
hides a circle from linters, not from this test); ``TYPE_CHECKING`` blocks are skipped.
"""

from __future__ import annotations

import ast
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[2] / "indexer"
LAYERS = {
    # foundations: no engine imports beyond their own layer
    "config": 0, "paths": 0, "prompts": 0, "logs": 0, "resident": 0, "atomic": 0, "errors": 0, "filters": 0, "encoder": 0,
    "collector": 0,
    # files, frames, the model's runtime, the store and its ANN cache
    "u8graph": 1, "crawl": 1, "decode": 1, "video": 1, "thumbs": 1, "store": 1, "ann": 1, "projection": 1, "runtime": 1,
    "inverted_file": 1, "quantize": 1, "model": 1, "ocr": 1, "regions": 1, "writelock": 1, "passes": 0, "embedding": 1,
    "schema": 0, "rows": 0, "store_text": 1, "store_vectors": 1, "preprocess": 1, "tokenizer": 1, "engines": 1, "depthwise": 1,
    # what runs over them
    "pipeline": 2, "rank": 2, "query": 2, "catalog": 2, "textpass": 2, "textsearch": 2, "reembed": 2,
    "nonsense": 2, "duplicates": 2, "switching": 2, "searching": 2, "status": 2, "ordering": 2, "export": 2, "saved": 2,
    "regionpass": 2, "explain": 2, "exportchild": 2,
    "library": 3,
    # clients of Library
    "watch": 4, "doctor": 4, "commands": 4, "cli": 4, "__init__": 5, "__main__": 5,
}


def engine_imports(path: Path) -> set[str]:
    """The indexer modules ``path`` imports, anywhere but under ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text())
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip |= {id(n) for n in ast.walk(node)}
    out: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "indexer":  # a submodule, or a name the package re-exports (the package)
                out |= {a.name if (ENGINE / f"{a.name}.py").exists() else "__init__" for a in node.names}
            elif node.module.startswith("indexer."):
                out.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            out |= {a.name.split(".")[1] for a in node.names if a.name.startswith("indexer.")}
    return out


def graph() -> dict[str, set[str]]:
    return {p.stem: engine_imports(p) - {p.stem} for p in ENGINE.glob("*.py")}


def test_every_engine_module_has_a_layer() -> None:
    assert set(graph()) == set(LAYERS)


def test_imports_point_down_only() -> None:
    upward = [(mod, dep) for mod, deps in graph().items() for dep in deps if LAYERS[dep] > LAYERS[mod]]
    assert not upward, f"upward imports (module, imported): {upward}"


def test_there_are_no_import_circles() -> None:
    g = graph()
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for dep in sorted(g[node]):
            if state.get(dep) == 1:
                raise AssertionError(f"import circle: {' -> '.join(path + [node, dep])}")
            if dep not in state:
                visit(dep, path + [node])
        state[node] = 2

    for mod in sorted(g):
        if mod not in state:
            visit(mod, [])


def test_the_engine_never_imports_its_clients() -> None:
    for p in ENGINE.glob("*.py"):
        tree = ast.parse(p.read_text())
        for node in ast.walk(tree):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
                [a.name for a in node.names] if isinstance(node, ast.Import) else []
            assert not any(n.split(".")[0] in ("desktop", "PySide6") for n in names), (p.name, names)


def test_sql_lives_only_in_the_store() -> None:
    """Every statement is behind one of the store's named methods (the GUI included)."""
    import re

    sql = re.compile(r"\b(SELECT\s|INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+(TABLE|INDEX)|PRAGMA\s)")
    sql_home = ("store.py", "store_text.py", "store_vectors.py", "schema.py")
    places = [p for p in [*ENGINE.glob("*.py"), *(ENGINE.parent / "desktop").glob("*.py")] if p.name not in sql_home]
    found = [f"{p.name}:{n}" for p in places for n, line in enumerate(p.read_text().splitlines(), 1) if sql.search(line)]
    assert not found, f"SQL outside indexer/store.py and schema.py: {found}"
