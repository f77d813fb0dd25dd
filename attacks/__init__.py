"""Attacks on perceptual metrics: APGD for any loss, APGD-T, Square, and the losses they optimise.

Lazy: importing the package (or a light submodule such as `attacks.defaults` or `attacks.registry`)
loads no torch; each name below is imported on first use. `apgd` and `square` name both a submodule
and its function: the package keeps the function under the name (as `from attacks import apgd` always
gave), also after the import system has loaded the submodule.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the same names for type checkers; at run time __getattr__ imports each on first use
    from .apgd import apgd, project
    from .config import AttackConfig
    from .defaults import STANDARD
    from .ensemble import EnsembleRecord, EnsembleResult, ensemble_columns
    from .losses import (
        TargetedEmbeddingObjective,
        TwoAFCObjective,
        UntargetedEmbeddingObjective,
        twoafc_cross_entropy,
        twoafc_margin,
        twoafc_predictions,
    )
    from .objective import LossSwitchable, Objective, ObjectiveOutput, Subset
    from .registry import get_attack, list_attacks, register_attack, run_attack
    from .restarts import APGDResult, AttackResult
    from .square import square
    from .threat import ThreatModel, parse_eps

# name -> module
_EXPORTS = {
    "apgd": ".apgd",
    "project": ".apgd",
    "AttackConfig": ".config",
    "STANDARD": ".defaults",
    "EnsembleRecord": ".ensemble",
    "EnsembleResult": ".ensemble",
    "ensemble_columns": ".ensemble",
    "TargetedEmbeddingObjective": ".losses",
    "TwoAFCObjective": ".losses",
    "UntargetedEmbeddingObjective": ".losses",
    "twoafc_cross_entropy": ".losses",
    "twoafc_margin": ".losses",
    "twoafc_predictions": ".losses",
    "LossSwitchable": ".objective",
    "Objective": ".objective",
    "ObjectiveOutput": ".objective",
    "Subset": ".objective",
    "get_attack": ".registry",
    "list_attacks": ".registry",
    "register_attack": ".registry",
    "run_attack": ".registry",
    "APGDResult": ".restarts",
    "AttackResult": ".restarts",
    "square": ".square",
    "ThreatModel": ".threat",
    "parse_eps": ".threat",
}
_FUNCTIONS_NAMED_LIKE_MODULES = ("apgd", "square")

__all__ = [
    "APGDResult",
    "AttackConfig",
    "AttackResult",
    "EnsembleRecord",
    "EnsembleResult",
    "LossSwitchable",
    "Objective",
    "ObjectiveOutput",
    "STANDARD",
    "Subset",
    "TargetedEmbeddingObjective",
    "ThreatModel",
    "TwoAFCObjective",
    "UntargetedEmbeddingObjective",
    "apgd",
    "ensemble_columns",
    "get_attack",
    "list_attacks",
    "parse_eps",
    "project",
    "register_attack",
    "run_attack",
    "square",
    "twoafc_cross_entropy",
    "twoafc_margin",
    "twoafc_predictions",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    globals()[name] = value
    return value


class _Package(types.ModuleType):
    """The package's module type: loading submodule `attacks.apgd` does not rebind the name `apgd` from the function to it."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _FUNCTIONS_NAMED_LIKE_MODULES and isinstance(value, types.ModuleType):
            return  # the module stays reachable as sys.modules["attacks.apgd"] and through `from attacks.apgd import ...`
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
