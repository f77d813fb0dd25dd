"""The interface between attacks and what they attack: an objective maps perturbed images to a per-sample loss.

Every attack here (APGD, Square, PGD, the ensemble) takes an `Objective`, so one loss written
once (attacks/losses.py, finetune's training losses, inversion) can be attacked by any of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch
from torch import Tensor


@dataclass
class ObjectiveOutput:
    """An objective's answer for a batch: the loss per sample and, if it has a goal, whether each sample reached it."""

    loss: Tensor  # (B,) per-sample loss
    success: Tensor | None = None  # (B,) bool: the attack reached its goal at this point

    def success_mask(self) -> Tensor:
        """`success`, or all False for objectives without a goal (embedding losses, inversion)."""
        return self.success if self.success is not None else torch.zeros_like(self.loss, dtype=torch.bool)


class Objective(Protocol):
    """A per-sample loss over a batch of images; an attribute `maximize = False` says it is to be minimised."""

    def __call__(self, x: Tensor, index: Tensor, /) -> ObjectiveOutput:
        """`x` holds the images at positions `index` of the attacked batch."""


def maximizes(objective: Objective) -> bool:
    """Whether the attack should raise the objective's loss (the default) or lower it (`maximize = False`)."""
    return bool(getattr(objective, "maximize", True))
