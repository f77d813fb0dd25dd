"""PGD with momentum: the inner maximisation of adversarial training (FARE, TeCoA).

A fixed number of ascent steps of fixed size, each along the normalised gradient mixed with the
previous direction (momentum 0.9), projected onto the eps-ball and [0, 1]; the last point is
returned. This is the inner attack of Schlarmann et al. 2024's training code (github
chs20/RobustVLM, `train/pgd_train.py`: 10 steps of 1/255 at Linf 4/255, uniform random start),
written on our `Objective` protocol and `project`, so any loss APGD attacks can be trained against.
APGD (`attacks.apgd`) stays the evaluation attack: its step-size schedule and restarts cost more
than a training step can afford.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .apgd import ascent_direction, project
from .objective import Objective
from .threat import NORMS

SCHLARMANN_MOMENTUM = 0.9  # chs20/RobustVLM train/pgd_train.py default


def uniform_linf_start(shape: torch.Size | tuple[int, ...], eps: float, generator: torch.Generator | None = None) -> Tensor:
    """A perturbation drawn uniformly from the Linf ball of radius eps (on the CPU, from `generator`)."""
    return (2.0 * torch.rand(shape, generator=generator) - 1.0) * eps


def pgd(
    objective: Objective,
    x: Tensor,
    *,
    norm: str = "linf",
    eps: float,
    n_iter: int = 10,
    step_size: float,
    momentum: float = SCHLARMANN_MOMENTUM,
    start: Tensor | None = None,
    maximize: bool = True,
) -> Tensor:
    """Return `x + delta` after `n_iter` momentum steps on the per-sample loss of `objective`.

    `start` is the initial perturbation (e.g. `uniform_linf_start`); None starts at `x`. The
    objective's loss is summed over the batch, so each sample's step depends on its own loss only
    and a batch split across processes gives the same points as the whole batch.
    """
    if norm not in NORMS:
        raise ValueError(f"unknown norm '{norm}'; choose one of {', '.join(NORMS)}")
    if eps < 0 or n_iter < 0 or step_size < 0:
        raise ValueError(f"need eps, n_iter and step_size >= 0; got eps={eps}, n_iter={n_iter}, step_size={step_size}")
    x = x.detach()
    index = torch.arange(x.shape[0], device=x.device)
    x_adv = x.clone() if start is None else project(x + start.to(device=x.device, dtype=x.dtype), x, norm, eps)
    velocity = torch.zeros_like(x)
    sign = 1.0 if maximize else -1.0
    for _ in range(n_iter):
        points = x_adv.detach().requires_grad_(True)
        with torch.enable_grad():
            loss = objective(points, index).loss.float().sum()
            grad = torch.autograd.grad(loss, points)[0]
        with torch.no_grad():
            grad = torch.nan_to_num(grad)
            velocity = ascent_direction(momentum * velocity + ascent_direction(grad, norm), norm)
            x_adv = project(x_adv + sign * step_size * velocity, x, norm, eps)
    return x_adv.detach()
