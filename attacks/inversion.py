"""Feature and text inversion (paper Sec. VI, App. A-B, Eq. 9 and 10) as an objective for our APGD.

An image is optimised to match a target unit embedding (of an image, or of a prompt through the
CLIP text tower): minimise ||phi(z + d) / ||phi(z + d)|| - target||^2 over ||d||_2 <= 100, starting
from z = grey (0.5) plus uniform noise in [-8/255, 8/255], with APGD for 500 iterations and an
initial step size of 200. The L2 ball is centred on z and acts as a regulariser.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor

from .apgd import apgd
from .defaults import InversionConfig
from .objective import ObjectiveOutput
from .restarts import per_sample_uniform


class InversionObjective:
    """Squared distance of normalised embeddings to fixed unit targets (B, D); records its mean per call."""

    def __init__(self, embed: Callable[[Tensor], Tensor], targets: Tensor):
        self.embed = embed
        self.targets = F.normalize(targets.float(), dim=-1)
        self.history: list[float] = []  # mean loss of each evaluation: the start, then one per iteration

    def __call__(self, x: Tensor, index: Tensor) -> ObjectiveOutput:
        embeddings = F.normalize(self.embed(x).float(), dim=-1)
        loss = (embeddings - self.targets[index]).pow(2).sum(dim=-1)
        self.history.append(float(loss.detach().mean()))
        return ObjectiveOutput(loss=loss)


def noisy_grey_start(n: int, image_size: int, seeds: Sequence[int], noise: float = 8 / 255) -> Tensor:
    """(n, 3, S, S): grey 0.5 plus uniform noise in [-noise, noise], one generator per seed."""
    if len(seeds) != n:
        raise ValueError(f"need one seed per image, got {len(seeds)} seeds for {n} images")
    generators = [torch.Generator().manual_seed(int(seed)) for seed in seeds]
    return (0.5 + noise * (2 * per_sample_uniform(generators, (3, image_size, image_size)) - 1)).clamp(0.0, 1.0)


@dataclass
class InversionOutput:
    """Inverted images, how close each got to its target, and the loss curve (to plot convergence)."""

    images: Tensor  # (B, 3, S, S) in [0, 1]
    similarity: Tensor  # (B,) cosine of the final image's embedding to its target
    history: list[float] = field(default_factory=list)  # mean squared distance per evaluation


def invert(
    embed: Callable[[Tensor], Tensor],
    targets: Tensor,
    seeds: Sequence[int],
    config: InversionConfig = InversionConfig(),  # noqa: B008 (frozen: attacks/defaults.py)
    device: str | torch.device = "cpu",
    on_iteration: Callable[[int], None] | None = None,
) -> InversionOutput:
    """Images whose embeddings match `targets` (B, D), one start per seed (paper Eq. 9 / 10)."""
    start = noisy_grey_start(len(seeds), config.image_size, seeds, config.init_noise).to(device)
    objective = InversionObjective(embed, targets.to(device))
    result = apgd(
        objective,
        start,
        norm="l2",
        eps=config.radius,
        n_iter=config.n_iter,
        random_init=False,
        maximize=False,
        early_stop=False,
        initial_step_size=config.initial_step_size,
        on_iteration=on_iteration,
    )
    # cos = 1 - d^2 / 2 for unit vectors
    return InversionOutput(images=result.x_adv.detach(), similarity=1.0 - result.loss.detach() / 2.0, history=objective.history)
