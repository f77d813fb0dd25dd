"""APGD-T (Croce & Hein 2020): APGD on the targeted DLR loss, run once per target class.

As AutoAttack's `APGDAttack_targeted` (fra31/auto-attack, autopgd_base.py): the targets of a
sample are its classes ranked 2nd, 3rd, ... by its clean logits (`n_target_classes`, 9 in
AutoAttack's standard version and in RobustVLM's `clip_robustbench.py`); for each target in turn,
`n_restarts` APGD runs (100 iterations, AutoAttack's step-size schedule: our one `apgd`) attack
the samples no earlier target has broken. A sample is broken when its right class is no longer
predicted, whichever wrong class wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from .apgd import apgd
from .defaults import N_ITER, N_RESTARTS
from .losses import ClassifierOutput, TargetedDLRObjective
from .objective import Objective, Subset
from .registry import register_attack
from .restarts import AttackResult, BestPoints

if TYPE_CHECKING:
    from .config import AttackConfig

N_TARGET_CLASSES = 9  # AutoAttack's standard version and RobustVLM's custom one
MIN_CLASSES = 4  # the targeted DLR loss divides by the gap to the 3rd and 4th largest logits


def clean_targets(objective: Objective, x: Tensor, n_target_classes: int) -> Tensor:
    """(B, T): per sample, its classes ranked 2nd, 3rd, ... by the clean logits; T = min(n_target_classes, K - 1)."""
    with torch.no_grad():
        output = objective(x, torch.arange(x.shape[0], device=x.device))
    if not isinstance(output, ClassifierOutput) or output.logits is None:
        raise ValueError(f"apgd-t needs a classification objective that reports logits, not {type(objective).__name__}")
    n_classes = output.logits.shape[1]
    if n_classes < MIN_CLASSES:
        raise ValueError(f"apgd-t needs >= {MIN_CLASSES} classes for the targeted DLR loss, got {n_classes}; use apgd-margin")
    ranked = output.logits.float().argsort(dim=1, descending=True)
    return ranked[:, 1 : 1 + min(n_target_classes, n_classes - 1)]


def apgd_targeted(
    objective: Objective,
    x: Tensor,
    *,
    norm: str = "linf",
    eps: float,
    n_iter: int = N_ITER,
    n_restarts: int = N_RESTARTS,
    n_target_classes: int = N_TARGET_CLASSES,
    seed: int = 0,
    sample_ids: Sequence[int] | None = None,
    random_init: bool = True,
) -> AttackResult:
    """Run APGD-T on `x`; per sample its first successful point over the targets, else its highest-loss point."""
    ids = list(range(x.shape[0])) if sample_ids is None else [int(i) for i in sample_ids]
    targets = clean_targets(objective, x, n_target_classes)
    best = BestPoints(x)
    for rank in range(targets.shape[1]):
        todo = best.unbroken()
        if todo.numel() == 0:
            break
        targeted = TargetedDLRObjective(Subset(objective, todo), targets[todo, rank])
        run = apgd(
            targeted,
            x[todo],
            norm=norm,
            eps=eps,
            n_iter=n_iter,
            n_restarts=n_restarts,
            random_init=random_init,
            seed=seed + rank,  # each target its own random starts
            sample_ids=[ids[i] for i in todo.tolist()],
        )
        best.keep(todo, run)
    return best.result(1.0)


@register_attack("apgd-t", loss="ce")  # objectives are built with CE; APGD-T replaces it by the targeted DLR loss
def run_apgd_targeted(config: AttackConfig, objective: Objective, x: Tensor, sample_ids: Sequence[int]) -> AttackResult:
    """`--attack apgd-t`: APGD-T towards each of the next classes in turn."""
    return apgd_targeted(
        objective,
        x,
        norm=config.norm,
        eps=config.eps,
        n_iter=config.n_iter,
        n_restarts=config.n_restarts,
        seed=config.seed,
        sample_ids=sample_ids,
        random_init=config.random_init,
    )
