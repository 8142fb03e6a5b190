"""The engine's folders are its layers: imports between packages point down only, no circles, no clients.

Every ``indexer`` import is counted, at module level or inside a function (a lazy import
hides a circle from linters, not from this test); ``TYPE_CHECKING`` blocks are skipped.
Packages on one layer (``media``, ``model``, ``store``) do not import each other either.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ENGINE = REPO / "indexer"
LAYERS = {
    "base": 0,  # settings, paths, errors, progress: no engine imports beyond its own package
    "media": 1, "model": 1, "store": 1,  # files and frames; the model; the library's truth
    "ann": 2,  # the index over the store's vectors
    "search": 3, "indexing": 3,  # what runs over them: one search; the passes that fill a library
    "library": 4,  # the Library facade and its parts
    "upkeep": 5,  # clients of Library: the watcher, the doctor
    "cli": 6,  # the glimpse command and the resident search process
    "__init__": 7, "__main__": 7,  # the public API
}
MAX_LINES = {"indexer/library/library.py": 300, "desktop/window.py": 250}


def module_name(path: Path) -> str:
    """``indexer/store/database.py`` -> ``store.database``; a package's ``__init__`` is the package."""
    parts = path.relative_to(ENGINE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" and len(parts) > 1 else parts)


def resolve(dotted: str) -> str:
    """An imported ``indexer.X[.Y]`` as a module name of this engine."""
    rest = dotted.removeprefix("indexer").lstrip(".")
    return rest or "__init__"


def engine_imports(path: Path) -> set[str]:
    """The engine modules ``path`` imports, anywhere but under ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text())
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip |= {id(n) for n in ast.walk(node)}
    out: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "indexer":
            base = resolve(node.module)
            for a in node.names:  # a submodule, or a name the package defines
                sub = f"{base}.{a.name}" if base != "__init__" else a.name
                where = ENGINE / Path(*sub.split("."))
                is_module = where.with_suffix(".py").exists() or where.is_dir()
                out.add(sub if is_module else base)
        elif isinstance(node, ast.Import):
            out |= {resolve(a.name) for a in node.names if a.name.split(".")[0] == "indexer"}
    return out


def graph() -> dict[str, set[str]]:
    return {module_name(p): engine_imports(p) - {module_name(p)} for p in ENGINE.rglob("*.py")}


def layer(module: str) -> int:
    return LAYERS[module.split(".")[0]]


def test_every_engine_module_is_in_a_package_with_a_layer() -> None:
    tops = {module_name(p).split(".")[0] for p in ENGINE.rglob("*.py")}
    assert tops == set(LAYERS)
    loose = [p.name for p in ENGINE.glob("*.py") if p.stem not in ("__init__", "__main__")]
    assert not loose, f"modules outside a package: {loose}"


def test_every_package_says_what_it_is_for() -> None:
    for pkg in (p for p in ENGINE.iterdir() if (p / "__init__.py").exists()):
        assert ast.get_docstring(ast.parse((pkg / "__init__.py").read_text())), pkg.name


def test_imports_between_packages_point_down_only() -> None:
    upward = [(mod, dep) for mod, deps in graph().items() for dep in deps
              if mod.split(".")[0] != dep.split(".")[0] and layer(dep) >= layer(mod)]
    assert not upward, f"imports that do not point down a layer (module, imported): {upward}"


def test_there_are_no_import_circles() -> None:
    g = graph()
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for dep in sorted(g.get(node, ())):
            if state.get(dep) == 1:
                raise AssertionError(f"import circle: {' -> '.join(path + [node, dep])}")
            if dep not in state:
                visit(dep, path + [node])
        state[node] = 2

    for mod in sorted(g):
        if mod not in state:
            visit(mod, [])


def test_the_engine_never_imports_its_clients() -> None:
    for p in ENGINE.rglob("*.py"):
        tree = ast.parse(p.read_text())
        for node in ast.walk(tree):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
                [a.name for a in node.names] if isinstance(node, ast.Import) else []
            assert not any(n.split(".")[0] in ("desktop", "PySide6") for n in names), (p.name, names)


def test_the_app_uses_only_the_public_api() -> None:
    for p in (REPO / "desktop").glob("*.py"):
        tree = ast.parse(p.read_text())
        deep = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and (n.module or "").startswith("indexer.")]
        deep += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names if a.name.startswith("indexer.")]
        assert not deep, f"{p.name} reaches past indexer's public API: {deep}"


def test_sql_lives_only_in_the_store() -> None:
    """Every statement is behind one of the store's named methods (the GUI included)."""
    sql = re.compile(r"\b(SELECT\s|INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+(TABLE|INDEX)|PRAGMA\s)")
    places = [p for p in [*ENGINE.rglob("*.py"), *(REPO / "desktop").glob("*.py")] if p.parent.name != "store"]
    found = [f"{p.name}:{n}" for p in places for n, line in enumerate(p.read_text().splitlines(), 1) if sql.search(line)]
    assert not found, f"SQL outside indexer/store/: {found}"


def test_modules_stay_short() -> None:
    """One concern a module: none past 400 lines, the facade and the window thinner still."""
    long = []
    for p in [*ENGINE.rglob("*.py"), *(REPO / "desktop").glob("*.py")]:
        rel = p.relative_to(REPO).as_posix()
        n = len(p.read_text().splitlines())
        if n > MAX_LINES.get(rel, 400):
            long.append(f"{rel}: {n}")
    assert not long, f"modules past their length: {long}"
