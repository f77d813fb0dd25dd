"""Odd-one-out (THINGS): the odd image is the one least similar to the other two.

With similarities s01, s02, s12 of a triplet, the most similar pair belongs together and the
remaining image is the prediction: s12 largest -> 0, s02 largest -> 1, s01 largest -> 2 (a tie goes
to the lower position). Evaluated clean, as in the paper (Table XII).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from attacks import AttackConfig
from model_zoo.base import PerceptualModel

from ..results import SampleOutcome, Scores
from .base import mean_scores
from .registry import register_task


def odd_one_out_predictions(sim_01: Tensor, sim_02: Tensor, sim_12: Tensor) -> Tensor:
    """Position (0, 1, 2) of the image outside the most similar pair."""
    return torch.stack([sim_12, sim_02, sim_01], dim=1).argmax(dim=1)


@register_task
class OddOneOutTask:
    """Odd-one-out accuracy on triplets, clean only (robust equals clean)."""

    name = "odd-one-out"
    scoring = ""  # one way to score

    def prepare(self, model: PerceptualModel, dataset, attack: AttackConfig | None, device, batch_size: int) -> None:
        """Refuse an attack: the paper evaluates this task clean."""
        if attack is not None:
            raise ValueError("the odd-one-out task is evaluated clean (paper Table XII); pass --attack none")

    @torch.no_grad()
    def evaluate_batch(self, model: PerceptualModel, batch: dict[str, Any], attack, device, sample_ids: list[int]) -> list[SampleOutcome]:
        """The predicted odd image of each triplet and whether it is the one people chose."""
        images = [batch[f"image_{n}"].to(device) for n in range(3)]
        sim_01, sim_02, sim_12 = model.sim(images[0], images[1]), model.sim(images[0], images[2]), model.sim(images[1], images[2])
        predictions = odd_one_out_predictions(sim_01, sim_02, sim_12)
        odd = batch["odd"].to(device)
        return [
            SampleOutcome(
                clean_prediction=int(predictions[i]),
                clean_score=float(predictions[i] == odd[i]),
                attacked=False,
                robust_score=float(predictions[i] == odd[i]),  # no attack: robust equals clean
                extra={"odd": int(odd[i]), "sim_01": float(sim_01[i]), "sim_02": float(sim_02[i]), "sim_12": float(sim_12[i])},
            )
            for i in range(len(odd))
        ]

    def aggregate(self, outcomes: list[SampleOutcome]) -> Scores:
        """Clean accuracy, which is also the robust one."""
        scores = mean_scores(outcomes)
        scores.robust = scores.clean
        return scores
