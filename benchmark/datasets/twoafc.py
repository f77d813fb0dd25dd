"""2AFC datasets: a reference, two candidates and the fraction of humans who preferred the second.

How a 2AFC dataset is scored is part of its protocol, written into every result:
- `labels="hard"` (the paper's): the label is the human majority (judge > 0.5) and a sample scores
  1 when the metric picks it, else 0 (the paper's code, `pred == lab` on `bapps-bin`);
- `labels="soft"` (LPIPS's and DreamSim's 2AFC score): the fraction of humans who agree with the
  metric's pick, 0.5 when the metric's two similarities tie.
`score_averaging="splits"` makes the headline score the equal-weight mean of the split means (the
paper's BAPPS number: Table XIV's mean column); "samples" averages over samples.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .base import DatasetBase
from .images import DatasetError, ImageTransform, load_image

TWOAFC_LABELS = {
    "hard": "accuracy against the human majority (label = judge > 0.5), as the paper",
    "soft": "2AFC soft score (fraction of humans agreeing; 0.5 on a tie), as LPIPS and DreamSim",
}
SCORE_AVERAGING = {"samples": "mean over samples", "splits": "mean of the split means"}


def check_twoafc_labels(labels: str) -> str:
    """`labels` when it is a known 2AFC scoring ('hard' or 'soft'), else an error naming the choices."""
    if labels not in TWOAFC_LABELS:
        hint = " ('binary' is now called 'hard')" if labels == "binary" else ""
        raise DatasetError(f"unknown 2AFC labels '{labels}'{hint}; choose one of {', '.join(TWOAFC_LABELS)}")
    return labels


@dataclass(frozen=True)
class TwoAFCTriplet:
    """A reference, two candidates and the fraction of humans who found candidate 1 closer."""

    sample_id: str
    split: str
    reference: Path
    candidate_0: Path
    candidate_1: Path
    judge: float  # fraction of humans preferring candidate 1; hard labels are 0.0 or 1.0


class TwoAFCDataset(DatasetBase):
    """Triplets read lazily from disk; items are dicts of tensors with the sample's position.

    With `image_transform=None` and `follows_model_preprocessing` (NIGHTS), the runner installs
    the evaluated model's transform; a dataset with a fixed transform (BAPPS at 224) keeps its own.
    """

    task = "2afc"
    native_resolution = False  # BAPPS image_size=native: the runner then asks LPIPS-family metrics not to resize

    def __init__(
        self,
        name: str,
        triplets: list[TwoAFCTriplet],
        labels: str = "hard",
        image_transform: ImageTransform | None = None,
        follows_model_preprocessing: bool = True,
        score_averaging: str = "samples",
        transform_description: str = "",
    ):
        self.name = name
        self.triplets = triplets
        self.labels = check_twoafc_labels(labels)
        self.image_transform = image_transform
        self.follows_model_preprocessing = follows_model_preprocessing
        self.score_averaging = score_averaging
        self.transform_description = transform_description

    @property
    def task_options(self) -> dict[str, Any]:
        """The 2AFC task's configuration this dataset implies (its label scoring)."""
        return {"labels": self.labels}

    def protocol(self) -> dict[str, Any]:
        """How this dataset is scored and how its images are prepared (written into results)."""
        return {
            "labels": self.labels,
            "score": TWOAFC_LABELS[self.labels],
            "score_averaging": SCORE_AVERAGING[self.score_averaging],
            **({} if self.follows_model_preprocessing else {"image_transform": self.transform_description}),
        }

    @property
    def splits(self) -> list[str]:
        """The splits present, sorted."""
        return sorted({t.split for t in self.triplets})

    def __len__(self) -> int:
        return len(self.triplets)

    def sample_info(self, position: int) -> dict[str, str]:
        """What the per-sample outcome file records about the sample at `position`."""
        triplet = self.triplets[position]
        return {"sample_id": triplet.sample_id, "split": triplet.split}

    def __getitem__(self, position: int) -> dict:
        triplet = self.triplets[position]
        return {
            "reference": load_image(triplet.reference, self.image_transform),
            "candidate_0": load_image(triplet.candidate_0, self.image_transform),
            "candidate_1": load_image(triplet.candidate_1, self.image_transform),
            "judge": torch.tensor(triplet.judge, dtype=torch.float32),
            "position": position,
        }
