"""Attacks on perceptual metrics: APGD for any loss, and the losses it optimises."""
from .config import ATTACKS, AttackConfig, run_attack
from .apgd import APGDResult, Objective, ObjectiveOutput, apgd, project
from .losses import TargetedEmbeddingObjective, TwoAFCObjective, UntargetedEmbeddingObjective, twoafc_cross_entropy, twoafc_margin, twoafc_predictions
from .threat import ThreatModel, parse_eps

__all__ = [
    "ATTACKS",
    "AttackConfig",
    "run_attack",
    "APGDResult",
    "Objective",
    "ObjectiveOutput",
    "ThreatModel",
    "TargetedEmbeddingObjective",
    "TwoAFCObjective",
    "UntargetedEmbeddingObjective",
    "apgd",
    "parse_eps",
    "project",
    "twoafc_cross_entropy",
    "twoafc_margin",
    "twoafc_predictions",
]
