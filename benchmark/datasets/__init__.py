"""Datasets in their real on-disk formats, loaded by name."""

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
from .twoafc import TwoAFCDataset, TwoAFCTriplet

__all__ = [
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
