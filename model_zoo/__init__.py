"""perceptbench model zoo: every perceptual metric behind one interface."""

from .base import EmbeddingModel, PairwiseModel, PerceptualModel
from .card import ModelCard, WeightsSource
from .registry import (
    UnknownModelError,
    create_model,
    get_model_card,
    list_models,
    list_pretrained,
    register_architecture,
    register_model,
)
from .weights import WeightsUnavailableError

__all__ = [
    "EmbeddingModel",
    "ModelCard",
    "PairwiseModel",
    "PerceptualModel",
    "UnknownModelError",
    "WeightsSource",
    "WeightsUnavailableError",
    "create_model",
    "get_model_card",
    "list_models",
    "list_pretrained",
    "register_architecture",
    "register_model",
]
