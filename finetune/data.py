"""Training data in the real on-disk formats: NIGHTS (through the benchmark's loader) and ImageNet class folders."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import torch
from torch.utils.data import Dataset

from benchmark.datasets.images import DatasetError, load_image
from benchmark.datasets.nights import load_nights
from benchmark.datasets.registry import resolve_data_root
from benchmark.datasets.twoafc import TwoAFCDataset
from model_zoo.preprocess import Preprocessing

IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png", ".webp", ".bmp")


def nights_folder(data_root: str | Path | None) -> Path:
    """The NIGHTS folder (holding data.csv): `<data root>/nights`, or the given folder itself."""
    root = resolve_data_root(data_root)
    if root is None:
        raise DatasetError("NIGHTS fine-tuning needs a data root: pass --data-root DIR (holding nights/data.csv) or set $PERCEPTBENCH_DATA")
    for candidate in (root / "nights", root):
        if (candidate / "data.csv").is_file():
            return candidate
    raise DatasetError(f"no NIGHTS under '{root}': expected {root / 'nights' / 'data.csv'} (`bench data download nights` fetches it)")


def load_nights_split(data_root: str | Path | None, split: str) -> TwoAFCDataset:
    """One split of NIGHTS from the data root, read by the benchmark's own loader (so training sees what evaluation sees)."""
    return load_nights(nights_folder(data_root), split)


def image_folder_split(data_root: str | Path | None, split: str = "train") -> Path:
    """`<data root>/<split>`, the folder of ImageNet-style class folders; a clear error when it is not there."""
    root = resolve_data_root(data_root)
    if root is None:
        raise DatasetError("adversarial fine-tuning needs an ImageNet-format folder: pass --data-root DIR (holding train/<wnid>/*.JPEG)")
    folder = root / split
    if not folder.is_dir():
        raise DatasetError(f"no '{split}' folder under '{root}': expected {folder}/<wnid>/*.JPEG (ImageNet's layout)")
    return folder


def check_training_data(method: str, data_root: str | Path | None) -> None:
    """Fail on a missing dataset before any weights are built or downloaded."""
    if method in ("lora", "mlp"):
        nights_folder(data_root)
    else:
        image_folder_split(data_root)


class ImageFolderDataset(Dataset):
    """ImageNet's layout, `<root>/<split>/<wnid>/*.JPEG`: items {image, label}, labels in sorted-wnid order.

    Images go through the geometric part of `preprocessing` (the model's own: open_clip's Resize +
    CenterCrop), not normalised, as the FARE/TeCoA training code prepares them (its `image_processor`
    without Normalize); the attack then acts on those pixels.
    """

    task = "classification"

    def __init__(self, root: str | Path | None, preprocessing: Preprocessing, split: str = "train"):
        folder = image_folder_split(root, split)
        self.classes = sorted(p.name for p in folder.iterdir() if p.is_dir())
        self.items: list[tuple[Path, int]] = []
        for label, wnid in enumerate(self.classes):
            files = sorted(p for p in (folder / wnid).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            self.items.extend((path, label) for path in files)
        if not self.items:
            raise DatasetError(f"'{folder}' holds no images in class folders (expected {folder}/<wnid>/*.JPEG)")
        self.preprocessing = preprocessing
        self.image_transform = preprocessing.image_transform()

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, position: int) -> dict:
        path, label = self.items[position]
        return {"image": load_image(path, self.image_transform), "label": torch.tensor(label), "position": position}


class SizedDataset(Protocol):
    """A map-style dataset that knows its length (torch's `Dataset` does not promise `__len__`)."""

    def __len__(self) -> int: ...

    def __getitem__(self, position: int) -> Any: ...


D = TypeVar("D", bound=SizedDataset)


class Subset(Dataset, Generic[D]):
    """The first `n` items of a dataset (smoke runs); `dataset` keeps its own type, so its attributes stay typed."""

    def __init__(self, dataset: D, n: int | None):
        self.dataset = dataset
        self.n = len(dataset) if n is None else min(n, len(dataset))

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, position: int):
        if not 0 <= position < self.n:
            raise IndexError(position)
        return self.dataset[position]
