"""The layers import downwards only, and no modules import each other in a circle (README's "Layout").

Every import of every first-party module counts, read from its source (`ast`): module-level, inside a function
(the CLI's and the runner's lazy imports) and under `if TYPE_CHECKING:` (a type is a dependency too). A circle
counts only imports that run, so a `TYPE_CHECKING` import back is not one. Tests and scripts (benchmarks/) may
import anything.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("model_zoo", "attacks", "benchmark", "leaderboard", "finetune")

# Lowest first: a module may import its own layer and those below it. A module belongs to the layer of its longest
# matching prefix.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("model_zoo", ("model_zoo",)),  # metrics: one interface, a registry, a module per family; knows nothing of attacks
    ("attacks", ("attacks",)),  # APGD, Square, losses, threat models, the ensemble: any differentiable loss over a batch
    ("benchmark.runtime", ("benchmark.runtime",)),  # atomic writes, checkpoints, torchrun sharding, devices, environment
    ("benchmark", ("benchmark",)),  # the core: datasets, tasks, runner, results and their schema, statistics, checks
    ("finetune", ("finetune",)),  # training a metric on the core's datasets and runtime
    ("benchmark.submissions", ("benchmark.submissions",)),  # someone else's metric: checked, evaluated, verified
    ("leaderboard", ("leaderboard",)),  # reads result files, submissions and the paper's numbers; never a live registry
    ("benchmark.paper", ("benchmark.paper",)),  # the paper's tables: plans over the runner, compared with the reported numbers
    ("benchmark.cli", ("benchmark.cli", "benchmark.__main__")),  # every click group, the top floor
]

# Import circles allowed, each as the one import that closes it (importer, imported), with why. Any other circle fails.
ALLOWED_CIRCLES: dict[tuple[str, str], str] = {
    ("model_zoo.registry", "model_zoo.families"): "family registration: the first lookup imports every family module, whose "
    "`@register_model` factories import the registry back (timm's pattern); a new family is one module",
    ("model_zoo.registry", "model_zoo.trained_folder"): "the same circle for a `bench finetune` folder named by its path: the "
    "registry's lookup asks trained_folder.py for its factory, which registers it and builds on the clip family",
    ("benchmark.datasets.registry", "benchmark.datasets.builtin"): "dataset registration, the same pattern: the first lookup "
    "imports the built-in datasets' module, which registers them with the registry",
}


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int
    runs: bool  # False under `if TYPE_CHECKING:`

    def __str__(self) -> str:
        return f"{self.importer} (line {self.line}) imports {self.imported}"


def module_files(root: Path = ROOT) -> dict[str, Path]:
    """Every first-party module by dotted name."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def layer_of(module: str) -> int:
    """The index in `LAYERS` of the longest prefix that `module` falls under."""
    matches = [
        (len(prefix), index)
        for index, (_, prefixes) in enumerate(LAYERS)
        for prefix in prefixes
        if module == prefix or module.startswith(prefix + ".")
    ]
    if not matches:
        raise AssertionError(f"{module} is in no layer: add its package to LAYERS in tests/test_layers.py")
    return max(matches)[1]


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def imports_of(module: str, source: str, modules: set[str], is_package: bool = False) -> list[Import]:
    """The first-party modules `source` (the text of `module`) imports, each as the module file it reaches."""

    def known(name: str) -> str:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name

    tree = ast.parse(source)
    type_only = _type_checking_lines(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [known(alias.name) for alias in node.names if alias.name.split(".")[0] in PACKAGES]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            if origin.split(".")[0] not in PACKAGES:
                continue
            # `from benchmark.runtime import atomic` reaches the module atomic; `from .results import X`, results
            targets = [f"{origin}.{alias.name}" if f"{origin}.{alias.name}" in modules else known(origin) for alias in node.names]
        else:
            continue
        found += [Import(module, target, node.lineno, node.lineno not in type_only) for target in targets if target and target != module]
    return found


@pytest.fixture(scope="module")
def graph() -> list[Import]:
    files = module_files()
    names = set(files)
    return [edge for name, path in files.items() for edge in imports_of(name, path.read_text(), names, path.name == "__init__.py")]


def upward(edges: list[Import]) -> list[str]:
    found = [
        f"{edge} from a higher layer ({LAYERS[layer_of(edge.importer)][0]} < {LAYERS[layer_of(edge.imported)][0]})"
        for edge in edges
        if layer_of(edge.imported) > layer_of(edge.importer)
    ]
    return list(dict.fromkeys(found))  # one line for `from .x import a, b`


def circles(edges: list[Import]) -> list[list[str]]:
    """The strongly connected components (more than one module) of the imports that run (Tarjan)."""
    successors: dict[str, set[str]] = {}
    for edge in edges:
        if edge.runs:
            successors.setdefault(edge.importer, set()).add(edge.imported)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for successor in sorted(successors.get(node, ())):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(successors):
        if node not in index:
            visit(node)
    return found


def test_every_module_is_in_a_layer(graph):
    modules = module_files()
    assert len(modules) > 100, "the walk found too few modules: is ROOT the repository?"
    for name in modules:
        layer_of(name)


def test_imports_run_downwards(graph):
    found = upward(graph)
    assert not found, "imports from a lower layer to a higher one (move the shared piece down, or the importer up):\n" + "\n".join(found)


def test_no_import_circle_but_the_allowed_ones(graph):
    kept = [edge for edge in graph if (edge.importer, edge.imported) not in ALLOWED_CIRCLES]
    found = circles(kept)
    assert not found, "modules importing each other in a circle:\n" + "\n".join(" <-> ".join(c) for c in found)


@pytest.mark.parametrize("edge", sorted(ALLOWED_CIRCLES))
def test_each_allowed_circle_still_exists(graph, edge):
    """An exception that no longer closes a circle is removed from the list, so the list says what is true."""
    assert any(found[0] in c and found[1] in c for c in circles(graph) for found in [edge]), (
        f"{edge[0]} -> {edge[1]} closes no circle any more: remove it from ALLOWED_CIRCLES"
    )


def test_the_checker_finds_a_function_level_upward_import():
    """A lazy import inside a function counts: runtime reaching up into the CLI is named with its line."""
    source = "def f():\n    from ..cli.bench import main\n    return main\n"
    modules = {"benchmark.runtime.atomic", "benchmark.cli.bench", "benchmark.cli", "benchmark", "benchmark.runtime"}
    edges = imports_of("benchmark.runtime.atomic", source, modules)
    assert [str(e) for e in edges] == ["benchmark.runtime.atomic (line 2) imports benchmark.cli.bench"]
    assert upward(edges) == [
        "benchmark.runtime.atomic (line 2) imports benchmark.cli.bench from a higher layer (benchmark.runtime < benchmark.cli)"
    ]


def test_the_checker_finds_a_circle_and_ignores_type_checking_imports():
    modules = {"benchmark.runner", "benchmark.gallery"}
    runner = imports_of("benchmark.runner", "def f():\n    from .gallery import save\n", modules)
    typed = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .runner import Run\n"
    assert circles(runner + imports_of("benchmark.gallery", typed, modules)) == []
    assert circles(runner + imports_of("benchmark.gallery", "from .runner import Run\n", modules)) == [
        ["benchmark.gallery", "benchmark.runner"]
    ]
