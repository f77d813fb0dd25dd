"""2AFC: which of two candidates is closer to the reference? The attack perturbs the reference.

Logits are [sim(ref, x0), sim(ref, x1)]; the prediction is 1 when x1 is more similar (a tie goes
to x0, as in the paper's code). The label is the human majority (judge > 0.5), which the attack
tries to flip. The per-sample score depends on the dataset's labels (see datasets/twoafc.py):
`hard`, 1 when the prediction is the label; `soft`, the judge fraction when x1 is predicted, one
minus it when x0 is, and 0.5 when the two similarities tie (as LPIPS and DreamSim score).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from attacks.config import AttackConfig
from attacks.losses import TwoAFCObjective, twoafc_predictions
from attacks.objective import Subset
from model_zoo.base import PerceptualModel

from ..results import TWOAFC_SCORING_NAMES as SCORING_NAMES
from ..results import SampleOutcome
from .base import BatchAttack, PerSampleTask
from .registry import register_task


def twoafc_score(predictions: Tensor, judge: Tensor, logits: Tensor | None = None, labels: str = "soft") -> Tensor:
    """Per-sample agreement with humans under the dataset's `labels` (hard or soft, see the module)."""
    if labels == "hard":
        return (predictions == twoafc_labels(judge)).to(judge.dtype)
    score = torch.where(predictions == 1, judge, 1.0 - judge)
    if logits is not None:
        score = torch.where(logits[:, 0] == logits[:, 1], torch.full_like(score, 0.5), score)
    return score


def twoafc_labels(judge: Tensor) -> Tensor:
    """The human majority: 1 when more than half preferred candidate 1."""
    return (judge > 0.5).long()


@register_task
class TwoAFCTask(PerSampleTask):
    """2AFC on BAPPS, NIGHTS or the demo: agreement with the human majority, clean and with the reference attacked."""

    name = "2afc"

    def __init__(self, labels: str = "hard"):
        self.labels = labels
        self.scoring = SCORING_NAMES.get(labels, labels)  # the leaderboard labels the table with it: hard labels or soft score

    def evaluate_batch(
        self,
        model: PerceptualModel,
        batch: dict[str, Any],
        attack: AttackConfig | None,
        device: torch.device | str,
        sample_ids: list[int],
    ) -> list[SampleOutcome]:
        """Clean and (if `attack`) robust outcomes for each sample of a batch."""
        reference = batch["reference"].to(device)
        judge = batch["judge"].to(device)
        labels = twoafc_labels(judge)
        objective = TwoAFCObjective(
            model,
            batch["candidate_0"].to(device),
            batch["candidate_1"].to(device),
            labels,
            loss=attack.loss if attack is not None else "ce",
        )
        with torch.no_grad():
            clean_logits = objective.logits(reference).float()
        clean_predictions = twoafc_predictions(clean_logits)
        robust_predictions = clean_predictions.clone()
        robust_logits = clean_logits.clone()
        batch_attack = BatchAttack(attack, len(labels), device, success_based=True, n_classes=2)
        # Samples already misclassified count as broken; only correct ones are attacked.
        attacked = (clean_predictions == labels) if attack is not None else torch.zeros_like(labels, dtype=torch.bool)
        if attack is not None and attacked.any():
            index = attacked.nonzero().flatten()
            x_adv = batch_attack.run(Subset(objective, index), reference, index, sample_ids)
            with torch.no_grad():
                adversarial_logits = objective.logits(x_adv, index).float()
            robust_predictions[index] = twoafc_predictions(adversarial_logits)
            robust_logits[index] = adversarial_logits
        clean_scores = twoafc_score(clean_predictions, judge, clean_logits, self.labels)
        robust_scores = twoafc_score(robust_predictions, judge, robust_logits, self.labels)
        return [
            SampleOutcome(
                label=int(labels[i]),
                clean_prediction=int(clean_predictions[i]),
                clean_score=float(clean_scores[i]),
                attacked=bool(attacked[i]),
                robust_prediction=int(robust_predictions[i]),
                robust_score=float(robust_scores[i]),
                perturbation_norm=float(batch_attack.perturbation[i]),
                extra={
                    "judge": float(judge[i]),
                    "clean_sim_0": float(clean_logits[i, 0]),
                    "clean_sim_1": float(clean_logits[i, 1]),
                    "robust_sim_0": float(robust_logits[i, 0]),  # the gallery ranks attacks by how far they moved these
                    "robust_sim_1": float(robust_logits[i, 1]),
                    **batch_attack.columns_of(i),
                },
            )
            for i in range(len(labels))
        ]
