"""Train your own robust metric: NIGHTS fine-tuning (LoRA, MLP head) and FARE/TeCoA adversarial fine-tuning.

`bench finetune nights|fare|tecoa ...` writes a folder that `create_model(path)` and
`bench evaluate --model path` load as any other metric."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the same names for type checkers; at run time __getattr__ imports each on first use
    from .config import FinetuneConfig, default_config
    from .trainer import TrainingRun, train

# name -> module: importing the package (or a light submodule of it) loads no torch until a name is used
_EXPORTS = {
    "FinetuneConfig": ".config",
    "default_config": ".config",
    "TrainingRun": ".trainer",
    "train": ".trainer",
}

__all__ = ["FinetuneConfig", "TrainingRun", "default_config", "train"]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    globals()[name] = value
    return value
