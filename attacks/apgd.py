"""APGD (Croce & Hein 2020, 'Reliable evaluation of adversarial robustness with an ensemble of
diverse parameter-free attacks'): projected gradient ascent with momentum and a step size that is
halved at checkpoints where the loss stopped improving, restarting from the best point found.

Works for any per-sample loss: the caller passes an `Objective` that maps a batch of perturbed
images (and their positions in the original batch) to a loss and, optionally, a success mask.
Samples whose attack has succeeded leave the batch, so they cost nothing further. Inside the
iteration loop the state is updated with masks (`torch.where`), never with boolean indexing, so the
loop does not wait on the device except where succeeded samples are removed (every
`compact_every` iterations: each one on CPU, where waiting is free, every few on GPU).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from .defaults import N_ITER, N_RESTARTS
from .objective import Objective, maximizes
from .objective import ObjectiveOutput as ObjectiveOutput  # still importable from here
from .registry import register_attack
from .restarts import APGDResult as APGDResult  # the old name of AttackResult, still importable from here
from .restarts import AttackResult, best_over_restarts, per_sample_normal, per_sample_uniform
from .threat import NORMS

if TYPE_CHECKING:
    from .config import AttackConfig

DEFAULT_GPU_COMPACT_EVERY = 8


def checkpoint_schedule(n_iter: int) -> tuple[int, int, int]:
    """(first checkpoint interval, its decrement, its minimum), as in the reference APGD."""
    return max(int(0.22 * n_iter), 1), max(int(0.03 * n_iter), 1), max(int(0.06 * n_iter), 1)


def project(x_adv: Tensor, x: Tensor, norm: str, eps: float) -> Tensor:
    """Project onto the eps-ball around `x` intersected with [0, 1].

    Written as AutoAttack writes it (same operations in the same order), so the two APGDs agree
    to the last bit on Linf and to rounding on L2. Clamping to [0, 1] only shrinks each coordinate
    of the perturbation, so the point stays in the ball.
    """
    if norm == "linf":
        return torch.min(torch.max(x_adv, x - eps), x + eps).clamp(0.0, 1.0)
    delta = x_adv - x
    delta_norm = _l2_norm(delta)
    return (x + delta / (delta_norm + 1e-12) * torch.clamp(delta_norm, max=eps)).clamp(0.0, 1.0)


def _per_sample(mask: Tensor, like: Tensor) -> Tensor:
    """A (B,) mask shaped to broadcast over `like` (B, ...)."""
    return mask.view(-1, *([1] * (like.ndim - 1)))


def _l2_norm(t: Tensor) -> Tensor:
    """Each sample's L2 norm, shaped to scale `t`: a sqrt of summed squares as AutoAttack computes it, so the two APGDs agree bitwise."""
    return t.flatten(1).pow(2).sum(dim=1).sqrt().view(-1, *([1] * (t.ndim - 1)))


def ascent_direction(grad: Tensor, norm: str) -> Tensor:
    """The steepest-ascent direction of unit size in the norm: sign(grad) for Linf, grad / ||grad||_2 for L2."""
    if norm == "linf":
        return grad.sign()
    return grad / (_l2_norm(grad) + 1e-12)


def random_start(x: Tensor, norm: str, eps: float, generators: Sequence[torch.Generator]) -> Tensor:
    """A uniformly random direction scaled to the ball's boundary (Linf) or sphere (L2), clamped to [0, 1]."""
    noise = 2 * per_sample_uniform(generators, x.shape[1:]) - 1 if norm == "linf" else per_sample_normal(generators, x.shape[1:])
    noise = noise.to(device=x.device, dtype=x.dtype)
    if norm == "linf":
        noise = noise / noise.flatten(1).abs().amax(dim=1).clamp_min(1e-12).view(-1, 1, 1, 1)
    else:
        noise = noise / (_l2_norm(noise) + 1e-12)
    return (x + eps * noise).clamp(0.0, 1.0)


