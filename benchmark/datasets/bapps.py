"""BAPPS 2AFC (Zhang et al. 2018) in its distributed layout: `<split>/{ref,p0,p1,judge}`.

`judge/NNNNNN.npy` holds the fraction of humans who found p1 closer to the reference.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from .images import DatasetError
from .twoafc import TwoAFCDataset, TwoAFCTriplet

BAPPS_VAL_SPLITS = ("traditional", "cnn", "superres", "deblur", "color", "frameinterp")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def read_judge(path: Path) -> float:
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
        triplets.append(TwoAFCTriplet(f"{split}/{stem}", split, reference, paths["p0"], paths["p1"], read_judge(judge_path)))
    return triplets


def _find(folder: Path, stem: str) -> Path:
    for suffix in IMAGE_SUFFIXES:
        candidate = folder / f"{stem}{suffix}"
        if candidate.is_file():
            return candidate
    raise DatasetError(f"missing {folder / stem}.png (every ref/ image needs one in {folder.name}/)")


BAPPS_LABELS = ("soft", "binary")


def binarise(triplet: TwoAFCTriplet) -> TwoAFCTriplet:
    """The human majority as a hard label (1 when more than half preferred p1), for plain accuracy."""
    return dataclasses.replace(triplet, judge=1.0 if triplet.judge > 0.5 else 0.0)


def load_bapps(
    root: Path, splits: list[str] | tuple[str, ...] = BAPPS_VAL_SPLITS, name: str = "bapps", labels: str = "soft"
) -> TwoAFCDataset:
    """BAPPS 2AFC from `root` (the folder holding the split folders, e.g. `dataset/2afc/val`).

    `labels="soft"` keeps the judge fractions (the standard 2AFC score); `"binary"` scores against
    the majority vote instead.
    """
    if labels not in BAPPS_LABELS:
        raise DatasetError(f"unknown BAPPS labels '{labels}'; choose one of {', '.join(BAPPS_LABELS)}")
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"BAPPS root {root} does not exist")
    triplets: list[TwoAFCTriplet] = []
    for split in splits:
        triplets.extend(read_bapps_split(root / split, split))
    if labels == "binary":
        triplets = [binarise(t) for t in triplets]
    return TwoAFCDataset(name, triplets, soft_labels=labels == "soft")
