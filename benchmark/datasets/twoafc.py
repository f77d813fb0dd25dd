"""2AFC datasets: a reference, two candidates and the fraction of humans who preferred the second."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import Dataset

from .images import load_image


@dataclass(frozen=True)
class TwoAFCTriplet:
    sample_id: str
    split: str
    reference: Path
    candidate_0: Path
    candidate_1: Path
    judge: float  # fraction of humans preferring candidate 1; hard labels are 0.0 or 1.0


class TwoAFCDataset(Dataset):
    """Triplets read lazily from disk; items are dicts of tensors with the sample's position."""

    task = "2afc"

    def __init__(self, name: str, triplets: list[TwoAFCTriplet], soft_labels: bool, image_size: int | None = None):
        self.name = name
        self.triplets = triplets
        self.soft_labels = soft_labels
        self.image_size = image_size  # None keeps the files' size (the model resizes inside)

    @property
    def splits(self) -> list[str]:
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
            "reference": load_image(triplet.reference, self.image_size),
            "candidate_0": load_image(triplet.candidate_0, self.image_size),
            "candidate_1": load_image(triplet.candidate_1, self.image_size),
            "judge": torch.tensor(triplet.judge, dtype=torch.float32),
            "position": position,
        }
