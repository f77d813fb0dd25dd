"""NIGHTS (Fu et al. 2023, DreamSim): 2AFC triplets of synthetic image variations.

On disk: `nights/data.csv`, `nights/ref/NNN/MMM.png` and `nights/distort/NNN/MMM_{0,1}.png`.
The csv is read by column name, so extra columns are tolerated. Only triplets with at least six
votes are kept (the paper's and DreamSim's evaluation); the label is 1 when the right image got
more votes, so the 2AFC score is plain accuracy.
"""

from __future__ import annotations

import csv
from pathlib import Path

from .images import DatasetError, path_inside
from .twoafc import TwoAFCDataset, TwoAFCTriplet

NIGHTS_COLUMNS = ("id", "left_vote", "right_vote", "votes", "ref_path", "left_path", "right_path", "split", "is_imagenet")
NIGHTS_SPLITS = ("test", "test_imagenet", "test_no_imagenet", "val", "train")
NIGHTS_MIN_VOTES = 6


def _is_true(text: str) -> bool:
    return text.strip().lower() in ("true", "1", "yes")


def _row_split_matches(row: dict[str, str], split: str) -> bool:
    if split == "test_imagenet":
        return row["split"] == "test" and _is_true(row["is_imagenet"])
    if split == "test_no_imagenet":
        return row["split"] == "test" and not _is_true(row["is_imagenet"])
    return row["split"] == split


def read_nights_csv(csv_path: Path, split: str = "test", min_votes: int = NIGHTS_MIN_VOTES) -> list[TwoAFCTriplet]:
    """Triplets of one split from `data.csv`; image paths are relative to the csv's folder."""
    if split not in NIGHTS_SPLITS:
        raise DatasetError(f"NIGHTS has no split '{split}'; choose one of {', '.join(NIGHTS_SPLITS)}")
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise DatasetError(f"NIGHTS csv not found: {csv_path} (`bench data download nights` fetches it)")
    root = csv_path.parent
    with csv_path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in NIGHTS_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise DatasetError(f"{csv_path} lacks column(s) {', '.join(missing)}; expected at least {', '.join(NIGHTS_COLUMNS)}")
        triplets = []
        for line, row in enumerate(reader, start=2):
            try:
                votes, left, right = int(float(row["votes"])), int(float(row["left_vote"])), int(float(row["right_vote"]))
            except (TypeError, ValueError):
                raise DatasetError(f"{csv_path} line {line}: votes, left_vote and right_vote must be numbers, got {row!r}") from None
            if votes < min_votes or not _row_split_matches(row, split):
                continue
            judge = 1.0 if right > left else 0.0
            triplets.append(
                TwoAFCTriplet(
                    sample_id=str(row["id"]),
                    split=split,
                    reference=path_inside(root, row["ref_path"], f"{csv_path} line {line}"),
                    candidate_0=path_inside(root, row["left_path"], f"{csv_path} line {line}"),
                    candidate_1=path_inside(root, row["right_path"], f"{csv_path} line {line}"),
                    judge=judge,
                )
            )
    if not triplets:
        raise DatasetError(f"{csv_path} has no '{split}' triplets with votes >= {min_votes}")
    for triplet in triplets[:1]:  # a wrong root shows up at once, not after model loading
        for path in (triplet.reference, triplet.candidate_0, triplet.candidate_1):
            if not path.is_file():
                raise DatasetError(f"{csv_path} names {path}, which does not exist (unpack ref/ and distort/ beside data.csv)")
    return triplets


def load_nights(root: Path, split: str = "test") -> TwoAFCDataset:
    """NIGHTS from `root` (the folder holding data.csv, ref/ and distort/).

    Images go through the evaluated model's own transform (the paper's code passes each model's
    preprocessing to its NIGHTS dataset), so each model is attacked at its 224x224 input.
    """
    return TwoAFCDataset("nights", read_nights_csv(Path(root) / "data.csv", split), labels="hard")
