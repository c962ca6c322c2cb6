"""The house's rules, read from the source (ARCHITECTURE.md): lower layers never import higher
ones, no module or package of ``bench`` imports itself back through others, and nothing outside
the pytest layer (``bench.pytest``) imports it or pytest's private modules.

Every import counts: at module level, inside a function (a lazy import is still a dependency) and
under ``if TYPE_CHECKING`` (a type from a higher layer is still knowledge of it).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"

LAYERS: dict[str, int] = {
    # below everything: the framework's exceptions and the DID table every layer speaks
    "errors": 0, "durable": 0, "dids": 0, "keys": 0, "registry": 0, "routine_status": 0,
    "allocator": 0,  # glibc malloc settings of the process (issue 17)
    "collector": 0,  # the cyclic garbage collector of the process (issue 17)
    "config": 1,
    "transport": 2, "console": 2,
    "image": 3,
    "power": 4, "instruments": 4,
    "sim": 5, "monitor": 5, "gateway": 5,
    "doip": 5,
    "ethernet": 5,  # the DoIP TCP relay with faults, its pcapng evidence (issue 15)
    "flash": 6,
    "rig": 7,
    "faults": 8, "vehicle": 8,
    "scenarios": 9,
    "report": 10,
    "nightly": 11,
    "pytest": 12,
    "cli": 13, "__main__": 13,
}
"""The rank of every package and top-level module of ``bench``: each may import its own rank
and lower ones. ``bench/__init__.py`` is the package itself and imports nothing of it."""


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_in(tree: ast.AST) -> Iterable[tuple[tuple[str, ...], int]]:
    """Every import anywhere in ``tree``: what it may name, most precise first, and its line.
    ``from M import n`` names the module ``M.n`` if there is one, else ``M``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield (alias.name,), node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module is not None and node.level == 0:
            for alias in node.names:
                yield (f"{node.module}.{alias.name}", node.module), node.lineno


def import_graph(root: Path) -> dict[str, dict[str, int]]:
    """Module -> {imported module of ``bench``: line of the first import}."""
    sources = {module_name(path, root): path for path in sorted(root.rglob("*.py"))}
    graph: dict[str, dict[str, int]] = {}
    for name, path in sources.items():
        edges: dict[str, int] = {}
        for candidates, line in imports_in(ast.parse(path.read_text(), filename=str(path))):
            target = next((candidate for candidate in candidates if candidate in sources), None)
            if target is not None and target != name:
                edges.setdefault(target, line)
        graph[name] = edges
    return graph


