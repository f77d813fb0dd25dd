"""THINGS odd-one-out (Hebart et al. 2020), as DreamSim and the paper (Table XII) evaluate it.

On disk, under the dataset folder:
- `things_first_imgs_idx.txt`: one image path per line (1854 lines, one image per concept),
  relative to `Images/`;
- `triplets_large_final_correctednc_correctedorder.csv`: tab-separated, with a header
  `image1 image2 image3 choice ...` (1-based indices into the image list, and the 1-based
  position of the odd one out within the triplet); a file without that header is read by column
  position (the first four columns).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import torch

from . import cells
from .base import DatasetBase
from .images import DatasetError, ImageTransform, load_image, path_inside
from .sources import DatasetSource
from .verify import VerifyReport, check_images

THINGS_IMAGE_LIST = "things_first_imgs_idx.txt"
THINGS_CONCEPTS = 1854
THINGS_TRIPLETS = "triplets_large_final_correctednc_correctedorder.csv"
THINGS_IMAGE_DIR = "Images"
THINGS_SPLIT = "test"
THINGS_FIX = "correct that line, or fetch the file again (see `bench data download things`)"


@dataclass(frozen=True)
class OddOneOutTriplet:
    """Three images and the position humans chose as the odd one out."""

    sample_id: str
    images: tuple[Path, Path, Path]
    odd: int  # 0, 1 or 2: the position of the image humans chose as the odd one out


def read_image_list(path: Path, image_dir: Path) -> list[Path]:
    """The THINGS image list: one path per line relative to `image_dir`, refused when it leaves that folder."""
    if not path.is_file():
        raise DatasetError(f"THINGS image list not found: {path} (see `bench data download things`)")
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    paths = [path_inside(image_dir, line, path) for line in lines if line]
    if not paths:
        raise DatasetError(f"THINGS image list {path} is empty")
    return paths


def read_things_triplets(path: Path, images: list[Path]) -> list[OddOneOutTriplet]:
    """Triplets with their human choice; every index is checked against the image list."""
    if not path.is_file():
        raise DatasetError(f"THINGS triplet file not found: {path} (see `bench data download things`)")
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle, delimiter="\t"))
    if not rows:
        raise DatasetError(f"THINGS triplet file {path} is empty")
    header = [cell.strip() for cell in rows[0]]
    wanted = ("image1", "image2", "image3", "choice")
    if all(name in header for name in wanted):
        columns, body, first_line = [header.index(name) for name in wanted], rows[1:], 2
    else:
        columns, body, first_line = [0, 1, 2, 3], rows, 1
    triplets = []
    for line, row in enumerate(body, start=first_line):
        if not row:
            continue
        if len(row) <= max(columns):
            raise DatasetError(f"{path} line {line}: expected tab-separated image1, image2, image3, choice, got {row!r}; {THINGS_FIX}")
        i, j, k, choice = (cells.whole_number(row[c], f"{path} line {line}", name, THINGS_FIX, 1) for c, name in zip(columns, wanted))
        if not all(1 <= index <= len(images) for index in (i, j, k)):
            raise DatasetError(f"{path} line {line}: image index out of 1..{len(images)} (the image list's length): {row!r}")
        if choice not in (1, 2, 3):
            raise DatasetError(f"{path} line {line}: choice must be 1, 2 or 3 (position of the odd one out), got {choice}")
        triplets.append(OddOneOutTriplet(str(line - first_line), (images[i - 1], images[j - 1], images[k - 1]), choice - 1))
    if not triplets:
        raise DatasetError(f"THINGS triplet file {path} holds no triplets")
    return triplets


class OddOneOutDataset(DatasetBase):
    """Triplets of images and the human odd-one-out choice, read lazily."""

    task = "odd-one-out"

    follows_model_preprocessing = True  # the paper's code loads THINGS through the model's transform

    def __init__(self, name: str, triplets: list[OddOneOutTriplet], image_transform: ImageTransform | None = None):
        self.name = name
        self.triplets = triplets
        self.image_transform = image_transform

    def __len__(self) -> int:
        return len(self.triplets)

    def sample_info(self, position: int) -> dict[str, str]:
        """What the per-sample outcome file records about the triplet at `position`."""
        return {"sample_id": self.triplets[position].sample_id, "split": THINGS_SPLIT}

    def __getitem__(self, position: int) -> dict:
        triplet = self.triplets[position]
        item = {f"image_{n}": load_image(path, self.image_transform) for n, path in enumerate(triplet.images)}
        return {**item, "odd": torch.tensor(triplet.odd), "position": position}


def load_things(root: Path) -> OddOneOutDataset:
    """THINGS odd-one-out from `root` (the folder holding the image list, triplets and Images/)."""
    root = Path(root)
    images = read_image_list(root / THINGS_IMAGE_LIST, root / THINGS_IMAGE_DIR)
    return OddOneOutDataset("things", read_things_triplets(root / THINGS_TRIPLETS, images))


THINGS_SOURCE = DatasetSource(
    manual=(
        "THINGS images are distributed on OSF behind a licence agreement (https://osf.io/jum2f/), the triplets at "
        "https://osf.io/f5rn6/ (data/triplet_dataset/). Put into {root}/things/: Images/ (the image folders), "
        "things_first_imgs_idx.txt (one image path per line, relative to Images/, one per concept) and "
        "triplets_large_final_correctednc_correctedorder.csv (tab-separated, header image1 image2 image3 choice ...)."
    ),
    license="THINGS: CC BY 4.0 for the behavioural data; images under the THINGS terms of use",
    citation="Hebart et al., THINGS: A database of 1,854 object concepts and more than 26,000 naturalistic object images, PLoS ONE 2019",
)


def verify_things(root: Path | None, report: VerifyReport) -> None:
    """`bench data verify things`: the image list (one image per concept), the triplets and every listed image."""
    assert root is not None  # verify_dataset checks the folder first
    try:
        images = read_image_list(root / THINGS_IMAGE_LIST, root / THINGS_IMAGE_DIR)
        triplets = read_things_triplets(root / THINGS_TRIPLETS, images)
    except DatasetError as error:
        report.problems.append(str(error))
        return
    report.facts.append(f"{len(images)} images listed, {len(triplets)} triplets")
    if len(images) != THINGS_CONCEPTS:
        report.problems.append(f"{root / THINGS_IMAGE_LIST} lists {len(images)} images; the distributed list has {THINGS_CONCEPTS}")
    check_images(images, report, "listed images")
