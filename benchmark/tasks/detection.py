"""Retrieval-based detection (paper Sec. V-A, Table III): a query takes the class of its nearest
neighbour in a labelled pool, by the metric's similarity.

Under attack, each query is pushed towards its target class with the targeted loss of Eq. 5 (16
target images outside the pool in the paper); the attacker never sees the pool (grey box), so
every query is attacked for the full budget. Scores are accuracies; the confusion fractions
(share of each query class assigned to each pool class, buffer included) are Table III's cells.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from attacks.config import AttackConfig
from attacks.losses import TargetedEmbeddingObjective
from model_zoo.base import PerceptualModel

from ..results import SampleOutcome, Scores
from .base import BatchAttack, mean_scores, predicted_class_outcomes
from .pool import encode_images, similarity_to_set
from .registry import register_task


def nearest_neighbour_labels(similarities: Tensor, pool_labels: Tensor) -> tuple[Tensor, Tensor]:
    """(label of the most similar pool image, that similarity) per row; a tie goes to the first."""
    best, index = similarities.max(dim=1)
    return pool_labels[index], best


def confusion_fractions(outcomes: list[SampleOutcome], classes: list[str], robust: bool) -> dict[str, dict[str, float]]:
    """{query class: {assigned class: fraction of its queries}}, of the robust predictions or the clean ones."""
    fractions = {}
    for query_class in sorted({str(o.extra["query_class"]) for o in outcomes}):
        rows = [o for o in outcomes if o.extra["query_class"] == query_class]
        predictions = [o.robust_prediction if robust else o.clean_prediction for o in rows]
        fractions[query_class] = {c: sum(p == c for p in predictions) / len(rows) for c in classes}
    return fractions


@register_task
class DetectionTask:
    """Nearest-neighbour detection against a labelled pool, clean and with queries pushed towards a target class."""

    name = "detection"
    scoring = ""  # one way to score

    def __init__(self) -> None:
        self.classes: list[str] = []
        self.buffer: str | None = None

    def prepare(self, model: PerceptualModel, dataset, attack: AttackConfig | None, device, batch_size: int) -> None:
        """Encode the pool once; load the target images each attacked class is pushed towards."""
        self.dataset = dataset
        self.classes = list(dataset.classes)
        self.buffer = dataset.setup.buffer
        pool = dataset.pool_items()
        self.pool_features = encode_images(model, lambda i: dataset.load(pool[i][0]), len(pool), device, batch_size)
        self.pool_labels = torch.tensor([label for _, label in pool], device=device)
        self.targets: dict[str, Tensor] = {}
        if attack is not None:
            query_classes = sorted({label for _, label in dataset.queries})
            missing = [c for c in query_classes if c not in dataset.setup.targets]
            if missing:
                raise ValueError(
                    f'no attack target for query class(es) {", ".join(missing)}; set "targets" in {dataset.root}/detection.json'
                )
            for query_class in query_classes:
                target_class = dataset.setup.targets[query_class]
                if target_class not in self.targets:
                    self.targets[target_class] = torch.stack([dataset.load(p) for p in dataset.target_images(target_class)]).to(device)

    def _predict(self, model: PerceptualModel, x: Tensor) -> tuple[Tensor, Tensor]:
        with torch.no_grad():
            return nearest_neighbour_labels(similarity_to_set(model, x, self.pool_features).float(), self.pool_labels)

    def evaluate_batch(
        self, model: PerceptualModel, batch: dict[str, Any], attack: AttackConfig | None, device, sample_ids: list[int]
    ) -> list[SampleOutcome]:
        """Each query's nearest-neighbour class, clean and after the targeted attack."""
        images = batch["image"].to(device)
        labels = batch["label"].to(device)
        clean_labels, clean_sims = self._predict(model, images)
        robust_labels = clean_labels.clone()
        batch_attack = BatchAttack(attack, len(labels), device, success_based=False)
        target_names = [""] * len(labels)
        if attack is not None:
            query_names = [self.classes[int(label)] for label in labels]
            for target_class, target_images in self.targets.items():
                index = torch.tensor(
                    [i for i, name in enumerate(query_names) if self.dataset.setup.targets[name] == target_class],
                    dtype=torch.long,
                    device=device,
                )
                if index.numel() == 0:
                    continue
                x_adv = batch_attack.run(TargetedEmbeddingObjective(model, target_images), images, index, sample_ids)
                robust_labels[index] = self._predict(model, x_adv)[0]
                for i in index.tolist():
                    target_names[i] = target_class
        extras = [
            {
                "query_class": self.classes[int(labels[i])],
                "clean_nn_sim": float(clean_sims[i]),
                "target_class": target_names[i],
                **batch_attack.columns_of(i),
            }
            for i in range(len(labels))
        ]
        return predicted_class_outcomes(
            self.classes, labels, clean_labels, robust_labels, batch_attack.perturbation, attack is not None, extras
        )

    def aggregate(self, outcomes: list[SampleOutcome]) -> Scores:
        """Accuracies, with Table III's confusion fractions and the buffer class beside them."""
        scores = mean_scores(outcomes)
        scores.extra = {
            "buffer": self.buffer,
            "clean_fractions": confusion_fractions(outcomes, self.classes, robust=False),
            "robust_fractions": confusion_fractions(outcomes, self.classes, robust=True),
        }
        return scores
