"""The package's shape: no import cycle inside mlcore/, the public paths users' scripts
import, small CLI modules, and a package root that holds only entry points and the few
shared utilities.

The import graph is read from the source with `ast` (nothing is imported to build it), so
a lazy import inside a function counts as much as a top-level one: a circle closed by a
lazy import still means neither module can be understood, or moved, without the other.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mlcore"

# The package root: entry points (api.py, cli/, __main__.py) and shared utilities. Anything
# else belongs beside the part it serves (mlcore/models/, mlcore/training/, ...).
ROOT_MODULES = {
    "__init__.py",
    "__main__.py",
    "api.py",  # train / resume / evaluate
    "atomic.py",  # atomic file writes
    "child_env.py",  # environment of the processes mlcore starts
    "errors.py",  # the project's error types
    "interrupts.py",  # Ctrl-C handling
    "metrics.py",  # the public metrics path of DESIGN.md, a re-export
    "optim.py",  # optimizers and schedulers by name
    "progress.py",  # how training looks in a terminal
    "runs.py",  # `mlcore runs`
}
ROOT_PACKAGES = {
    "cli", "config", "data", "evaluation", "inspection", "memory", "models", "plots",
    "sweep", "training",
}  # fmt: skip

MAX_CLI_LINES = 300  # STYLE.md: modules under ~300 lines


def module_files(package: Path = PACKAGE) -> dict[str, Path]:
    """Dotted module name -> file, for every module under `package` (a package is its
    __init__.py)."""
    modules = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _ancestors(name: str) -> list[str]:
    """mlcore.a.b -> [mlcore, mlcore.a]: the packages whose __init__ runs before it."""
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _resolve(module: str, is_package: bool, level: int, target: str | None) -> str:
    """The absolute name of a relative import (`from ..x import y` in mlcore.a.b)."""
    if level == 0:
        return target or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def imported_names(module: str, path: Path, known: set[str]) -> set[str]:
    """The mlcore modules `module` imports anywhere in its file: top level, inside
    functions, under `if TYPE_CHECKING`. `from x import y` is an import of x.y when y is a
    submodule, else of x; a string that is a module's full name counts too (it is there to
    be imported by name: `importlib.import_module(module)`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, is_package, node.level, node.module)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in known else base)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.add(node.value)  # a module named to importlib (the CLI's renderers)
    return {name for name in found if name in known}


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """module -> the mlcore modules whose code runs because it imports them.

    Importing mlcore.a.b.c also runs mlcore.a's and mlcore.a.b's __init__, so those are
    edges too, except the packages that hold the importer: they are already being
    imported when its code runs (a package's __init__ importing its own submodules, which
    import each other, is not a circle). A submodule that imports its own package by name
    (`from mlcore.models import build_model` inside mlcore/models/) does get the edge: that
    reads a half-initialized __init__ when the __init__ is what imported it.
    """
    files = module_files(package)
    known = set(files)
    graph = {}
    for module, path in files.items():
        own = set(_ancestors(module)) | {module}
        edges = set()
        for target in imported_names(module, path, known):
            edges.add(target)
            edges.update(p for p in _ancestors(target) if p not in own)
        edges.discard(module)
        graph[module] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as [a, b, ..., a], or None (depth-first search, three colours)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_graph_sees_lazy_relative_and_submodule_imports(tmp_path):
    """The graph builder on a small package of its own: a lazy import inside a function,
    a relative `from . import sub`, and a package __init__ re-exporting its submodule."""
    pkg = tmp_path / "mlcore"
    (pkg / "a").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a" / "__init__.py").write_text("from mlcore.a.x import f\n")
    (pkg / "a" / "x.py").write_text("from . import y\n\ndef f():\n    from mlcore.b import g\n")
    (pkg / "a" / "y.py").write_text("import mlcore.a.x\n")  # x <-> y, at top level
    (pkg / "b.py").write_text("def g():\n    import mlcore.a.y\n")
    graph = import_graph(pkg)
    assert graph["mlcore.a"] == {"mlcore.a.x"}  # its own submodule: no edge back
    assert graph["mlcore.a.x"] == {"mlcore.a.y", "mlcore.b"}
    assert graph["mlcore.b"] == {"mlcore.a.y", "mlcore.a"}  # a/__init__ runs first
    assert find_cycle(graph) == ["mlcore.a.x", "mlcore.a.y", "mlcore.a.x"]
    (pkg / "a" / "y.py").write_text("")  # b -> a.y runs a/__init__ -> a.x -> (lazily) b
    assert find_cycle(import_graph(pkg)) == ["mlcore.a", "mlcore.a.x", "mlcore.b", "mlcore.a"]
    (pkg / "b.py").write_text("")
    assert find_cycle(import_graph(pkg)) is None


