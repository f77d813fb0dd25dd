"""Pixel-space L2: the baseline every learned metric should beat."""

from __future__ import annotations

from torch import Tensor

from .base import PairwiseModel
from .card import ModelCard
from .registry import register_model


class PixelL2(PairwiseModel):
    """Similarity 1 - MSE over pixels, so `distance = sqrt(1 - sim)` is the RMS pixel difference."""

    sim_range = (0.0, 1.0)  # images in [0, 1]: the mean squared difference lies in [0, 1]

    def pairwise_sim(self, x: Tensor, y: Tensor) -> Tensor:
        """1 - mean squared pixel difference (B,)."""
        if x.shape != y.shape:
            raise ValueError(f"pixel-l2 needs images of the same shape, got {tuple(x.shape)} and {tuple(y.shape)}")
        return 1.0 - (x - y).pow(2).flatten(1).mean(dim=1)


@register_model(
    "pixel-l2",
    card=ModelCard(
        name="pixel-l2",
        family="classical",
        backbone="pixels",
        license="n/a",
        notes="sim = 1 - mean squared pixel difference; distance = RMS difference",
    ),
)
def pixel_l2(pretrained: bool = True) -> PixelL2:
    """Pixel L2; `pretrained` is accepted for the registry's interface (there is nothing to load)."""
    return PixelL2()