def apgd(
    objective: Objective,
    x: Tensor,
    *,
    norm: str = "linf",
    eps: float,
    n_iter: int = N_ITER,
    n_restarts: int = N_RESTARTS,
    random_init: bool = True,
    seed: int = 0,
    sample_ids: Sequence[int] | None = None,
    maximize: bool = True,
    early_stop: bool = True,
    rho: float = 0.75,
    on_iteration: Callable[[int], None] | None = None,
    compact_every: int | None = None,
    initial_step_size: float | None = None,
) -> AttackResult:
    """Run APGD on a batch `x` in [0, 1] and return, per sample, its best point.

    `maximize=False` minimises the objective's loss instead (e.g. a distance to a target).
    With `early_stop`, samples leave the batch once `objective` reports success; restarts only
    attack samples that have not succeeded yet (or, for objectives without success, all samples,
    keeping the highest-loss point). `compact_every` sets how often succeeded samples are removed
    (default: every iteration on CPU, every 8 on GPU); it changes speed, never results, because
    a sample's first successful point is kept and samples do not interact.
    `initial_step_size` replaces the default first step of 2 * eps (inversion, paper App. A-B: 200
    in an L2 ball of radius 100 around its own noisy grey start, with `random_init=False`).
    """
    if norm not in NORMS:
        raise ValueError(f"unknown norm '{norm}'; choose one of {', '.join(NORMS)}")
    if compact_every is None:
        compact_every = 1 if x.device.type == "cpu" else DEFAULT_GPU_COMPACT_EVERY
    if compact_every < 1:
        raise ValueError(f"compact_every must be >= 1, got {compact_every}")
    if eps < 0 or n_iter < 0 or n_restarts < 1:
        raise ValueError(f"need eps >= 0, n_iter >= 0, n_restarts >= 1; got eps={eps}, n_iter={n_iter}, n_restarts={n_restarts}")
    if initial_step_size is not None and initial_step_size <= 0:
        raise ValueError(f"initial_step_size must be > 0, got {initial_step_size} (leave it unset for 2 * eps)")
    sign = 1.0 if maximize else -1.0

    def single_run(rows: Tensor, index: Tensor, generators: list[torch.Generator]) -> AttackResult:
        start = random_start(rows, norm, eps, generators) if random_init else rows.clone()
        return _apgd_single_run(
            objective, rows, start, index, norm, eps, n_iter, sign, rho, early_stop, on_iteration, compact_every, initial_step_size
        )

    return best_over_restarts(single_run, x, n_restarts=n_restarts, seed=seed, sample_ids=sample_ids, sign=sign)


