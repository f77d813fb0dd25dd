"""The interface every metric implements.

Images enter as float tensors in [0, 1] of shape (B, 3, H, W); each model resizes and normalises
inside itself, so attacks always act on pixels. Similarity is higher for more similar images.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .card import ModelCard
from .preprocess import DEFAULT_PREPROCESSING, ImagePreprocess, Preprocessing


class _class_or_instance_method:
    """A method that receives the instance when called on one, else the class (`classmethod` always gets the class)."""

    def __init__(self, function: Callable[[Any], dict[str, Any]]):
        self.function = function
        self.__doc__ = function.__doc__

    def __get__(self, instance: Any, owner: type) -> Callable[[], dict[str, Any]]:
        return functools.partial(self.function, owner if instance is None else instance)


class PerceptualModel(nn.Module):
    """A perceptual similarity metric.

    Subclasses implement either `embed` (embedding metrics: similarity is the cosine of embeddings)
    or `pairwise_sim` (metrics that compare two images jointly, like SSIM or LPIPS).

    `features(y)` and `compare(x, candidates)` let tasks and attacks cache what does not change:
    the embedding of a fixed image for embedding metrics, the image itself for pairwise ones.
    """

    # What the metric is, as torchmetrics says it: class attributes read by generic code and tests
    # (one source of truth; the card carries provenance only).
    has_embedding: bool = False
    higher_is_better: bool = True  # `sim` grows as images look more alike
    is_differentiable: bool = True  # gradients of `sim` reach the pixels (white-box attacks apply)
    sim_range: tuple[float | None, float | None] = (-1.0, 1.0)  # documented range of `sim`; None = unbounded
    # A metric whose `sim` draws randomness (random crops, noise) says so; it is then evaluated with
    # expectation over transformation (model_zoo/eot.py), and a submission checks the claim.
    is_randomised: bool = False
    # Whether identical images are, by construction, the most similar pair (`sim(x, x)` is the top of `sim_range`
    # and `distance(x, x) = 0`). Learned IQA heads (PieAPP, WaDIQaM, ...) only approach it through training;
    # the registry-wide tests check the claim wherever it is made.
    identity_is_best: bool = True
    # An L2 Lipschitz bound of `embed` in pixel space at the model's input size, where one is proven
    # (LipSim's 1-Lipschitz network); attacks/certify.py turns it into certified 2AFC radii.
    embedding_lipschitz: float | None = None
    card: ModelCard
    weights_kind: str = "random"  # set by create_model: pretrained | random | none

    @property
    def input_preprocessing(self) -> Preprocessing:
        """The resize/crop the data pipeline applies before images reach this metric (and the attack).

        A metric with an `ImagePreprocess` module as `preprocess` declares its own; others get
        DreamSim's 224x224 (DEFAULT_PREPROCESSING).
        """
        preprocess = getattr(self, "preprocess", None)
        return preprocess.config if isinstance(preprocess, ImagePreprocess) else DEFAULT_PREPROCESSING

    @_class_or_instance_method
    def metric_properties(owner: Any) -> dict[str, Any]:
        """The behaviour flags as plain data, for result files and the leaderboard.

        Called on a class, the class's; on a model, the model's (a wrapper such as
        `ExpectationOverTransformation` takes over the flags of the metric it wraps).
        """
        return {
            "has_embedding": owner.has_embedding,
            "higher_is_better": owner.higher_is_better,
            "is_differentiable": owner.is_differentiable,
            "sim_range": list(owner.sim_range),
            "is_randomised": owner.is_randomised,
        }

    def embed(self, x: Tensor) -> Tensor:
        """The embedding (B, D) of images in [0, 1]; embedding metrics implement it, pairwise ones raise."""
        raise NotImplementedError(f"{type(self).__name__} is a pairwise metric and has no embedding")

    def pairwise_sim(self, x: Tensor, y: Tensor) -> Tensor:
        """Similarity (B,) of x[i] and y[i] computed jointly; pairwise metrics implement it."""
        raise NotImplementedError(f"{type(self).__name__} implements neither `pairwise_sim` nor `embed`")

    def features(self, y: Tensor) -> Tensor:
        """What `compare` needs of a fixed image: a unit-norm embedding, or the image itself."""
        if self.has_embedding:
            return F.normalize(self.embed(y).float(), dim=-1)
        return y

    def compare(self, x: Tensor, candidates: Sequence[Tensor]) -> Tensor:
        """Similarities (B, K) of each image in `x` to K cached `features`; `x` is encoded once."""
        if self.has_embedding:
            x_features = self.features(x)
            return torch.stack([(x_features * c).sum(dim=-1) for c in candidates], dim=1)
        return torch.stack([self.pairwise_sim(x, c) for c in candidates], dim=1)

    def sim(self, x: Tensor, y: Tensor) -> Tensor:
        """Similarity (B,) of x[i] and y[i]: cosine similarity for embedding metrics."""
        return self.compare(x, [self.features(y)])[:, 0]

    def distance(self, x: Tensor, y: Tensor) -> Tensor:
        """sqrt(1 - sim) (paper Eq. 3); zero for identical images."""
        return torch.sqrt(torch.clamp(1.0 - self.sim(x, y), min=0.0))

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """`sim(x, y)`, so a metric is called like any module."""
        return self.sim(x, y)


class EmbeddingModel(PerceptualModel):
    """An encoder with its own preprocessing; similarity is the cosine of the embeddings."""

    has_embedding = True
    sim_range = (-1.0, 1.0)  # a cosine

    def __init__(self, encoder: nn.Module, preprocess: nn.Module):
        super().__init__()
        self.preprocess = preprocess
        self.encoder = encoder

    def embed(self, x: Tensor) -> Tensor:
        """The encoder's output on preprocessed images (not normalised; `features` normalises)."""
        return self.encoder(self.preprocess(x))


class PairwiseModel(PerceptualModel):
    """A metric defined on pairs of images with no embedding of its own."""

    has_embedding = False
