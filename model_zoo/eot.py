"""Expectation over transformation (Athalye et al. 2018): a randomised metric seen through the mean of several draws.

A metric that declares `is_randomised` is evaluated and attacked through this wrapper, so both the
prediction and the attack's gradient are those of the expected similarity, not of one random draw.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from .base import PairwiseModel, PerceptualModel
from .preprocess import Preprocessing

DEFAULT_EOT_SAMPLES = 8


class ExpectationOverTransformation(PairwiseModel):
    """`sim(x, y)` = mean over `n_samples` draws of the wrapped metric's `sim(x, y)`.

    It is pairwise even over an embedding metric: features of a fixed image would freeze one draw.
    """

    def __init__(self, model: PerceptualModel, n_samples: int = DEFAULT_EOT_SAMPLES):
        super().__init__()
        if n_samples < 1:
            raise ValueError(f"expectation over transformation needs n_samples >= 1, got {n_samples}")
        self.inner = model
        self.n_samples = n_samples
        self.card = model.card
        self.weights_kind = model.weights_kind
        # The expectation keeps what the wrapped metric's `sim` is (its range, direction, gradients):
        # the instance says so, and `metric_properties()` called on it reads the instance.
        self.higher_is_better = model.higher_is_better
        self.is_differentiable = model.is_differentiable
        self.sim_range = model.sim_range
        self.identity_is_best = model.identity_is_best

    @property
    def input_preprocessing(self) -> Preprocessing:
        """The wrapped metric's input resize/crop."""
        return self.inner.input_preprocessing

    def pairwise_sim(self, x: Tensor, y: Tensor) -> Tensor:
        """The mean of `n_samples` draws of the wrapped metric's similarity."""
        return torch.stack([self.inner.sim(x, y) for _ in range(self.n_samples)]).mean(dim=0)

    def compare(self, x: Tensor, candidates: Sequence[Tensor]) -> Tensor:
        """Pairwise comparison with every candidate (no cached features: each draw must see both images)."""
        return torch.stack([self.pairwise_sim(x, c) for c in candidates], dim=1)