def test_no_import_cycle_inside_mlcore():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_module_names_in_strings_resolve():
    """A string that spells an mlcore path (a renderer the CLI imports by name) names a
    module, or a module and one of its attributes: a moved module leaves none behind."""
    known = set(module_files())
    stale = []
    for module, path in module_files().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Constant) or not isinstance(node.value, str):
                continue
            name = node.value
            if not re.fullmatch(r"mlcore(\.\w+)+", name) or name in known:
                continue
            owner, attr = name.rsplit(".", 1)
            found = owner in known - {"mlcore"} and hasattr(importlib.import_module(owner), attr)
            if not found:
                stale.append(f"{module}:{node.lineno}: {name!r}")
    assert not stale, "strings naming no mlcore module: " + "; ".join(stale)


# Public paths and the names users' scripts import from them: DESIGN.md's Python API, the
# API's train (resume=...) and evaluate_run, the `mlcore` / `python cli.py` entry point, and
# the registries and config loader the tests and benchmarks build from.
PUBLIC = {
    "mlcore.metrics": [
        "confusion_matrix", "classification_report", "segmentation_report",
        "regression_report", "ConfusionAccumulator", "RegressionAccumulator",
    ],
    "mlcore.api": ["train", "evaluate_run", "build_parts_from", "SilentReporter"],
    "mlcore.cli": ["main"],
    "mlcore.models": ["MODELS", "build_model"],
    "mlcore.config": ["load_config", "Config"],
    "mlcore.inspection.summary": ["summarize", "ModelSummary"],
    "mlcore.inspection.summary_table": ["render_summary"],
    "mlcore.evaluation.sampling": ["sample_run"],
}  # fmt: skip


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_public_paths_hold_their_names(module):
    mod = importlib.import_module(module)
    missing = [name for name in PUBLIC[module] if not hasattr(mod, name)]
    assert not missing, f"{module} lacks {missing}"


def test_design_api_signatures_and_keys():
    """DESIGN.md: confusion_matrix(preds, target, num_classes, ignore_index=None) ->
    LongTensor[C, C] (rows = true class); the reports hold the keys it lists; train resumes."""
    import torch

    from mlcore import api, metrics

    params = inspect.signature(metrics.confusion_matrix).parameters
    assert list(params)[:4] == ["preds", "target", "num_classes", "ignore_index"]
    assert params["ignore_index"].default is None
    assert "resume" in inspect.signature(api.train).parameters
    cm = metrics.confusion_matrix(torch.tensor([0, 1, 1]), torch.tensor([0, 0, 1]), 2)
    assert cm.dtype == torch.int64 and cm.tolist() == [[1, 1], [0, 1]]
    report = metrics.classification_report(cm)
    assert {"accuracy", "macro", "micro", "weighted", "per_class", "confusion_matrix"} <= set(
        report
    )
    seg = metrics.segmentation_report(cm)
    assert {"pixel_accuracy", "mean_accuracy", "iou", "miou", "confusion_matrix"} <= set(seg)


def test_package_root_holds_only_entry_points_and_shared_utilities():
    modules = {p.name for p in PACKAGE.glob("*.py")}
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert modules <= ROOT_MODULES, f"not an entry point or shared: {modules - ROOT_MODULES}"
    assert packages <= ROOT_PACKAGES, f"new package at the root: {packages - ROOT_PACKAGES}"


def test_cli_modules_are_small():
    cli = PACKAGE / "cli"
    if not (cli / "__init__.py").is_file():
        pytest.skip("mlcore/cli/ is not a package yet")
    long = {
        str(p.relative_to(PACKAGE)): n
        for p in sorted(cli.rglob("*.py"))
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_CLI_LINES
    }
    assert not long, f"over {MAX_CLI_LINES} lines: {long}"
