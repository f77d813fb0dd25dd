"""The datasets perceptbench knows, registered by name."""
from __future__ import annotations

from pathlib import Path

from .bapps import BAPPS_VAL_SPLITS, load_bapps
from .demo import DEMO_SPLIT, load_demo
from .registry import DatasetSpec, register_dataset

register_dataset(
    DatasetSpec(
        name="demo",
        task="2afc",
        description="240 BAPPS-style 2AFC triplets at 64x64 built from scikit-image's photographs; no download",
        load=lambda root, split: load_demo(),
        splits=(DEMO_SPLIT,),
        default_split=DEMO_SPLIT,
    )
)


def _load_bapps(root: Path | None, split: str | None):
    return load_bapps(root / "bapps" / "2afc" / "val", splits=[split] if split else BAPPS_VAL_SPLITS)


register_dataset(
    DatasetSpec(
        name="bapps",
        task="2afc",
        description="BAPPS 2AFC val (Zhang et al. 2018): six splits of 64x64 triplets with soft human judgements",
        load=_load_bapps,
        relative_path="bapps/2afc/val",
        splits=BAPPS_VAL_SPLITS,
    )
)
