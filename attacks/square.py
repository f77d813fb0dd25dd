"""Square attack (Andriushchenko et al. 2020, 'Square Attack: a query-efficient black-box adversarial
attack via random search'): random search over square-shaped updates that only queries the loss.

No gradients are used, so it checks that APGD's numbers are not an artefact of masked gradients.
Each sample draws its own windows and signs from its own generator, so a sample's attack does not
depend on the batch it sits in. Samples whose attack succeeded stop querying.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from .defaults import N_RESTARTS, SQUARE_P_INIT, SQUARE_QUERIES
from .objective import Objective, maximizes
from .registry import register_attack
from .restarts import AttackResult, best_over_restarts, keep_best, per_sample_uniform
from .threat import NORMS, perturbation_norm

if TYPE_CHECKING:
    from .config import AttackConfig

# Fractions of the query budget (out of 10000) after which the square's area fraction p halves.
P_SCHEDULE = (10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000)
NOISE_BLOCK = 128  # steps of random numbers drawn at once per sample


def p_selection(query: int, n_queries: int, p_init: float) -> float:
    """The paper's schedule: p starts at `p_init` and halves at fixed fractions of the budget."""
    position = int(query / max(n_queries, 1) * 10000)
    halvings = sum(position > boundary for boundary in P_SCHEDULE)
    return p_init / 2**halvings


def square_side(p: float, n_features: int, channels: int, min_side: int, height: int, width: int) -> int:
    """Side of a square covering about a fraction p of the pixels."""
    side = max(int(round(math.sqrt(p * n_features / channels))), min_side)
    return min(side, height, width)


def _ring_bump(rows: int, cols: int) -> Tensor:
    """Nested rectangles around the centre, weight 1/(k+1)^2 for the k-th ring, unit L2 norm."""
    r = torch.arange(rows).view(-1, 1)
    c = torch.arange(cols).view(1, -1)
    centre_r, centre_c = rows // 2, cols // 2
    distance = torch.maximum((r - centre_r).abs(), (c - centre_c).abs())
    n_rings = max(centre_r, centre_c) + 1
    weights = 1.0 / torch.arange(1, n_rings + 1, dtype=torch.float64) ** 2
    tail_sums = weights.flip(0).cumsum(0).flip(0)  # tail_sums[d] = sum_{k >= d} weights[k]
    bump = tail_sums[distance.clamp(max=n_rings - 1)]
    return (bump / bump.norm()).float()


def l2_window_pattern(side: int) -> Tensor:
    """The L2 update of the paper: a positive bump on one half of the square, a negative one on the other."""
    pattern = torch.zeros(side, side)
    top = side // 2
    if top > 0:
        pattern[:top] = _ring_bump(top, side)
    pattern[top:] = -_ring_bump(side - top, side)
    return pattern / pattern.norm()


def _flat_norm(t: Tensor) -> Tensor:
    """Each sample's L2 norm (the threat model's), shaped (B, 1, 1, 1) to scale `t`."""
    return perturbation_norm(t, "l2").view(-1, *([1] * (t.ndim - 1)))


def _window_mask(top: Tensor, left: Tensor, side: int, height: int, width: int) -> Tensor:
    """(B, 1, H, W) bool mask of one side x side window per sample."""
    rows = torch.arange(height, device=top.device).view(1, -1)
    cols = torch.arange(width, device=top.device).view(1, -1)
    in_rows = (rows >= top[:, None]) & (rows < top[:, None] + side)
    in_cols = (cols >= left[:, None]) & (cols < left[:, None] + side)
    return (in_rows[:, :, None] & in_cols[:, None, :])[:, None]


def _draw(generators: list[torch.Generator], count: int, device: torch.device) -> Tensor:
    """`count` uniforms in [0, 1) per sample, each from the sample's own generator."""
    return per_sample_uniform(generators, (count,)).to(device)


def _random_sign(uniform: Tensor) -> Tensor:
    return torch.where(uniform < 0.5, -1.0, 1.0)


def _random_position(uniform: Tensor, limit: int, reference_windows: bool = False) -> Tensor:
    """A window corner in [0, limit]; AutoAttack's convention draws from [0, limit) instead."""
    if reference_windows:
        return (uniform * limit).long().clamp(max=max(limit - 1, 0))
    return (uniform * (limit + 1)).long().clamp(max=limit)


def _linf_init(x: Tensor, eps: float, generators: list[torch.Generator]) -> Tensor:
    """Vertical stripes of +-eps, one sign per channel and column."""
    n, c, h, w = x.shape
    signs = _random_sign(_draw(generators, c * w, x.device)).view(n, c, 1, w).to(x.dtype)
    return (x + eps * signs).clamp(0.0, 1.0)


