"""Attacks on perceptual metrics: APGD for any loss, APGD-T, Square, and the losses they optimise."""

from .apgd import apgd, project
from .config import ATTACKS, AttackConfig, run_attack
from .ensemble import STANDARD, EnsembleResult, Subset, ensemble_columns
from .losses import (
    TargetedEmbeddingObjective,
    TwoAFCObjective,
    UntargetedEmbeddingObjective,
    twoafc_cross_entropy,
    twoafc_margin,
    twoafc_predictions,
)
from .objective import Objective, ObjectiveOutput
from .restarts import APGDResult, AttackResult
from .square import square
from .threat import ThreatModel, parse_eps

__all__ = [
    "ATTACKS",
    "AttackConfig",
    "run_attack",
    "STANDARD",
    "EnsembleResult",
    "Subset",
    "ensemble_columns",
    "APGDResult",
    "AttackResult",
    "Objective",
    "ObjectiveOutput",
    "ThreatModel",
    "TargetedEmbeddingObjective",
    "TwoAFCObjective",
    "UntargetedEmbeddingObjective",
    "apgd",
    "square",
    "parse_eps",
    "project",
    "twoafc_cross_entropy",
    "twoafc_margin",
    "twoafc_predictions",
]
