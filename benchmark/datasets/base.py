"""What the runner reads of a loaded dataset (`Dataset`), and `DatasetBase`, which gives every part a default.

A dataset's loader (`DatasetSpec.load`) returns an object of this shape; `load_dataset` refuses one that
lacks a part, in one line, before any model is built. Subclassing `DatasetBase` gives the defaults: the
dataset keeps its own image transform, one score per sample averaged over samples, no task options and
nothing more to record in the result's protocol.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

from torch.utils.data import Dataset as TorchDataset


@runtime_checkable
class Dataset(Protocol):
    """A loaded dataset as the runner uses it.

    `follows_model_preprocessing`: the runner installs the evaluated model's transform as `image_transform`.
    `native_resolution`: the runner asks LPIPS-family metrics not to resize (BAPPS at its 64x64 files).
    `score_averaging`: "samples", or "splits" (twoafc.SCORE_AVERAGING) for a headline that is the mean of the split means (BAPPS).
    `task_options`: the task's configuration the data implies (2AFC's hard or soft labels).
    `protocol()`: how the data is scored and prepared, written into every result.
    """

    name: str
    follows_model_preprocessing: bool
    native_resolution: bool
    score_averaging: str
    image_transform: Callable[..., Any] | None

    @property
    def task_options(self) -> Mapping[str, Any]: ...

    def protocol(self) -> dict[str, Any]: ...

    def sample_info(self, position: int) -> dict[str, str]: ...

    def __len__(self) -> int: ...

    def __getitem__(self, position: int) -> dict: ...


DATASET_PARTS = (
    *("name", "follows_model_preprocessing", "native_resolution", "score_averaging", "image_transform"),
    *("task_options", "protocol", "sample_info", "__len__", "__getitem__"),
)


class DatasetBase(TorchDataset):
    """The defaults of `Dataset`: subclass it and define `name`, `sample_info`, `__len__` and `__getitem__`."""

    name: str = ""
    follows_model_preprocessing: bool = False
    native_resolution: bool = False
    score_averaging: str = "samples"
    image_transform: Callable[..., Any] | None = None

    @property
    def task_options(self) -> Mapping[str, Any]:
        """No task options: the task's defaults apply."""
        return {}

    def protocol(self) -> dict[str, Any]:
        """Nothing beyond what the runner records."""
        return {}


def missing_parts(dataset: object) -> list[str]:
    """The parts of `Dataset` that `dataset` lacks (empty when it has them all)."""
    return [part for part in DATASET_PARTS if not hasattr(dataset, part)]