def _linf_step(x: Tensor, x_best: Tensor, eps: float, side: int, u: Tensor, reference_windows: bool) -> Tensor:
    """Set one random square per sample to a vertex of the Linf ball (one sign per channel); `u` holds
    each sample's uniforms for this step."""
    n, c, h, w = x.shape
    mask = _window_mask(
        _random_position(u[:, 0], h - side, reference_windows), _random_position(u[:, 1], w - side, reference_windows), side, h, w
    )
    vertex = (x + eps * _random_sign(u[:, 2:]).view(n, c, 1, 1).to(x.dtype)).clamp(0.0, 1.0)
    return torch.where(mask, vertex, x_best)


def _l2_init(x: Tensor, eps: float, generators: list[torch.Generator]) -> Tensor:
    """A grid of L2 window patterns with random signs per channel, scaled to norm eps."""
    n, c, h, w = x.shape
    side = max(min(h, w) // 5, 1)
    start_r, start_c = (h - side * (h // side)) // 2, (w - side * (w // side)) // 2
    n_r, n_c = h // side, w // side
    signs = _random_sign(_draw(generators, n_r * n_c * c, x.device)).view(n, n_r * n_c, c).to(x.dtype)
    pattern = l2_window_pattern(side).to(device=x.device, dtype=x.dtype) if side > 1 else torch.ones(1, 1, device=x.device, dtype=x.dtype)
    delta = torch.zeros_like(x)
    for i in range(n_r):
        for j in range(n_c):
            r, q = start_r + i * side, start_c + j * side
            delta[:, :, r : r + side, q : q + side] += pattern * signs[:, i * n_c + j].view(n, c, 1, 1)
    return (x + eps * delta / (_flat_norm(delta) + 1e-12)).clamp(0.0, 1.0)


def _l2_step(x: Tensor, x_best: Tensor, eps: float, side: int, u: Tensor, reference_windows: bool) -> Tensor:
    """Move the perturbation's mass from a second window into the first, as a new pattern.

    The first window gets a fresh signed pattern plus its old (normalised) content, scaled per
    channel to the mass of both windows plus an even share of the unused budget; the second window
    is emptied. The whole perturbation is then rescaled to norm eps.
    """
    n, c, h, w = x.shape
    corners = [_random_position(u[:, k], (h, w, h, w)[k] - side, reference_windows) for k in range(4)]
    first = _window_mask(corners[0], corners[1], side, h, w)
    second = _window_mask(corners[2], corners[3], side, h, w)
    delta = x_best - x

    pattern = l2_window_pattern(side).to(device=x.device, dtype=x.dtype)
    pattern = torch.where(u[:, 4].view(n, 1, 1) < 0.5, pattern, pattern.t())  # random orientation per sample
    signs = _random_sign(u[:, 5:]).view(n, c, 1, 1).to(x.dtype)

    def per_channel_norm(t: Tensor) -> Tensor:
        return t.pow(2).sum(dim=(2, 3), keepdim=True).sqrt()

    old_window = delta * first
    old_content = _extract(old_window, first, side) / (per_channel_norm(old_window) + 1e-12)
    new_content = pattern[:, None] * signs + old_content
    unused = (eps**2 - _flat_norm(delta).pow(2)).clamp_min(0.0) / c
    target = (unused + per_channel_norm(delta * (first | second)).pow(2)).sqrt()
    new_content = new_content / (per_channel_norm(new_content) + 1e-12) * target

    delta = torch.where(second, torch.zeros_like(delta), delta)
    delta = torch.where(first, _place(new_content, first, h, w), delta)
    return (x + eps * delta / (_flat_norm(delta) + 1e-12)).clamp(0.0, 1.0)


def _extract(t: Tensor, mask: Tensor, side: int) -> Tensor:
    """The (B, C, side, side) contents of each sample's window."""
    n, c = t.shape[:2]
    return t.permute(0, 2, 3, 1)[mask[:, 0]].view(n, side, side, c).permute(0, 3, 1, 2)


def _place(content: Tensor, mask: Tensor, height: int, width: int) -> Tensor:
    """Inverse of `_extract`: a (B, C, H, W) tensor holding `content` in each window, 0 elsewhere."""
    n, c, side, _ = content.shape
    out = torch.zeros(n, height, width, c, device=content.device, dtype=content.dtype)
    out[mask[:, 0]] = content.permute(0, 2, 3, 1).reshape(-1, c)
    return out.permute(0, 3, 1, 2)


def square(
    objective: Objective,
    x: Tensor,
    *,
    norm: str = "linf",
    eps: float,
    n_queries: int = SQUARE_QUERIES,
    p_init: float = SQUARE_P_INIT,
    n_restarts: int = N_RESTARTS,
    seed: int = 0,
    sample_ids: Sequence[int] | None = None,
    maximize: bool = True,
    early_stop: bool = True,
    reference_windows: bool = False,
) -> AttackResult:
    """Run the Square attack on a batch `x` in [0, 1]; each sample spends at most `n_queries` queries per restart.

    A candidate is kept when it improves the objective's loss (in the direction `maximize` says)
    or reaches success; successful samples stop (with `early_stop`). Restarts attack only the
    samples that have not succeeded yet.

    Window corners are uniform over every position. AutoAttack (like the paper's code) draws them
    from [0, H - side), so its updates never reach the last row and column; `reference_windows=True`
    reproduces that, to compare with it like for like. On small images it makes the attack weaker.
    """
    if norm not in NORMS:
        raise ValueError(f"unknown norm '{norm}'; choose one of {', '.join(NORMS)}")
    if eps < 0 or n_queries < 0 or n_restarts < 1 or not 0 < p_init <= 1:
        raise ValueError(
            f"need eps >= 0, n_queries >= 0, n_restarts >= 1, 0 < p_init <= 1; "
            f"got eps={eps}, n_queries={n_queries}, n_restarts={n_restarts}, p_init={p_init}"
        )
    if x.ndim != 4:
        raise ValueError(f"square expects images of shape (B, C, H, W), got shape {tuple(x.shape)}")
    sign = 1.0 if maximize else -1.0

    def single_run(rows: Tensor, index: Tensor, generators: list[torch.Generator]) -> AttackResult:
        return _square_single_run(objective, rows, index, norm, eps, n_queries, p_init, sign, early_stop, generators, reference_windows)

    attacked = n_queries > 0 and eps > 0  # otherwise every sample keeps its clean point
    return best_over_restarts(single_run, x, n_restarts=n_restarts if attacked else 0, seed=seed, sample_ids=sample_ids, sign=sign)


@torch.no_grad()
def _square_single_run(
    objective: Objective,
    x: Tensor,
    index: Tensor,
    norm: str,
    eps: float,
    n_queries: int,
    p_init: float,
    sign: float,
    early_stop: bool,
    generators: list[torch.Generator],
    reference_windows: bool,
) -> AttackResult:
    """One Square run on rows `x` (positions `index` of the batch); returns per sample its kept point."""
    n, c, h, w = x.shape
    n_features = c * h * w
    init, step = (_linf_init, _linf_step) if norm == "linf" else (_l2_init, _l2_step)
    min_side = 1 if norm == "linf" else 3
    draws_per_step = 2 + c if norm == "linf" else 5 + c

    def query(points: Tensor, positions: Tensor) -> tuple[Tensor, Tensor]:
        output = objective(points, index[positions])
        return sign * output.loss.detach().float(), output.success_mask().detach()

    everyone = torch.arange(n, device=x.device)
    x_best = init(x, eps, generators)
    loss_best, success = query(x_best, everyone)
    for i in range(1, n_queries):
        alive = (~success).nonzero().flatten() if early_stop else everyone
        if alive.numel() == 0:
            break
        side = square_side(p_selection(i - 1, n_queries, p_init), n_features, c, min_side, h, w)
        if norm == "l2" and side % 2 == 0 and side < min(h, w):
            side += 1
        if (i - 1) % NOISE_BLOCK == 0:  # one generator call per sample every NOISE_BLOCK steps
            noise = per_sample_uniform(generators, (NOISE_BLOCK, draws_per_step)).to(x.device)
        candidate = step(x[alive], x_best[alive], eps, side, noise[alive, (i - 1) % NOISE_BLOCK], reference_windows)
        loss, done = query(candidate, alive)
        keep_best(x_best, loss_best, success, alive, AttackResult(x_adv=candidate, success=done, loss=loss))
    return AttackResult(x_adv=x_best, success=success, loss=loss_best)


@register_attack("square", loss="margin", query_budget=True)
def run_square(config: AttackConfig, objective: Objective, x: Tensor, sample_ids: Sequence[int]) -> AttackResult:
    """`--attack square`: `n_iter` is the query budget per sample."""
    return square(
        objective,
        x,
        norm=config.norm,
        eps=config.eps,
        n_queries=config.n_iter,
        n_restarts=config.n_restarts,
        seed=config.seed,
        sample_ids=sample_ids,
        maximize=maximizes(objective),
    )
