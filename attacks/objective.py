"""The interface between attacks and what they attack: an objective maps perturbed images to a per-sample loss.

Every attack here (APGD, Square, PGD, the ensemble) takes an `Objective`, so one loss written
once (attacks/losses.py, finetune's training losses, inversion) can be attacked by any of them.
A classification objective (one that reports success) that also offers `with_loss` is a
`LossSwitchable`: the standard ensemble needs that to run its margin member after APGD-CE.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

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


@runtime_checkable
class LossSwitchable(Protocol):
    """An objective that can give itself under another classification loss ('ce' or 'margin'), for the standard ensemble."""

    def with_loss(self, loss: str, /) -> Objective:
        """The same samples and model under `loss`."""
        ...


def _restricted(objective: Objective) -> Objective:
    """The objective a (possibly nested) `Subset` restricts; any other objective itself."""
    while isinstance(objective, Subset):
        objective = objective.objective
    return objective


def can_switch_loss(objective: Objective) -> bool:
    """Whether `objective` (or, for a `Subset`, the objective it restricts) is a `LossSwitchable`."""
    return isinstance(_restricted(objective), LossSwitchable)


def loss_switch_error(objective: Objective, loss: str, needed_by: str) -> ValueError:
    """The one-line error for an objective that `needed_by` must switch to `loss` but cannot."""
    return ValueError(
        f"{needed_by} runs the '{loss}' loss, but the objective {type(_restricted(objective)).__name__} has no with_loss(loss): "
        "give it one (attacks.objective.LossSwitchable) or choose a single attack such as --attack apgd-ce"
    )


class Subset:
    """An objective restricted to rows `index` of the batch it was built for."""

    def __init__(self, objective: Objective, index: Tensor):
        self.objective = objective
        self.index = index
        self.maximize = maximizes(objective)

    def __call__(self, x: Tensor, index: Tensor) -> ObjectiveOutput:
        return self.objective(x, self.index[index])

    def with_loss(self, loss: str) -> Subset:
        """The same rows of the objective under another loss; the objective must be a `LossSwitchable` (2AFC, classifiers)."""
        if not can_switch_loss(self.objective):
            raise loss_switch_error(self.objective, loss, "this attack")
        assert isinstance(self.objective, LossSwitchable)
        return Subset(self.objective.with_loss(loss), self.index)