def _apgd_single_run(
    objective: Objective,
    x: Tensor,
    x_start: Tensor,
    index: Tensor,
    norm: str,
    eps: float,
    n_iter: int,
    sign: float,
    rho: float,
    early_stop: bool,
    on_iteration: Callable[[int], None] | None,
    compact_every: int = 1,
    initial_step_size: float | None = None,
) -> AttackResult:
    """One APGD run from `x_start` in the ball around `x`; returns per sample the successful point, else the best-loss point."""
    n = x.shape[0]
    out_x = x.clone()
    out_loss = torch.full((n,), -math.inf, device=x.device)
    out_success = torch.zeros(n, dtype=torch.bool, device=x.device)

    def evaluate(points: Tensor, positions: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        points = points.detach().requires_grad_(True)
        with torch.enable_grad():
            output = objective(points, index[positions])
            loss = sign * output.loss.float()
            grad = torch.autograd.grad(loss.sum(), points)[0]
        succeeded = output.success_mask()
        return loss.detach(), grad.detach(), succeeded.detach()

    # `alive` maps rows of the working tensors to positions in this run's batch.
    alive = torch.arange(n, device=x.device)
    x_orig = x
    x_adv = x_start
    loss, grad, succeeded = evaluate(x_adv, alive)

    x_best, grad_best, loss_best = x_adv.clone(), grad.clone(), loss.clone()
    first_step = 2.0 * eps if initial_step_size is None else initial_step_size
    step_size = torch.full((n, 1, 1, 1), first_step, device=x.device, dtype=x.dtype)
    x_adv_old = x_adv.clone()
    k, k_decrement, k_min = checkpoint_schedule(n_iter)
    since_checkpoint = 0
    # The step-size rule as AutoAttack's `attack_single_run` states it, detail for detail, so the
    # two give the same trajectory (tests/attacks/test_reference_agreement.py checks this sample by sample):
    # - `loss_steps[i]` is the loss after iteration i, in a table that starts at zero. The
    #   oscillation count at iteration j compares rows j-c and j-c-1 for c < k, so the first
    #   window compares its first step with row -1: the table's last row, not yet written (zero).
    # - "reduced at the last checkpoint" starts true, so the first checkpoint never halves a step
    #   for want of improvement, only for oscillation.
    loss_steps = torch.zeros(max(n_iter, 1), n, device=x.device)
    loss_best_last_check = loss_best.clone()
    reduced_last_check = torch.ones(n, dtype=torch.bool, device=x.device)

    def record(points: Tensor, losses: Tensor, done: Tensor) -> None:
        """Keep each sample's first successful point, else its highest-loss point."""
        already = out_success[alive]
        improved = ~already & (done | (losses > out_loss[alive]))
        out_x[alive] = torch.where(_per_sample(improved, points), points, out_x[alive])
        out_loss[alive] = torch.where(improved, losses, out_loss[alive])
        out_success[alive] = already | done

    record(x_adv, loss, succeeded)
    for iteration in range(n_iter):
        if early_stop and iteration % compact_every == 0 and bool(out_success[alive].any()):
            keep = ~out_success[alive]
            alive, x_orig, x_adv, x_adv_old, grad = alive[keep], x_orig[keep], x_adv[keep], x_adv_old[keep], grad[keep]
            x_best, grad_best, loss_best, step_size = x_best[keep], grad_best[keep], loss_best[keep], step_size[keep]
            loss_best_last_check, reduced_last_check = loss_best_last_check[keep], reduced_last_check[keep]
            loss_steps = loss_steps[:, keep]
            if alive.numel() == 0:
                break

        momentum = 0.75 if iteration > 0 else 1.0
        with torch.no_grad():
            z = project(x_adv + step_size * ascent_direction(grad, norm), x_orig, norm, eps)
            x_next = project(x_adv + momentum * (z - x_adv) + (1 - momentum) * (x_adv - x_adv_old), x_orig, norm, eps)
        x_adv_old, x_adv = x_adv, x_next

        loss, grad, succeeded = evaluate(x_adv, alive)
        record(x_adv, loss, succeeded)
        improved = loss > loss_best
        x_best = torch.where(_per_sample(improved, x_best), x_adv, x_best)
        grad_best = torch.where(_per_sample(improved, grad_best), grad, grad_best)
        loss_best = torch.where(improved, loss, loss_best)
        loss_steps[iteration] = loss

        since_checkpoint += 1
        if since_checkpoint == k:
            increases = sum((loss_steps[iteration - c] > loss_steps[iteration - c - 1]).float() for c in range(k))
            oscillating = increases <= k * rho
            no_improvement = ~reduced_last_check & (loss_best_last_check >= loss_best)
            reduce = oscillating | no_improvement
            reduced_last_check, loss_best_last_check = reduce, loss_best.clone()
            step_size = torch.where(_per_sample(reduce, step_size), step_size / 2.0, step_size)
            x_adv = torch.where(_per_sample(reduce, x_adv), x_best, x_adv)
            grad = torch.where(_per_sample(reduce, grad), grad_best, grad)
            k = max(k - k_decrement, k_min)
            since_checkpoint = 0
        if on_iteration is not None:
            on_iteration(iteration)
    return AttackResult(x_adv=out_x, success=out_success, loss=out_loss)


@register_attack("apgd-margin", loss="margin")
@register_attack("apgd-ce", loss="ce")  # decorators apply bottom-up: apgd-ce is registered (and listed) first
def run_apgd(config: AttackConfig, objective: Objective, x: Tensor, sample_ids: Sequence[int]) -> AttackResult:
    """`--attack apgd-ce` / `apgd-margin`: APGD on the loss the task built its objective with."""
    return apgd(
        objective,
        x,
        norm=config.norm,
        eps=config.eps,
        n_iter=config.n_iter,
        n_restarts=config.n_restarts,
        random_init=config.random_init,
        seed=config.seed,
        sample_ids=sample_ids,
        maximize=maximizes(objective),
    )
