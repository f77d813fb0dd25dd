"""What the runner asks of a task: `prepare` once, `evaluate_batch` per batch, `aggregate` at the end."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import torch
from torch import Tensor

from attacks.config import AttackConfig
from attacks.objective import Objective
from attacks.registry import get_attack, run_attack
from attacks.threat import perturbation_norm
from model_zoo.base import PerceptualModel

from ..results import SampleOutcome, Scores


class Task(Protocol):
    """A way of scoring a metric on a dataset, clean and under attack (2AFC, retrieval, detection, ...)."""

    name: str
    # How the scores were computed where a task has several ways (2AFC: "hard labels" or "soft score"); "" where it has one.
    # Recorded in the result's protocol (`scoring`), from which the leaderboard labels the table.
    scoring: str

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


class BatchAttack:
    """A batch's attack, for any task and any registered attack: run it on rows, keep their perturbation norms and columns.

    Every task attacks through this, so none knows which attack runs: an attack whose results carry per-sample
    columns (the standard ensemble: who broke each sample, seconds per member) declares the columns of samples it
    never attacked (`AttackSpec.unattacked_columns`), and every sample of the batch gets them.
    `success_based`: whether the task's objective reports success (classification, 2AFC) or not (embedding losses);
    `n_classes`: its number of classes where it is a classification.
    """

    def __init__(
        self,
        attack: AttackConfig | None,
        n: int,
        device: torch.device | str,
        success_based: bool = True,
        n_classes: int | None = None,
    ):
        self.attack = attack
        self.perturbation = torch.zeros(n, device=device)  # (n,) norm of each row's perturbation, 0 where not attacked
        spec = get_attack(attack.name) if attack is not None else None
        unattacked = spec.unattacked_columns if spec is not None else None
        self.columns = [unattacked(success_based, n_classes) for _ in range(n)] if unattacked is not None else None

    def run(self, objective: Objective, x: Tensor, index: Tensor, sample_ids: Sequence[int]) -> Tensor:
        """Attack rows `index` of the batch `x` (objective built for those rows); return their adversarial images."""
        if self.attack is None:
            raise ValueError("BatchAttack.run without an attack; the task runs clean (--attack none)")
        rows = index.tolist()
        result = run_attack(self.attack, objective, x[index], [sample_ids[i] for i in rows])
        self.perturbation[index] = perturbation_norm((result.x_adv - x[index]).flatten(1), self.attack.norm)
        if self.columns is not None:
            for row, i in enumerate(rows):
                self.columns[i] = result.sample_columns(row)
        return result.x_adv

    def columns_of(self, row: int) -> dict[str, Any]:
        """The attack's per-sample columns of batch row `row` (none for attacks without any)."""
        return self.columns[row] if self.columns is not None else {}


class PerSampleTask:
    """Base of tasks without whole-dataset state: nothing to prepare; the scores are mean clean and robust scores."""

    name = ""
    scoring = ""

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
