"""Datasets by name: how to load each, and where it is expected on disk."""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from torch.utils.data import Dataset

from .images import DatasetError

DATA_ROOT_ENV = "PERCEPTBENCH_DATA"


@dataclass(frozen=True)
class DatasetSpec:
    """How to load one dataset by name, where it lives under the data root and which splits and options it takes."""

    name: str
    task: str
    description: str
    load: Callable[..., Dataset]  # (data_root, split, **options) -> dataset
    relative_path: str | None = None  # where it lives under the data root; None = needs no data root
    splits: tuple[str, ...] = ()
    default_split: str | None = None
    options: tuple[str, ...] = ()  # keyword options `load` accepts, e.g. BAPPS's `labels`

    def location(self, data_root: Path | None) -> Path | None:
        """Where the dataset's files are expected under `data_root` (None when it needs no data root)."""
        if self.relative_path is None or data_root is None:
            return None
        return data_root / self.relative_path

    def is_available(self, data_root: Path | None) -> bool:
        """Whether the files `load` needs are there (always, for a dataset that needs no data root)."""
        if self.relative_path is None:
            return True
        location = self.location(data_root)
        return location is not None and location.exists()

    def local_copy(self, data_root: Path | None) -> str:
        """One line for `bench datasets`: where this dataset's files are, or why none are needed."""
        if self.relative_path is None:
            if "path" in self.options:  # a loader for the user's own folder, not a dataset we ship
                return "your own folder: --dataset-option path=DIR"
            return "embedded: generated on first use, no download"
        if data_root is None:
            return f"no data root (--data-root or ${DATA_ROOT_ENV})"
        return "available" if self.is_available(data_root) else f"missing: {self.location(data_root)}"


_DATASETS: dict[str, DatasetSpec] = {}


def register_dataset(spec: DatasetSpec) -> DatasetSpec:
    """Make `spec` loadable by its name (the built-in datasets register in `builtin.py`)."""
    _DATASETS[spec.name] = spec
    return spec


def list_datasets() -> list[DatasetSpec]:
    """Every registered dataset, sorted by name."""
    from . import builtin  # noqa: F401  (registers the built-in datasets)

    return [_DATASETS[name] for name in sorted(_DATASETS)]


def get_dataset_spec(name: str) -> DatasetSpec:
    """The registered dataset `name`; an unknown name suggests close ones."""
    names = [spec.name for spec in list_datasets()]
    if name not in _DATASETS:
        close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise DatasetError(f"unknown dataset '{name}'{hint} (`bench datasets` lists all: {', '.join(names)})")
    return _DATASETS[name]


def resolve_data_root(data_root: str | Path | None) -> Path | None:
    """`--data-root`, else `$PERCEPTBENCH_DATA`, else None."""
    if data_root is None:
        data_root = os.environ.get(DATA_ROOT_ENV)
    return Path(data_root).expanduser() if data_root else None


def check_dataset_available(name: str, data_root: str | Path | None = None, **options) -> DatasetSpec:
    """Refuse an unknown dataset or option, or one whose files are not under the data root, before any work."""
    spec = get_dataset_spec(name)
    unknown = sorted(set(options) - set(spec.options))
    if unknown:
        accepted = ", ".join(spec.options) or "none"
        raise DatasetError(f"dataset '{name}' has no option {', '.join(unknown)} (accepted: {accepted})")
    root = resolve_data_root(data_root)
    if spec.relative_path is not None:
        if root is None:
            raise DatasetError(f"dataset '{name}' needs a data root: pass --data-root DIR or set ${DATA_ROOT_ENV}")
        if not spec.is_available(root):
            raise DatasetError(
                f"dataset '{name}' not found at {spec.location(root)}; `bench data download {name}` fetches it or says where to put it"
            )
    return spec


def load_dataset(name: str, data_root: str | Path | None = None, split: str | None = None, **options) -> Dataset:
    """Dataset `name` from the data root, after checking its options, split and files; the one way the runner loads data."""
    spec = check_dataset_available(name, data_root, **options)
    root = resolve_data_root(data_root)
    if split is not None and spec.splits and split not in spec.splits:
        raise DatasetError(f"dataset '{name}' has no split '{split}'; choose one of {', '.join(spec.splits)}")
    return spec.load(root, split, **options)
