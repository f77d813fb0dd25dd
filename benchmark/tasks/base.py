"""What the runner asks of a task: `prepare` once, `evaluate_batch` per batch, `aggregate` at the end."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import torch
from torch import Tensor

from attacks.config import AttackConfig
from model_zoo.base import PerceptualModel

from ..results import SampleOutcome, Scores


class Task(Protocol):
    """A way of scoring a metric on a dataset, clean and under attack (2AFC, retrieval, detection, ...)."""

    name: str

    def prepare(
        self, model: PerceptualModel, dataset: Any, attack: AttackConfig | None, device: torch.device | str, batch_size: int
    ) -> None:
        """Build whole-dataset state (a retrieval database, a detection pool, class vectors) before the first batch."""

    def evaluate_batch(
        self, model: PerceptualModel, batch: dict[str, Any], attack: AttackConfig | None, device: torch.device | str, sample_ids: list[int]
    ) -> list[SampleOutcome]:
        """Clean and (if `attack`) robust outcomes for each sample of a collated batch."""
        ...

    def aggregate(self, outcomes: list[SampleOutcome]) -> Scores:
        """Scores over `outcomes` (never empty)."""
        ...


class PerSampleTask:
    """Base of tasks without whole-dataset state: nothing to prepare; the scores are mean clean and robust scores."""

    name = ""

    def prepare(
        self, model: PerceptualModel, dataset: Any, attack: AttackConfig | None, device: torch.device | str, batch_size: int
    ) -> None:
        """Nothing to build: every sample is scored on its own."""

    def aggregate(self, outcomes: list[SampleOutcome]) -> Scores:
        """Mean clean and robust per-sample scores."""
        return mean_scores(outcomes)


def mean_scores(outcomes: list[SampleOutcome]) -> Scores:
    """Mean clean and robust per-sample scores over `outcomes`."""
    n = len(outcomes)
    return Scores(clean=sum(o.clean_score for o in outcomes) / n, robust=sum(o.robust_score for o in outcomes) / n, n=n)


def predicted_class_outcomes(
    classes: Sequence[str],
    labels: Tensor,
    clean: Tensor,
    robust: Tensor,
    perturbation: Tensor,
    attacked: bool,
    extras: Sequence[dict[str, Any]],
) -> list[SampleOutcome]:
    """Outcomes of tasks that predict a class per sample (zero-shot classification, detection): a prediction
    scores 1 when it is the label; predictions are recorded by class name, `extras[i]` holds the task's own columns."""
    return [
        SampleOutcome(
            clean_prediction=classes[int(clean[i])],
            clean_score=float(clean[i] == labels[i]),
            attacked=attacked,
            robust_prediction=classes[int(robust[i])],
            robust_score=float(robust[i] == labels[i]),
            perturbation_norm=float(perturbation[i]),
            extra=dict(extras[i]),
        )
        for i in range(len(labels))
    ]
