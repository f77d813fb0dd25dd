"""Train your own robust metric: NIGHTS fine-tuning (LoRA, MLP head) and FARE/TeCoA adversarial fine-tuning.

`bench finetune nights|fare|tecoa ...` writes a folder that `create_model(path)` and
`bench evaluate --model path` load as any other metric.
"""

from .config import FinetuneConfig, default_config
from .trainer import TrainingRun, train

__all__ = ["FinetuneConfig", "TrainingRun", "default_config", "train"]
