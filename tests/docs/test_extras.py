"""Each extra installs what the README section or tutorial that names it imports.

Every page's ``pip install "manifold-rag[EXTRAS]" ...`` line names what a reader installs;
every module its Python blocks import must then come from a distribution that this
install pulls in: our own packages, the extras' requirements in ``pyproject.toml``, and
their requirements, transitively, as the installed distributions declare them. This is
the static half of "runs in a fresh venv with only that extra" (it needs no network);
installing fresh venvs is not done by the suite.
"""

from __future__ import annotations

import ast
import importlib.metadata as md
import re
import subprocess
import sys
from pathlib import Path

import pytest
from markdown_runner import parse_blocks
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

REPO = Path(__file__).resolve().parents[2]
OURS = {"manifold_core", "langchain_manifold", "llamaindex_manifold"}
_INSTALL = re.compile(
    r"""pip install\s+["']?manifold-rag(?:\[(?P<extras>[^\]]*)\])?["']?(?P<rest>[^`\n;]*)"""
)


def _project() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _closure(extras: set[str], more: list[str]) -> set[str]:
    """Canonical names of every distribution ``manifold-rag[extras] + more`` installs."""
    project = _project()
    optional = project["optional-dependencies"]
    pending: list[Requirement] = [Requirement(r) for r in project["dependencies"]]
    todo = set(extras)
    seen_extras: set[str] = set()
    while todo:
        extra = todo.pop()
        seen_extras.add(extra)
        for spec in optional[extra]:
            req = Requirement(spec)
            if canonicalize_name(req.name) == "manifold-rag":
                todo |= set(req.extras) - seen_extras
            else:
                pending.append(req)
    pending += [Requirement(m) for m in more]
    found: set[str] = set()
    while pending:
        req = pending.pop()
        name = canonicalize_name(req.name)
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        key = name + "[" + ",".join(sorted(req.extras)) + "]"
        if key in found:
            continue
        found.add(key)
        try:
            requires = md.requires(name) or []
        except md.PackageNotFoundError:
            continue
        for spec in requires:
            sub = Requirement(spec)
            env_ok = sub.marker is None or any(
                sub.marker.evaluate({"extra": e}) for e in ["", *req.extras]
            )
            if env_ok:
                pending.append(Requirement(str(sub).split(";")[0]))
    return {k.split("[")[0] for k in found}


def _imports(code: str) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.add(node.module.split(".")[0])
    return out


def _distributions_of(module: str) -> set[str]:
    return {canonicalize_name(d) for d in md.packages_distributions().get(module, [])}


def _sections(path: Path) -> list[tuple[str, str, str]]:
    """``(where, install line, python code)`` per page, or per README ``##`` section."""
    text = path.read_text(encoding="utf-8")
    parts = re.split(r"^## ", text, flags=re.M) if path.name == "README.md" else [text]
    out = []
    for part in parts:
        code = "\n".join(
            b.code
            for b in parse_blocks(part)
            if b.lang in ("python", "py") and "skip" not in b.flags
        )
        install = next((m.group(0) for m in _INSTALL.finditer(part)), "")
        if code.strip():
            title = part.splitlines()[0] if path.name == "README.md" else path.name
            out.append((f"{path.name}: {title}", install, code))
    return out


PAGES = [REPO / "README.md", *sorted((REPO / "docs" / "tutorials").glob("*.md"))]
SECTIONS = [s for p in PAGES for s in _sections(p)]


@pytest.mark.parametrize(("where", "install", "code"), SECTIONS, ids=[s[0] for s in SECTIONS])
def test_each_example_imports_only_what_its_install_line_installs(
    where: str, install: str, code: str
) -> None:
    match = _INSTALL.search(install)  # no install line: the bare package
    extras = (
        {e.strip() for e in (match.group("extras") or "").split(",") if e.strip()}
        if match
        else set()
    )
    rest = match.group("rest") if match else ""
    more = [w.strip("\"'") for w in rest.split() if not w.startswith("-")]
    installed = _closure(extras, more)
    missing = {}
    for module in sorted(_imports(code) - OURS - set(sys.stdlib_module_names)):
        dists = _distributions_of(module)
        assert dists, f"{where}: {module!r} is not installed here at all"
        if not dists & installed:
            missing[module] = sorted(dists)
    assert not missing, f"{where}: `{install or 'pip install manifold-rag'}` lacks {missing}"


