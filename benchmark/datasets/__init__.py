"""Datasets in their real on-disk formats, loaded by name."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the same names for type checkers; at run time __getattr__ imports each on first use
    from .base import Dataset, DatasetBase
    from .images import DatasetError, load_image, save_image
    from .registry import (
        DatasetSpec,
        check_dataset_available,
        get_dataset_spec,
        list_datasets,
        load_dataset,
        register_dataset,
        resolve_data_root,
    )
    from .sources import DatasetSource, Download
    from .twoafc import TwoAFCDataset, TwoAFCTriplet
    from .verify import VerifyReport

# name -> module: importing the package (or a light submodule of it) loads no torch until a name is used
_EXPORTS = {
    "Dataset": ".base",
    "DatasetBase": ".base",
    "DatasetError": ".images",
    "load_image": ".images",
    "save_image": ".images",
    "DatasetSpec": ".registry",
    "check_dataset_available": ".registry",
    "get_dataset_spec": ".registry",
    "list_datasets": ".registry",
    "load_dataset": ".registry",
    "register_dataset": ".registry",
    "resolve_data_root": ".registry",
    "DatasetSource": ".sources",
    "Download": ".sources",
    "TwoAFCDataset": ".twoafc",
    "TwoAFCTriplet": ".twoafc",
    "VerifyReport": ".verify",
}

__all__ = [
    "Dataset",
    "DatasetBase",
    "DatasetSource",
    "Download",
    "VerifyReport",
    "DatasetError",
    "DatasetSpec",
    "check_dataset_available",
    "TwoAFCDataset",
    "TwoAFCTriplet",
    "get_dataset_spec",
    "list_datasets",
    "load_dataset",
    "load_image",
    "register_dataset",
    "resolve_data_root",
    "save_image",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    globals()[name] = value
    return value
