"""Datasets by name: everything the benchmark knows of each one, in one `DatasetSpec`.

The built-in datasets register in `builtin.py`, each with the loader, source and check its own module
defines; a third party registers a `DatasetSpec` (one file) through an entry point of the group
`perceptbench.datasets` that names either the spec or a module whose import calls `register_dataset`.
`bench datasets`, `bench data download|verify` and the runner read nothing about a dataset but its spec
and the loaded dataset's `Dataset` protocol (base.py).
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .base import Dataset, missing_parts
from .images import DatasetError
from .sources import DatasetSource

if TYPE_CHECKING:
    from .verify import VerifyReport

DATA_ROOT_ENV = "PERCEPTBENCH_DATA"
ENTRY_POINT_GROUP = "perceptbench.datasets"


def no_format_checks(location: Path | None, report: VerifyReport) -> None:
    """The check of a dataset that declares none: its folder is there (verify_dataset looked), nothing more is known."""
    report.facts.append("present (this dataset declares no format checks)" if location is not None else "needs no data root")


@dataclass(frozen=True)
class DatasetSpec:
    """Everything the benchmark knows of one dataset: its task, where it lives, how to load, fetch and check it.

    `load(location, split, **options)` gets the dataset's folder (`data root / relative_path`; None for a
    dataset that needs no data root). `required_file` is the file in that folder whose presence means the
    dataset is there (the folder itself when None). `verify(location, report)` is `bench data verify`'s check,
    defined beside the loader; `verify_dataset` has already reported a missing folder when it runs.
    `choices` names the entries of `benchmark/protocol_choices.py's PROTOCOL_CHOICES` (what we chose where the paper is silent)
    that apply to its runs; the runner writes them into each result's protocol.
    """

    name: str
    task: str
    description: str
    load: Callable[..., Dataset]
    relative_path: str | None = None  # the dataset's folder under the data root; None = needs no data root
    required_file: str | None = None
    splits: tuple[str, ...] = ()
    default_split: str | None = None
    options: tuple[str, ...] = ()  # keyword options `load` accepts, e.g. BAPPS's `labels`
    source: DatasetSource = DatasetSource()  # what `bench data download` fetches or says to put in place
    verify: Callable[[Path | None, VerifyReport], None] = no_format_checks
    choices: tuple[str, ...] = ()

    def location(self, data_root: Path | None) -> Path | None:
        """The dataset's folder under `data_root` (None when it needs no data root)."""
        if self.relative_path is None or data_root is None:
            return None
        return data_root / self.relative_path

    def required_path(self, data_root: Path | None) -> Path | None:
        """The file (or folder) whose presence under `data_root` means the dataset is there."""
        location = self.location(data_root)
        return location / self.required_file if location is not None and self.required_file else location

    def is_available(self, data_root: Path | None) -> bool:
        """Whether the files `load` needs are there (always, for a dataset that needs no data root)."""
        if self.relative_path is None:
            return True
        required = self.required_path(data_root)
        return required is not None and required.exists()

    def local_copy(self, data_root: Path | None) -> str:
        """One line for `bench datasets`: where this dataset's files are, or why none are needed."""
        if self.relative_path is None:
            if "path" in self.options:  # a loader for the user's own folder, not a dataset we ship
                return "your own folder: --dataset-option path=DIR"
            return "embedded: generated on first use, no download"
        if data_root is None:
            return f"no data root (--data-root or ${DATA_ROOT_ENV})"
        return "available" if self.is_available(data_root) else f"missing: {self.required_path(data_root)}"


_DATASETS: dict[str, DatasetSpec] = {}
_loaded = False


def register_dataset(spec: DatasetSpec) -> DatasetSpec:
    """Make `spec` loadable by its name (a name taken twice is an error: it would hide a dataset)."""
    if not isinstance(spec, DatasetSpec):
        raise TypeError(f"register_dataset takes a DatasetSpec, got {type(spec).__name__}")
    if spec.name in _DATASETS and _DATASETS[spec.name] is not spec:
        raise ValueError(
            f"dataset '{spec.name}' is registered twice ({_DATASETS[spec.name].description!r} and {spec.description!r}); rename one"
        )
    _DATASETS[spec.name] = spec
    return spec


def _load() -> None:
    """Register the built-in datasets and the third parties' entry points, once."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    from model_zoo.plugins import load_entry_points

    from . import builtin  # noqa: F401  (registers the built-in datasets)

    load_entry_points(ENTRY_POINT_GROUP, _register_entry_point)


def _register_entry_point(name: str, loaded: Any) -> None:
    """An entry point that names a `DatasetSpec` (not a module whose import registers datasets)."""
    if not isinstance(loaded, DatasetSpec):
        raise DatasetError(f"entry point '{name}' of {ENTRY_POINT_GROUP} names a {type(loaded).__name__}; name a DatasetSpec or a module")
    if loaded.name not in _DATASETS:
        register_dataset(loaded)


def list_datasets() -> list[DatasetSpec]:
    """Every registered dataset, sorted by name."""
    _load()
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
                f"dataset '{name}' not found at {spec.required_path(root)}; `bench data download {name}` fetches it or says where to put it"
            )
    return spec


def load_dataset(name: str, data_root: str | Path | None = None, split: str | None = None, **options) -> Dataset:
    """Dataset `name` from the data root, after checking its options, split and files; the one way the runner loads data."""
    spec = check_dataset_available(name, data_root, **options)
    if split is not None and spec.splits and split not in spec.splits:
        raise DatasetError(f"dataset '{name}' has no split '{split}'; choose one of {', '.join(spec.splits)}")
    dataset = spec.load(spec.location(resolve_data_root(data_root)), split, **options)
    missing = missing_parts(dataset)
    if missing:
        raise DatasetError(
            f"dataset '{name}': its loader returned a {type(dataset).__name__} without {', '.join(missing)}; "
            "subclass benchmark.datasets.base.DatasetBase, which gives each a default"
        )
    return dataset
