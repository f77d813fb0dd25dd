"""What every restarting attack shares: one result type, per-sample generators, and the restart loop.

APGD and Square (and the standard ensemble, whose members play the part of restarts) keep, per
sample, the first successful point, else the highest-loss one, and attack again only the samples
not yet broken. Random starts and random searches draw from one generator per sample, seeded from
(seed, sample id, restart), so a sample's attack does not depend on the batch it sits in.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor


@dataclass
class AttackResult:
    """Per sample, the point an attack ends with, whether it reached its goal, and the loss there."""

    x_adv: Tensor  # (B, C, H, W): the first successful point, else the highest-loss point
    success: Tensor  # (B,) bool
    loss: Tensor  # (B,) loss at x_adv (in the direction that was optimised)

    def sample_columns(self, row: int) -> dict[str, Any]:
        """Columns of sample `row` for the per-sample outcomes; none for a single attack (the ensemble names its members)."""
        return {}


APGDResult = AttackResult  # the name this type had when APGD was its only producer; still importable


def sample_generators(seed: int, sample_ids: Sequence[int], restart: int) -> list[torch.Generator]:
    """One CPU generator per sample, seeded from (seed, sample id, restart), so a sample's draws do not depend on its batch."""
    generators = []
    for sample_id in sample_ids:
        g = torch.Generator()
        g.manual_seed((seed * 1_000_003 + int(sample_id) * 7_919 + restart * 104_729) % (2**63 - 1))
        generators.append(g)
    return generators


def per_sample_uniform(generators: Sequence[torch.Generator], shape: Sequence[int]) -> Tensor:
    """(len(generators), *shape) uniforms in [0, 1) on the CPU, row i drawn from generator i."""
    return torch.stack([torch.rand(tuple(shape), generator=g) for g in generators])


def per_sample_normal(generators: Sequence[torch.Generator], shape: Sequence[int]) -> Tensor:
    """(len(generators), *shape) standard normals on the CPU, row i drawn from generator i."""
    return torch.stack([torch.randn(tuple(shape), generator=g) for g in generators])


def keep_best(best_x: Tensor, best_loss: Tensor, success: Tensor, todo: Tensor, run: AttackResult) -> Tensor:
    """Fold one run on the samples `todo` into the per-sample best (in place); return which rows it improved.

    A run's point replaces the kept one where it succeeded, or where neither has succeeded and its
    loss is higher (losses oriented so that higher is better for the attacker). Every restart loop
    (APGD, Square), Square's random search and the standard ensemble keep their best points with
    this one rule.
    """
    better = run.success | (~success[todo] & (run.loss > best_loss[todo]))
    best_x[todo[better]] = run.x_adv[better]
    best_loss[todo[better]] = run.loss[better]
    success[todo] |= run.success
    return better


class BestPoints:
    """Per sample of a batch, the best point found so far by any run (see `keep_best`), with losses oriented upwards."""

    def __init__(self, x: Tensor):
        n = x.shape[0]
        self.x = x.detach().clone()
        self.loss = torch.full((n,), -math.inf, device=x.device)
        self.success = torch.zeros(n, dtype=torch.bool, device=x.device)

    def unbroken(self) -> Tensor:
        """Positions of the samples no run has succeeded on yet."""
        return (~self.success).nonzero().flatten()

    def keep(self, todo: Tensor, run: AttackResult) -> Tensor:
        """Fold a run on the samples `todo` in; return which of its rows improved the kept point."""
        return keep_best(self.x, self.loss, self.success, todo, run)

    def result(self, sign: float) -> AttackResult:
        """The kept points, with losses turned back to the objective's direction (`sign` = -1 when it was minimised)."""
        return AttackResult(x_adv=self.x, success=self.success, loss=sign * self.loss)


# One run of an attack on rows `x` (positions `index` of the batch), with one generator per row;
# losses oriented so that higher is better for the attacker.
SingleRun = Callable[[Tensor, Tensor, "list[torch.Generator]"], AttackResult]


def best_over_restarts(
    run: SingleRun,
    x: Tensor,
    *,
    n_restarts: int,
    seed: int,
    sample_ids: Sequence[int] | None,
    sign: float,
) -> AttackResult:
    """Run `run` up to `n_restarts` times, each time on the samples not yet broken, and keep each sample's best point.

    Restart r hands `run` the generators `sample_generators(seed, sample ids, r)`; sample ids
    default to positions in the batch. `n_restarts=0` returns `x` unattacked.
    """
    ids = list(range(x.shape[0])) if sample_ids is None else [int(i) for i in sample_ids]
    best = BestPoints(x)
    for restart in range(n_restarts):
        todo = best.unbroken()
        if todo.numel() == 0:
            break
        best.keep(todo, run(x[todo].detach(), todo, sample_generators(seed, [ids[i] for i in todo.tolist()], restart)))
    return best.result(sign)
