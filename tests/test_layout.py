"""The package's shape: what may sit at its top, imports that run one way (adapters → session → collectors,
store, render → analysis, export, importers → model → clock), tests that mirror the packages, and
`python -m workbench` as the CLI."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "workbench"

# The modules allowed at the package's top, each with the one line that justifies it.
TOP_MODULES = {
    "__init__": "the public API (`import workbench as wb`)",
    "__main__": "`python -m workbench`",
    "cli": "the `workbench` command",
    "pytest_plugin": "the pytest plugin, registered by its entry point",
    "api": "the public face: `wb.span`, `wb.llm_request`",
    "profile": "the public face: `wb.profile`",
    "active": "leaf: the one variable holding the active run's recorder",
    "clock": "leaf: the run's one clock",
}

# Each unit (a top-level module or a package) and its layer: a unit imports only units of its own layer
# or below. Within a layer the graph must still have no circle.
LAYERS = {
    "clock": 0,
    "model": 1,
    "active": 1,
    "api": 1,
    "analysis": 2,
    "export": 2,
    "importers": 2,
    "collectors": 3,
    "instrument": 3,
    "store": 3,
    "render": 3,
    "options": 3,
    "session": 4,
    "saved": 5,
    "profile": 5,
    "serve": 6,
    "notebook": 6,
    "cli": 6,
    "server_ext": 6,
    "pytest_plugin": 6,
    "__main__": 7,
    "workbench": 7,
}


def _unit(module: str) -> str:
    parts = module.split(".")
    return "workbench" if len(parts) == 1 else parts[1]


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_edges() -> dict[str, set[tuple[str, str]]]:
    """unit -> {(imported unit, importing module)}, lazy imports inside functions included."""
    edges: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for path in PACKAGE.rglob("*.py"):
        module = _module_name(path)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                if name.split(".")[0] == "workbench" and _unit(name) != _unit(module):
                    edges[_unit(module)].add((_unit(name), module))
    return edges


def test_the_package_top_holds_only_the_public_face_and_leaves() -> None:
    top = {p.stem for p in PACKAGE.glob("*.py")}
    assert top == set(TOP_MODULES), f"unexpected at the top: {sorted(top - set(TOP_MODULES))}"
    assert not (ROOT / "src").exists()


def test_every_unit_has_a_layer_and_a_docstring() -> None:
    packages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert packages - {"labextension"} <= set(LAYERS)
    for package in packages:
        init = PACKAGE / package / "__init__.py"
        assert ast.get_docstring(ast.parse(init.read_text())), f"{package}/__init__.py has no docstring"
    for path in PACKAGE.rglob("*.py"):
        if path.stat().st_size and path.name != "__init__.py":
            assert ast.get_docstring(ast.parse(path.read_text())), (
                f"{path.relative_to(ROOT)} has no docstring"
            )


def test_imports_run_one_way() -> None:
    upward = [
        f"{module} imports {target} ({LAYERS[target]} > {LAYERS[unit]})"
        for unit, targets in _import_edges().items()
        for target, module in targets
        if LAYERS[target] > LAYERS[unit]
    ]
    assert upward == []


def test_the_units_import_each_other_without_a_circle() -> None:
    graph = {unit: {target for target, _ in targets} for unit, targets in _import_edges().items()}
    visiting: set[str] = set()
    done: set[str] = set()

    def visit(unit: str, path: list[str]) -> None:
        if unit in done:
            return
        assert unit not in visiting, f"import circle: {' -> '.join([*path, unit])}"
        visiting.add(unit)
        for target in sorted(graph.get(unit, ())):
            visit(target, [*path, unit])
        visiting.discard(unit)
        done.add(unit)

    for unit in sorted(graph):
        visit(unit, [])


def test_the_tests_mirror_the_packages() -> None:
    tests = ROOT / "tests"
    for folder in tests.rglob("*"):
        if folder.is_dir() and any(folder.glob("test_*.py")) and folder != tests:
            relative = folder.relative_to(tests)
            assert (PACKAGE / relative).is_dir(), f"tests/{relative} mirrors no package"


def test_python_dash_m_workbench_runs_the_cli(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "workbench", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: workbench")
    assert "runs" in result.stdout