def unit_of(module: str) -> str:
    """The package or top-level module of ``bench`` that ``module`` belongs to."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def find_cycle(graph: Mapping[str, Iterable[str]]) -> list[str] | None:
    """One cycle of ``graph`` as the list of its nodes (first repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def package_graph(graph: Mapping[str, Mapping[str, int]]) -> dict[str, set[str]]:
    units: dict[str, set[str]] = {}
    for module, edges in graph.items():
        if module == "bench":
            continue
        units.setdefault(unit_of(module), set()).update(
            unit_of(target) for target in edges if target != "bench" and unit_of(target) != unit_of(module))
    return units


def layer_violations(graph: Mapping[str, Mapping[str, int]], layers: Mapping[str, int]) -> list[str]:
    found = []
    for module, edges in sorted(graph.items()):
        for target, line in sorted(edges.items()):
            if module == "bench" or target == "bench":
                continue
            low, high = unit_of(module), unit_of(target)
            if layers[high] > layers[low]:
                found.append(f"{module} (line {line}) imports {target}: layer {low!r} ({layers[low]}) is "
                             f"below {high!r} ({layers[high]})")
    return found


def pytest_layer_importers(graph: Mapping[str, Mapping[str, int]]) -> list[str]:
    return [f"{module} (line {line}) imports {target}" for module, edges in sorted(graph.items())
            if unit_of(module) != "pytest" for target, line in sorted(edges.items()) if unit_of(target) == "pytest"]


def private_pytest_importers(root: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        module = module_name(path, root)
        if unit_of(module) == "pytest":
            continue
        for candidates, line in imports_in(ast.parse(path.read_text())):
            name = candidates[-1]  # the module itself, not a name in it
            if name == "_pytest" or name.startswith("_pytest."):
                found.append(f"{module} (line {line}) imports {name}")
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, dict[str, int]]:
    return import_graph(BENCH)


def test_every_package_of_bench_has_a_layer(graph: dict[str, dict[str, int]]) -> None:
    units = {unit_of(module) for module in graph if module != "bench"}
    assert units <= LAYERS.keys(), (
        f"give {', '.join(sorted(units - LAYERS.keys()))} a layer in tests/test_architecture.py LAYERS "
        "(and ARCHITECTURE.md)")


def test_no_import_circle_between_modules(graph: dict[str, dict[str, int]]) -> None:
    cycle = find_cycle(graph)
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


def test_no_import_circle_between_packages(graph: dict[str, dict[str, int]]) -> None:
    cycle = find_cycle(package_graph(graph))
    assert cycle is None, "import circle between packages: " + " -> ".join(cycle or [])


def test_lower_layers_never_import_higher_ones(graph: dict[str, dict[str, int]]) -> None:
    assert layer_violations(graph, LAYERS) == []


def test_nothing_outside_the_pytest_layer_imports_it(graph: dict[str, dict[str, int]]) -> None:
    assert pytest_layer_importers(graph) == []


def test_the_pytest_layers_shared_state_is_a_leaf(graph: dict[str, dict[str, int]]) -> None:
    """Fixtures, scenario items and hooks share ``run_state`` without importing one another back."""
    assert [target for target in graph["bench.pytest.run_state"] if unit_of(target) == "pytest"] == []


def test_only_the_pytest_layer_imports_pytest_internals() -> None:
    assert private_pytest_importers(BENCH) == []


def test_the_pytest_layer_imports_the_real_pytest() -> None:
    """``bench/pytest`` is ``bench.pytest``: in its modules ``import pytest`` is pytest itself."""
    code = ("import bench.pytest.plugin, bench.pytest.fixtures, pytest, sys; "
            "print(pytest.__file__); print(sys.modules['bench.pytest.plugin'].pytest.__file__)")
    lines = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           cwd=BENCH.parent).stdout.split()
    assert len(lines) == 2 and lines[0] == lines[1] and BENCH not in Path(lines[0]).parents, lines


# The checks above must fail when the rule is broken: shown on a small package built for it.

def write_package(root: Path, files: Mapping[str, str]) -> Path:
    package = root / "bench"
    for name, text in files.items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return package


def test_a_circle_through_a_lazy_import_is_found(tmp_path: Path) -> None:
    package = write_package(tmp_path, {
        "__init__.py": "", "sim/__init__.py": "", "config/__init__.py": "",
        "sim/ecu.py": "from bench.config.models import EcuConfig\n",
        "config/models.py": "def mutant():\n    from bench.sim import ecu\n",
    })
    graph = import_graph(package)
    assert find_cycle(graph) == ["bench.config.models", "bench.sim.ecu", "bench.config.models"]
    assert find_cycle(package_graph(graph)) == ["config", "sim", "config"]
    assert layer_violations(graph, LAYERS) == [
        "bench.config.models (line 2) imports bench.sim.ecu: layer 'config' (1) is below 'sim' (5)"]


def test_a_domain_module_importing_the_pytest_layer_is_found(tmp_path: Path) -> None:
    package = write_package(tmp_path, {
        "__init__.py": "", "pytest/__init__.py": "", "report/__init__.py": "",
        "pytest/run_state.py": "import pytest\nHELD = pytest.StashKey()\n",
        "report/labels.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                            "    from bench.pytest.run_state import HELD\n",
        "report/junit.py": "from _pytest.junitxml import xml_key\n",
    })
    graph = import_graph(package)
    assert pytest_layer_importers(graph) == ["bench.report.labels (line 3) imports bench.pytest.run_state"]
    assert private_pytest_importers(package) == ["bench.report.junit (line 1) imports _pytest.junitxml"]
    assert find_cycle(graph) is None
