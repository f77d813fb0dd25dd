"""A submission's metric, loaded only the one way its card declares, with only the options its factory declares.

A card is data written by whoever submits; it must never choose code to run beyond its own metric.
- `registered`: a name the registry knows (built in, or registered by an installed entry point).
- `entry_point`: an installed `perceptbench.models` entry point of that name (of the card's `package`, if named).
- `module`: `pkg.module:factory`, where the module is a file of the installed distribution the card
  names (not perceptbench nor one of its dependencies: `torch.hub:load` is refused), the module
  the interpreter would import is that file, and `factory` is a function defined in it.
`model_kwargs` must be parameters the factory names explicitly, with JSON scalar values (the card's
model checks the values). Every refusal happens before the metric's module is imported or anything runs.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import re
import sys
from importlib.metadata import Distribution, PackageNotFoundError, distribution, entry_points, packages_distributions, requires
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

from .schema import MODULE_FACTORY, SubmissionCard

ENTRY_POINT_GROUP = "perceptbench.models"  # model_zoo.registry.ENTRY_POINT_GROUP (read there lazily, model_zoo imports torch)
REGISTERED_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


class MetricLoadRefused(ValueError):
    """The card names its metric in a way verification does not load: the message says which field and the fix."""


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@functools.cache
def _own_distributions() -> frozenset[str]:
    """perceptbench and everything it depends on, transitively: a card may not name their code as its metric."""
    seen: set[str] = set()
    todo = ["perceptbench"]
    while todo:
        name = _normalise(todo.pop())
        if name in seen:
            continue
        seen.add(name)
        try:
            listed = requires(name) or []
        except PackageNotFoundError:
            continue
        for line in listed:
            try:
                requirement = Requirement(line)
            except InvalidRequirement:
                continue
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return frozenset(seen | {"torch", "torchvision", "perceptbench"})


def _module_files(module: str) -> tuple[str, str]:
    base = module.replace(".", "/")
    return f"{base}.py", f"{base}/__init__.py"


def _distribution_file(dist: Distribution, module: str) -> Path | None:
    """The installed file of `module` in `dist` (from its RECORD), or None when the distribution does not hold it."""
    wanted = set(_module_files(module))
    for file in dist.files or []:
        if str(file) in wanted:
            return Path(str(dist.locate_file(file))).resolve()
    return None


def _imported_from(top: str) -> Path | None:
    """Where the interpreter would import the top-level module `top` from, without running it."""
    loaded = sys.modules.get(top)
    origin = getattr(loaded, "__file__", None) if loaded is not None else None
    if origin is None:
        spec = importlib.util.find_spec(top)  # a top-level name: finding it imports nothing
        origin = spec.origin if spec is not None else None
    return Path(origin).resolve() if origin else None


def _factory_parameters(source: Path, factory: str, where: str) -> tuple[str, ...]:
    """The named parameters of the top-level function `factory` in `source`, read without importing it."""
    try:
        tree = ast.parse(source.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, SyntaxError) as error:
        raise MetricLoadRefused(f"{where}: cannot read {source} ({error})") from None
    definitions = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == factory]
    if len(definitions) != 1 or factory in _other_bindings(tree):
        raise MetricLoadRefused(f"{where}: '{factory}' is not one function defined in {source}; name the factory function itself")
    arguments = definitions[0].args
    return tuple(a.arg for a in [*arguments.args, *arguments.kwonlyargs] if a.arg != "pretrained")


def _other_bindings(tree: ast.Module) -> set[str]:
    """Top-level names bound by anything but a function definition (an import or assignment could rebind a factory)."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {n.id for target in targets for n in ast.walk(target) if isinstance(n, ast.Name)}
    return names


def _module_loader(card: SubmissionCard) -> tuple[str, ...]:
    where = f"card name '{card.name}'"
    if not MODULE_FACTORY.match(card.name):
        raise MetricLoadRefused(f"{where}: a module loader needs 'package.module:factory' (identifiers only)")
    if not card.package:
        raise MetricLoadRefused(f"{where}: a module loader needs the card's 'package', the installed distribution holding the module")
    if _normalise(card.package) in _own_distributions():
        raise MetricLoadRefused(
            f"card package '{card.package}' is perceptbench or one of its dependencies; a submission names its own package"
        )
    try:
        dist = distribution(card.package)
    except PackageNotFoundError:
        raise MetricLoadRefused(f"card package '{card.package}' is not installed here; pip install it, then verify again") from None
    module, _, factory = card.name.partition(":")
    source = _distribution_file(dist, module)
    if source is None:
        raise MetricLoadRefused(f"{where}: module '{module}' is not a file of the installed distribution '{card.package}'")
    top = module.split(".")[0]
    expected_top = _distribution_file(dist, top)
    imported = _imported_from(top)
    if expected_top is None or imported != expected_top:
        raise MetricLoadRefused(
            f"{where}: '{top}' would be imported from {imported}, not from the distribution '{card.package}' ({expected_top})"
        )
    return _factory_parameters(source, factory, where)


def _entry_point_loader(card: SubmissionCard) -> tuple[str, ...]:
    found = list(entry_points(group=ENTRY_POINT_GROUP, name=card.name))
    if not found:
        raise MetricLoadRefused(f"card name '{card.name}' is not an installed {ENTRY_POINT_GROUP} entry point; pip install its package")
    owner = found[0].dist.name if found[0].dist is not None else None
    if card.package and (owner is None or _normalise(owner) != _normalise(card.package)):
        raise MetricLoadRefused(f"entry point '{card.name}' belongs to '{owner}', not to the card's package '{card.package}'")
    from model_zoo.registry import declared_options

    return declared_options(card.name)


def _registered_loader(card: SubmissionCard) -> tuple[str, ...]:
    from model_zoo.registry import declared_options, list_models

    if not REGISTERED_NAME.match(card.name) or card.name not in list_models():
        raise MetricLoadRefused(f"card name '{card.name}' is not a registered model (`bench models` lists them); fix the card's loader")
    return declared_options(card.name)


LOADER_CHECKS = {"registered": _registered_loader, "entry_point": _entry_point_loader, "module": _module_loader}


def check_metric_loader(card: SubmissionCard) -> None:
    """Refuse, in one line, a card whose metric is not loadable the way it declares or whose model_kwargs its factory does not name."""
    declared = LOADER_CHECKS[card.loader](card)
    unknown = sorted(set(card.model_kwargs) - set(declared))
    if unknown:
        accepted = ", ".join(declared) or "none"
        raise MetricLoadRefused(
            f"card model_kwargs {', '.join(repr(u) for u in unknown)} are not parameters of '{card.name}' (it declares: {accepted})"
        )


def describe_loader(name: str) -> tuple[str, str | None]:
    """(loader, package) that a card records for the metric `name` as `bench submit` was given it."""
    if ":" in name:
        top = name.partition(":")[0].split(".")[0]
        owners = packages_distributions().get(top) or []
        if len(owners) != 1:
            raise MetricLoadRefused(
                f"'{top}' (model '{name}') is not a module of exactly one installed distribution; "
                "make the metric a package (pip install -e .) or give it a perceptbench.models entry point"
            )
        return "module", owners[0]
    found = list(entry_points(group=ENTRY_POINT_GROUP, name=name))
    if found:
        return "entry_point", found[0].dist.name if found[0].dist is not None else None
    return "registered", None
