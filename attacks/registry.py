"""Attacks by name: `@register_attack` on a runner, `run_attack` for every task, the `perceptbench.attacks` entry points.

A runner takes `(config, objective, x, sample_ids)` and returns an `AttackResult` for the batch `x`
(the images at `sample_ids` of the dataset). Each built-in attack registers itself in its own module
(apgd.py, apgd_targeted.py, square.py, reference.py, ensemble.py); a third party adds one with
`register_attack` in a module named by an entry point of the group `perceptbench.attacks`. Light:
the attack modules (and torch) load on the first lookup, not on import.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import Tensor

    from .config import AttackConfig
    from .objective import Objective
    from .restarts import AttackResult

ENTRY_POINT_GROUP = "perceptbench.attacks"
BUILTIN_MODULES = ("attacks.apgd", "attacks.apgd_targeted", "attacks.square", "attacks.reference", "attacks.ensemble")
LOSSES = ("ce", "margin")

AttackRunner = Callable[["AttackConfig", "Objective", "Tensor", Sequence[int]], "AttackResult"]


@dataclass(frozen=True)
class AttackSpec:
    """What the benchmark knows of an attack: how to run it and what its configuration means.

    `loss`: the classification loss tasks build their objective with ('ce' or 'margin').
    `query_budget`: `n_iter` is a number of queries (Square), not of iterations.
    `config_fields`: fields of `AttackConfig` beyond the common ones that its record keeps (the ensemble's `square_queries`).
    `unattacked_columns`: for attacks whose results carry per-sample columns, the columns of a sample it never
    attacked, given whether the objective reports success (`success_based`) and the task's number of classes.
    """

    name: str
    run: AttackRunner
    loss: str = "ce"
    query_budget: bool = False
    config_fields: tuple[str, ...] = ()
    unattacked_columns: Callable[[bool, int | None], dict[str, Any]] | None = None


_ATTACKS: dict[str, AttackSpec] = {}
_loaded = False


def register_attack(
    name: str,
    *,
    loss: str = "ce",
    query_budget: bool = False,
    config_fields: tuple[str, ...] = (),
    unattacked_columns: Callable[[bool, int | None], dict[str, Any]] | None = None,
) -> Callable[[AttackRunner], AttackRunner]:
    """Register the decorated runner as attack `name` (a name taken twice is an error: it would hide an attack)."""
    if loss not in LOSSES:
        raise ValueError(f"attack '{name}': unknown loss '{loss}'; choose one of {', '.join(LOSSES)}")

    def decorator(run: AttackRunner) -> AttackRunner:
        if name in _ATTACKS and _ATTACKS[name].run is not run:
            raise ValueError(f"attack '{name}' is registered twice ({_ATTACKS[name].run.__module__} and {run.__module__}); rename one")
        _ATTACKS[name] = AttackSpec(name, run, loss, query_budget, config_fields, unattacked_columns)
        return run

    return decorator


def _load() -> None:
    """Import the built-in attack modules and the third parties' entry points, once."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    from model_zoo.plugins import load_registry  # here, not at the top: model_zoo's package loads torch

    load_registry(BUILTIN_MODULES, ENTRY_POINT_GROUP, _register_entry_point)


def _register_entry_point(name: str, loaded: Any) -> None:
    """An entry point that names a runner (not a module whose import registers attacks): registered under its name."""
    if callable(loaded) and name not in _ATTACKS:
        register_attack(name)(loaded)


def list_attacks() -> tuple[str, ...]:
    """Every registered attack name: the built-in ones in the order of `BUILTIN_MODULES` (whichever was imported first),
    then third parties' in registration order."""
    _load()
    order = {name: position for position, name in enumerate(_ATTACKS)}

    def key(name: str) -> tuple[int, int]:
        module = _ATTACKS[name].run.__module__
        rank = BUILTIN_MODULES.index(module) if module in BUILTIN_MODULES else len(BUILTIN_MODULES)
        return rank, order[name]

    return tuple(sorted(_ATTACKS, key=key))


def find_attack(name: str) -> AttackSpec | None:
    """The attack `name`, or None when no installed package registers it (a result file may name one)."""
    _load()
    return _ATTACKS.get(name)


def get_attack(name: str) -> AttackSpec:
    """The attack `name`; an unknown name is an error with the closest names and the full list."""
    spec = find_attack(name)
    if spec is None:
        close = difflib.get_close_matches(name, list(_ATTACKS), n=3, cutoff=0.5)
        hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
        raise ValueError(f"unknown attack '{name}'; {hint}choose one of {', '.join(list_attacks())}")
    return spec


def run_attack(config: AttackConfig, objective: Objective, x: Tensor, sample_ids: Sequence[int]) -> AttackResult:
    """Attack the batch `x` (images at `sample_ids` of the dataset) as `config` says.

    The objective says which way its loss goes (`maximize`, default True). For Square attacks
    `n_iter` is the query budget per sample; the `-reference` attacks run AutoAttack's own code.
    """
    return get_attack(config.name).run(config, objective, x, sample_ids)