def test_the_check_sees_a_missing_extra() -> None:
    """The closure is real: the LlamaIndex extra does not bring LangChain, and so on."""
    langchain = _closure({"langchain"}, [])
    llamaindex = _closure({"llamaindex"}, [])
    assert {"langchain-classic", "langchain-chroma", "chromadb", "torch"} <= langchain
    assert "llama-index-core" not in langchain and "langchain-core" not in llamaindex
    assert "llama-index-vector-stores-chroma" in llamaindex
    assert "langchain-classic" in _closure(set(), ["langchain-classic"])


# --- the core needs no CLI or evaluation packages --------------------------------------

CLI_PACKAGES = {"typer", "rich"}
EVAL_PACKAGES = {"ir-measures", "pytrec-eval-terrier", "matplotlib"}
# Import names of the two extras' packages, as they appear in sys.modules.
CLI_MODULES = ("typer", "rich")
EVAL_MODULES = ("matplotlib", "ir_measures", "pytrec_eval")
# What a library user imports: the package, the store and retrieval, and what they use.
LIBRARY = [
    "manifold_core",
    "manifold_core.store",
    "manifold_core.retrieval",
    "manifold_core.encoders",
    "manifold_core.chunking",
    "manifold_core.reranking",
    "manifold_core.fusion",
    "manifold_core.packaged",
    "langchain_manifold",
    "llamaindex_manifold",
]


def _names(requirements: list[str]) -> set[str]:
    return {canonicalize_name(Requirement(r).name) for r in requirements}


def _loaded_after_importing(modules: list[str], watched: tuple[str, ...]) -> list[str]:
    """Which of ``watched`` a fresh interpreter has loaded after importing ``modules``."""
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        f"print(','.join(sorted(w for w in {watched!r} if w in sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    )
    return [m for m in out.stdout.strip().split(",") if m]


def test_cli_and_eval_extras_hold_what_only_they_need() -> None:
    project = _project()
    optional = project["optional-dependencies"]
    core = _names(project["dependencies"])
    assert _names(optional["cli"]) >= CLI_PACKAGES
    assert _names(optional["eval"]) >= EVAL_PACKAGES
    assert not core & (CLI_PACKAGES | EVAL_PACKAGES), "the core hard-requires an extra's package"
    assert {"cli", "eval"} <= set(Requirement(optional["all"][0]).extras)


def test_the_readme_set_up_installs_every_extra() -> None:
    """README command 1 (``pip install ... -e ".[dev]"``) still installs every package."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    match = re.search(r"""pip install [^\n`]*-e ["']\.\[(?P<extras>[^\]]+)\]["']""", readme)
    assert match, 'the README\'s set-up command is not `pip install ... -e ".[EXTRAS]"`'
    extras = {e.strip() for e in match.group("extras").split(",")}
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert match.group(0) in ci, ".ci/run does not run the README's set-up command"
    installed = _closure(extras, [])
    optional = _project()["optional-dependencies"]
    wanted = {n for reqs in optional.values() for n in _names(reqs)} - {"manifold-rag"}
    assert not wanted - installed, f"{match.group(0)} misses {sorted(wanted - installed)}"


def test_importing_the_library_loads_no_cli_or_eval_package() -> None:
    assert _loaded_after_importing(LIBRARY, CLI_MODULES + EVAL_MODULES) == []


def test_no_module_outside_the_cli_loads_typer_or_rich() -> None:
    modules = sorted(
        ".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
        for pkg in sorted(OURS)
        for p in (REPO / pkg).rglob("*.py")
        if "cli" not in p.relative_to(REPO).parts and p.stem != "__main__"
    )
    assert "manifold_core.evaluation" in modules
    assert _loaded_after_importing(modules, CLI_MODULES) == []


def test_the_command_without_the_cli_extra_says_what_to_install() -> None:
    code = (
        "import sys\n"
        "sys.modules['typer'] = None  # as if the [cli] extra were not installed\n"
        "try:\n"
        "    import manifold_core.cli\n"
        "except ModuleNotFoundError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert 'pip install "manifold-rag[cli]"' in out.stdout
