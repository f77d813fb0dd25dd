"""Image-to-image retrieval (revisited Oxford/Paris, paper Sec. V-B, Table IX): mAP, Medium and Hard.

The database is ranked by the metric's similarity to each query. Medium counts easy and hard
images as positives and ignores junk; Hard counts only hard ones and ignores easy and junk.
Average precision is the revisited benchmark's: junk is removed from the ranking, and precision is
averaged between just before and at each positive (trapezoid rule). Queries with no positive in a
protocol do not count towards its mean. Under attack, the query is pushed away from its own clean
representation (untargeted loss of Eq. 6) for the full budget.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from attacks.config import AttackConfig
from attacks.losses import UntargetedEmbeddingObjective
from model_zoo.base import PerceptualModel

from ..results import SampleOutcome, Scores
from .base import BatchAttack
from .pool import encode_images, similarity_to_set
from .registry import register_task

# The revisited benchmark's protocols; the scores record them, so readers (the leaderboard) need not import this.
PROTOCOLS = ("medium", "hard")


def revisited_average_precision(ranking: Sequence[int], positives: Sequence[int], junk: Sequence[int]) -> float:
    """AP of a full ranking (database indices, best first); NaN when there is no positive."""
    positive_set = set(positives)
    junk_set = set(junk) - positive_set
    if not positive_set:
        return math.nan
    ranks, kept = [], 0
    for index in ranking:
        if index in junk_set:
            continue
        if index in positive_set:
            ranks.append(kept)
        kept += 1
    step = 1.0 / len(positive_set)
    ap = 0.0
    for found, rank in enumerate(ranks):
        precision_before = found / rank if rank > 0 else 1.0
        precision_at = (found + 1) / (rank + 1)
        ap += (precision_before + precision_at) * step / 2.0
    return ap


def protocol_sets(truth, protocol: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(positives, ignored) of one query's ground truth under `protocol`."""
    if protocol == "medium":
        return truth.easy + truth.hard, truth.junk
    if protocol == "hard":
        return truth.hard, truth.junk + truth.easy
    raise ValueError(f"unknown protocol '{protocol}'; choose one of {', '.join(PROTOCOLS)}")


def _nanmean(values: list[float]) -> float:
    kept = [v for v in values if not math.isnan(v)]
    return sum(kept) / len(kept) if kept else math.nan


@register_task
class RetrievalTask:
    """Image retrieval on revisited Oxford/Paris: mAP per protocol, clean and with each query attacked."""

    name = "retrieval"
    scoring = ""  # one way to score

    def prepare(self, model: PerceptualModel, dataset, attack: AttackConfig | None, device, batch_size: int) -> None:
        """Encode the database once."""
        self.dataset = dataset
        self.database = encode_images(model, dataset.database_image, len(dataset.imlist), device, batch_size)

    def _average_precisions(self, model: PerceptualModel, x: Tensor, positions: list[int]) -> list[dict[str, float]]:
        with torch.no_grad():
            rankings = similarity_to_set(model, x, self.database).float().argsort(dim=1, descending=True).tolist()
        out = []
        for ranking, position in zip(rankings, positions):
            truth = self.dataset.ground_truth[position]
            out.append({p: revisited_average_precision(ranking, *protocol_sets(truth, p)) for p in PROTOCOLS})
        return out

    def evaluate_batch(
        self, model: PerceptualModel, batch: dict[str, Any], attack: AttackConfig | None, device, sample_ids: list[int]
    ) -> list[SampleOutcome]:
        """Each query's AP under every protocol, clean and attacked; the per-sample score is Medium AP."""
        images = batch["image"].to(device)
        positions = [int(p) for p in batch["position"]]
        clean = self._average_precisions(model, images, positions)
        robust = clean
        batch_attack = BatchAttack(attack, len(positions), device, success_based=False)
        if attack is not None:
            everyone = torch.arange(len(positions), device=images.device)
            x_adv = batch_attack.run(UntargetedEmbeddingObjective(model, images), images, everyone, sample_ids)
            robust = self._average_precisions(model, x_adv, positions)
        return [
            SampleOutcome(
                clean_score=clean[i]["medium"],
                robust_score=robust[i]["medium"],
                attacked=attack is not None,
                perturbation_norm=float(batch_attack.perturbation[i]),
                extra={
                    **{f"ap_{p}_{kind}": aps[i][p] for kind, aps in (("clean", clean), ("robust", robust)) for p in PROTOCOLS},
                    **batch_attack.columns_of(i),
                },
            )
            for i in range(len(positions))
        ]

    def aggregate(self, outcomes: list[SampleOutcome]) -> Scores:
        """clean/robust are Medium mAP (the paper's headline, Fig. 2); every protocol's mAP is reported beside it."""
        n = len(outcomes)
        protocols = {
            p: Scores(
                clean=_nanmean([float(o.extra[f"ap_{p}_clean"]) for o in outcomes]),
                robust=_nanmean([float(o.extra[f"ap_{p}_robust"]) for o in outcomes]),
                n=n,
            )
            for p in PROTOCOLS
        }
        return Scores(clean=protocols["medium"].clean, robust=protocols["medium"].robust, n=n, protocols=protocols)
