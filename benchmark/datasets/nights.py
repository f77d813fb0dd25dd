"""NIGHTS (Fu et al. 2023, DreamSim): 2AFC triplets of synthetic image variations.

On disk: `nights/data.csv`, `nights/ref/NNN/MMM.png` and `nights/distort/NNN/MMM_{0,1}.png`.
The csv is read by column name, so extra columns are tolerated. Only triplets with at least six
votes are kept (the paper's and DreamSim's evaluation); the label is 1 when the right image got
more votes, so the 2AFC score is plain accuracy.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from . import cells
from .images import DatasetError, path_inside
from .sources import DatasetSource, Download
from .twoafc import TwoAFCDataset, TwoAFCTriplet
from .verify import VerifyReport, check_images

NIGHTS_COLUMNS = ("id", "left_vote", "right_vote", "votes", "ref_path", "left_path", "right_path", "split", "is_imagenet")
NIGHTS_SPLITS = ("test", "test_imagenet", "test_no_imagenet", "val", "train")
NIGHTS_MIN_VOTES = 6


NIGHTS_FILE_SPLITS = ("train", "val", "test")  # the split column's values; test_imagenet and test_no_imagenet divide test
NIGHTS_BOOLEANS = ("True", "False", "1", "0")  # is_imagenet as pandas (True/False) or a 0/1 column writes it
NIGHTS_FIX = "correct that row, or fetch data.csv again (`bench data download nights`)"


@dataclass(frozen=True)
class NightsRow:
    """One row of data.csv, typed: counts are whole numbers >= 0, labels from their sets."""

    sample_id: str
    left_vote: int
    right_vote: int
    votes: int
    split: str
    is_imagenet: bool

    def in_split(self, split: str) -> bool:
        """Whether the row belongs to `split` (test_imagenet / test_no_imagenet divide test by is_imagenet)."""
        if split == "test_imagenet":
            return self.split == "test" and self.is_imagenet
        if split == "test_no_imagenet":
            return self.split == "test" and not self.is_imagenet
        return self.split == split


def read_nights_row(row: dict[str, str], where: str) -> NightsRow:
    """A data.csv row checked cell by cell; a bad cell is one `DatasetError` naming `where` (file and line) and the column."""
    counts = {column: cells.whole_number(row.get(column), where, column, NIGHTS_FIX) for column in ("left_vote", "right_vote", "votes")}
    sample_id = (row.get("id") or "").strip()
    if not sample_id:
        raise DatasetError(f"{where}: id is empty; {NIGHTS_FIX}")
    split = cells.label(row.get("split"), NIGHTS_FILE_SPLITS, where, "split", NIGHTS_FIX)
    is_imagenet = cells.label(row.get("is_imagenet"), NIGHTS_BOOLEANS, where, "is_imagenet", NIGHTS_FIX) in ("true", "1")
    return NightsRow(sample_id, counts["left_vote"], counts["right_vote"], counts["votes"], split, is_imagenet)


def read_nights_csv(csv_path: Path, split: str = "test", min_votes: int = NIGHTS_MIN_VOTES) -> list[TwoAFCTriplet]:
    """Triplets of one split from `data.csv`; image paths are relative to the csv's folder.

    Every row is checked, whatever its split: a bad cell anywhere means a damaged file.
    """
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
            where = f"{csv_path} line {line}"
            parsed = read_nights_row(row, where)
            if parsed.votes < min_votes or not parsed.in_split(split):
                continue
            triplets.append(
                TwoAFCTriplet(
                    sample_id=parsed.sample_id,
                    split=split,
                    reference=path_inside(root, row["ref_path"], where),
                    candidate_0=path_inside(root, row["left_path"], where),
                    candidate_1=path_inside(root, row["right_path"], where),
                    judge=1.0 if parsed.right_vote > parsed.left_vote else 0.0,
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


NIGHTS_SOURCE = DatasetSource(
    downloads=(Download("https://data.csail.mit.edu/nights/nights.zip", destination="."),),
    license="CC BY-NC-SA 4.0 (DreamSim project page)",
    citation="Fu et al., DreamSim: Learning New Dimensions of Human Visual Similarity using Synthetic Data, NeurIPS 2023",
)


def verify_nights(root: Path | None, report: VerifyReport) -> None:
    """`bench data verify nights`: every split's rows and the images they name."""
    assert root is not None  # verify_dataset checks the folder first
    for split in NIGHTS_SPLITS:
        try:
            triplets = read_nights_csv(root / "data.csv", split)
        except DatasetError as error:
            report.problems.append(str(error))
            if "lacks column" in str(error) or "not found" in str(error):
                return
            continue
        report.facts.append(f"{split}: {len(triplets)} triplets with >= 6 votes")
        check_images([p for t in triplets for p in (t.reference, t.candidate_0, t.candidate_1)], report, f"{split} images")
