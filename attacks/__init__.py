"""Attacks on perceptual metrics: APGD for any loss, and the losses it optimises."""
from .config import ATTACKS, AttackConfig, run_attack
from .apgd import APGDResult, Objective, ObjectiveOutput, apgd, project
from .losses import TwoAFCObjective, twoafc_cross_entropy, twoafc_margin, twoafc_predictions
from .threat import ThreatModel, parse_eps

__all__ = [
    "ATTACKS",
    "AttackConfig",
    "run_attack",
    "APGDResult",
    "Objective",
    "ObjectiveOutput",
    "ThreatModel",
    "TwoAFCObjective",
    "apgd",
    "parse_eps",
    "project",
    "twoafc_cross_entropy",
    "twoafc_margin",
    "twoafc_predictions",
]
