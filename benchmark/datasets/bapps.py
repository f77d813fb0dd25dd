"""BAPPS 2AFC (Zhang et al. 2018) in its distributed layout: `<split>/{ref,p0,p1,judge}`.

`judge/NNNNNN.npy` holds the fraction of humans who found p1 closer to the reference.
The paper's protocol (App. A-A and its code's `BAPPSTwoAFCDataset`): the 64x64 images are upsampled
to 224x224 (torchvision `Resize(224)`, bilinear) before the attack, for every model; labels are the
human majority (`bapps-bin`); the BAPPS score is the mean of the six split means (Table XIV).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from model_zoo.preprocess import Preprocessing

from .images import DatasetError, path_inside
from .sources import DatasetSource, Download
from .twoafc import TwoAFCDataset, TwoAFCTriplet
from .verify import VerifyReport, check_images

BAPPS_VAL_SPLITS = ("traditional", "cnn", "superres", "deblur", "color", "frameinterp")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def read_judge(path: Path) -> float:
    """The fraction of humans preferring p1 stored in a judge `.npy` file, checked to be one number in [0, 1]."""
    try:
        values = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise DatasetError(f"cannot read judge file {path}: {error}") from error
    if values.size != 1 or not np.isfinite(values).all() or not 0.0 <= float(values.reshape(-1)[0]) <= 1.0:
        raise DatasetError(f"judge file {path} must hold one fraction in [0, 1], got {values!r}")
    return float(values.reshape(-1)[0])


def read_bapps_split(split_dir: Path, split: str | None = None) -> list[TwoAFCTriplet]:
    """Triplets of one BAPPS split folder, matched by file stem across ref/, p0/, p1/ and judge/."""
    split_dir = Path(split_dir)
    split = split or split_dir.name
    for folder in ("ref", "p0", "p1", "judge"):
        if not (split_dir / folder).is_dir():
            raise DatasetError(f"BAPPS split {split_dir} has no '{folder}/' folder (expected ref/, p0/, p1/, judge/)")
    references = sorted(p for p in (split_dir / "ref").iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not references:
        raise DatasetError(f"BAPPS split {split_dir} has no images in ref/")
    triplets = []
    for reference in references:
        stem = reference.stem
        paths = {folder: _find(split_dir / folder, stem) for folder in ("p0", "p1")}
        judge_path = split_dir / "judge" / f"{stem}.npy"
        if not judge_path.is_file():
            raise DatasetError(f"missing {judge_path} for reference {reference}")
        for path in (reference, paths["p0"], paths["p1"], judge_path):  # a link leaving the split folder needs --follow-links
            path_inside(split_dir, f"{path.parent.name}/{path.name}", f"BAPPS split {split_dir}")
        triplets.append(TwoAFCTriplet(f"{split}/{stem}", split, reference, paths["p0"], paths["p1"], read_judge(judge_path)))
    return triplets


def _find(folder: Path, stem: str) -> Path:
    for suffix in IMAGE_SUFFIXES:
        candidate = folder / f"{stem}{suffix}"
        if candidate.is_file():
            return candidate
    raise DatasetError(f"missing {folder / stem}.png (every ref/ image needs one in {folder.name}/)")


BAPPS_IMAGE_SIZE = 224  # the paper's: upsampled from 64 before the attack


def bapps_image_size(value: int | str | None) -> int | None:
    """`image_size` option: a side length, or 0 / 'native' / None for the files' own 64x64."""
    if value is None or value == "native":
        return None
    try:
        size = int(value)
    except (TypeError, ValueError):
        raise DatasetError(
            f"BAPPS image_size must be a whole number of pixels or 'native', got {value!r} (the paper's is {BAPPS_IMAGE_SIZE})"
        ) from None
    if size < 0:
        raise DatasetError(f"BAPPS image_size must be >= 0, got {size}")
    return size or None


def load_bapps(
    root: Path,
    splits: list[str] | tuple[str, ...] = BAPPS_VAL_SPLITS,
    name: str = "bapps",
    labels: str = "hard",
    image_size: int | str | None = BAPPS_IMAGE_SIZE,
) -> TwoAFCDataset:
    """BAPPS 2AFC from `root` (the folder holding the split folders, e.g. `dataset/2afc/val`).

    Defaults are the paper's protocol: hard labels, images at 224x224, the mean of split means.
    `labels="soft"` gives LPIPS's 2AFC score; `image_size=None` attacks the files' 64x64 pixels.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"BAPPS root {root} does not exist")
    size = bapps_image_size(image_size)
    triplets: list[TwoAFCTriplet] = []
    for split in splits:
        triplets.extend(read_bapps_split(root / split, split))
    upsample = Preprocessing(size, None, "bilinear", source="the paper's code: BAPPSTwoAFCDataset, Resize(img_res=224)") if size else None
    dataset = TwoAFCDataset(
        name,
        triplets,
        labels=labels,
        image_transform=upsample.image_transform() if upsample else None,
        follows_model_preprocessing=False,
        score_averaging="splits",
        transform_description=upsample.describe() if upsample else "none (the files' 64x64 pixels)",
    )
    dataset.native_resolution = size is None  # the runner then asks LPIPS-family metrics not to resize either
    return dataset


BAPPS_SOURCE = DatasetSource(
    downloads=(
        # The archive holds val/<split>/...; LPIPS's download script unpacks it into 2afc/.
        # The sha256 is the one a public dataset index lists for this file, not LPIPS's own.
        Download(
            "https://perceptual-similarity.s3.us-west-2.amazonaws.com/dataset/twoafc_val.tar.gz",
            destination="bapps/2afc",
            sha256="41486671b06de923e7ba277c4797d4d9d86d609863ba35ecdb576133f8b9d859",
        ),
    ),
    license="BSD-2-Clause (LPIPS repository)",
    citation="Zhang et al., The Unreasonable Effectiveness of Deep Features as a Perceptual Metric, CVPR 2018",
)


def verify_bapps(root: Path | None, report: VerifyReport) -> None:
    """`bench data verify bapps`: every split's triplets, its images and equal file counts per folder."""
    assert root is not None  # verify_dataset checks the folder first
    for split in BAPPS_VAL_SPLITS:
        try:
            triplets = read_bapps_split(root / split, split)
        except DatasetError as error:
            report.problems.append(str(error))
            continue
        counts = {
            f: sum(1 for p in (root / split / f).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES + (".npy",))
            for f in ("ref", "p0", "p1", "judge")
        }
        report.facts.append(f"{split}: {len(triplets)} triplets (files: {counts})")
        check_images([p for t in triplets for p in (t.reference, t.candidate_0, t.candidate_1)], report, f"{split} images")
        if len(set(counts.values())) != 1:
            report.problems.append(f"{root / split}: ref/, p0/, p1/ and judge/ hold different numbers of files {counts}")
