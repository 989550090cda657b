"""The house rules that can be checked mechanically."""

from __future__ import annotations

import ast
import itertools
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(code: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    return out.stdout.strip()


def test_core_never_imports_a_framework() -> None:
    modules = sorted(p.stem for p in (ROOT / "manifold_core").glob("*.py") if p.stem != "__main__")
    names = ["manifold_core" if m == "__init__" else f"manifold_core.{m}" for m in modules]
    code = (
        "import importlib, sys\n"
        f"for m in {names!r}: importlib.import_module(m)\n"
        "fw = ('langchain', 'llama_index')\n"
        "found = {n.split('.')[0] for n in sys.modules if n.startswith(fw)}\n"
        "print(','.join(sorted(found)))"
    )
    assert _run(code) == ""


def test_importing_the_adapters_does_not_load_torch_or_chroma() -> None:
    code = (
        "import sys, langchain_manifold, llamaindex_manifold, manifold_core\n"
        "heavy = ('torch', 'sentence_transformers', 'chromadb', 'transformers')\n"
        "print(','.join(sorted(m for m in heavy if m in sys.modules)))"
    )
    assert _run(code) == ""


def test_every_exported_name_resolves() -> None:
    import langchain_manifold
    import llamaindex_manifold
    import manifold_core

    for pkg in (manifold_core, langchain_manifold, llamaindex_manifold):
        missing = [n for n in pkg.__all__ if not hasattr(pkg, n)]
        assert not missing, f"{pkg.__name__} lacks {missing}"


# --- the import graph ------------------------------------------------------------------

PACKAGES = ("manifold_core", "langchain_manifold", "llamaindex_manifold")
MAX_MODULE_LINES = 600


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _project_modules() -> dict[str, Path]:
    """Every module of the project's own packages, by dotted name."""
    return {_module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def _imported(name: str, path: Path, modules: dict[str, Path]) -> list[tuple[str, int]]:
    """The project modules ``name`` imports, with the line of each import statement.

    Every ``import`` and ``from ... import`` counts, wherever it sits: at the top, inside
    a function, under ``if TYPE_CHECKING:`` (a cycle hidden by a function-local import is
    still a cycle). ``from X import n`` is an edge to ``X.n`` when that is a module, else
    to ``X``. A package's ``__init__`` importing its own children is not an edge: that is
    how a package re-exports the names of its modules.
    """
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    out: list[tuple[str, int]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            targets = []
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                targets.append(sub if sub in modules else base)
        else:
            continue
        for target in targets:
            # ``import a.b.c`` of a name that is not a module (a typo, an attribute) goes
            # to the nearest enclosing project module.
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if not target or target == name:
                continue
            if is_package and target.startswith(name + "."):
                continue
            out.append((target, node.lineno))
    return out


def _import_graph() -> dict[str, dict[str, int]]:
    """``graph[a][b]``: the line where module ``a`` first imports project module ``b``."""
    modules = _project_modules()
    graph: dict[str, dict[str, int]] = {}
    for name, path in modules.items():
        edges: dict[str, int] = {}
        for target, line in sorted(_imported(name, path, modules), key=lambda e: e[1]):
            edges.setdefault(target, line)
        graph[name] = edges
    return graph


def _knots(graph: dict[str, dict[str, int]]) -> list[set[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    knots: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component: set[str] = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                knots.append(component)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return knots


def _shortest_cycle(graph: dict[str, dict[str, int]], knot: set[str]) -> list[str]:
    """A shortest cycle through the alphabetically first module of ``knot``."""
    start = min(knot)
    parents: dict[str, str] = {start: start}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(graph[v]):
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(parents[path[-1]])
                    return [*reversed(path), start]
                if w in knot and w not in parents:
                    parents[w] = v
                    nxt.append(w)
        frontier = nxt
    raise AssertionError(f"{knot} is not a strongly connected component")


def _cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """One shortest cycle per knot of mutually importing modules."""
    return [_shortest_cycle(graph, knot) for knot in _knots(graph)]


def _describe(graph: dict[str, dict[str, int]]) -> str:
    """Each knot: a cycle with the line of each import, and every module caught in it."""
    out = []
    for knot in _knots(graph):
        cycle = _shortest_cycle(graph, knot)
        steps = [f"{a} (line {graph[a][b]})" for a, b in itertools.pairwise(cycle)]
        out.append(" -> ".join([*steps, cycle[-1]]) + f"   [knot: {', '.join(sorted(knot))}]")
    return "\n".join(out)


def test_the_graph_walker_sees_hidden_and_relative_imports(tmp_path: Path) -> None:
    """The walker itself: function-local and relative imports are edges; re-exports not."""
    pkg = tmp_path / "demo"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from demo.a import f\nfrom . import b\n")
    (pkg / "a.py").write_text("def f():\n    from demo import b\n    return b\n")
    (pkg / "b.py").write_text("from .a import f\n")
    modules = {"demo": pkg / "__init__.py", "demo.a": pkg / "a.py", "demo.b": pkg / "b.py"}
    graph = {
        name: {t: line for t, line in _imported(name, path, modules)}
        for name, path in modules.items()
    }
    assert graph == {"demo": {}, "demo.a": {"demo.b": 2}, "demo.b": {"demo.a": 1}}
    assert _cycles(graph) == [["demo.a", "demo.b", "demo.a"]]


def test_no_import_cycles() -> None:
    graph = _import_graph()
    assert graph.get("manifold_core.store.hybrid"), "the walker found no imports at all"
    assert not _cycles(graph), "import cycles:\n" + _describe(graph)


def test_no_module_in_the_core_exceeds_600_lines() -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for p in sorted((ROOT / "manifold_core").rglob("*.py"))
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert not long, f"modules over {MAX_MODULE_LINES} lines: {long}"


# --- default model names ---------------------------------------------------------------


def _model_name_literals() -> dict[str, list[str]]:
    """Where product code spells a model name of manifold_core.defaults (docstrings aside)."""
    from manifold_core import defaults

    names = [
        v
        for k, v in vars(defaults).items()
        if k.startswith(("DEFAULT_", "PKG_")) and k != "PKG_PREFIX" and isinstance(v, str)
    ]
    # a full name anywhere in a string, or a pkg: name without its prefix as a whole string
    prefix = defaults.PKG_PREFIX
    bare = {n[len(prefix) :].lower() for n in names if n.startswith(prefix)}
    found: dict[str, list[str]] = {}
    for name, path in _project_modules().items():
        if name == "manifold_core.defaults":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in docstrings
                and (any(n in node.value for n in names) or node.value.lower() in bare)
            ):
                found.setdefault(str(path.relative_to(ROOT)), []).append(
                    f"line {node.lineno}: {node.value[:60]!r}"
                )
    return found


def test_the_defaults_module_is_seen() -> None:
    from manifold_core import defaults

    assert defaults.DEFAULT_EMBEDDING_MODEL == "Qwen/Qwen3-Embedding-0.6B"
    assert defaults.PKG_MINILM == "pkg:all-MiniLM-L6-v2"
    assert "manifold_core/encoders.py" not in _model_name_literals()


def test_default_model_names_are_written_once() -> None:
    found = _model_name_literals()
    assert not found, f"model names outside manifold_core/defaults.py: {found}"
