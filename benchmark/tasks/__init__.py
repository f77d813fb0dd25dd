"""Tasks turn model outputs into predictions and scores, clean and under attack; chosen by name from the registry."""

from attacks.config import AttackConfig

from .base import BatchAttack, PerSampleTask, Task, mean_scores
from .classification import ClassificationTask
from .detection import DetectionTask
from .oddoneout import OddOneOutTask
from .registry import get_task, get_task_class, list_tasks, register_task
from .retrieval import RetrievalTask
from .twoafc import TwoAFCTask, twoafc_labels, twoafc_score

__all__ = [
    "AttackConfig",
    "BatchAttack",
    "ClassificationTask",
    "DetectionTask",
    "OddOneOutTask",
    "PerSampleTask",
    "RetrievalTask",
    "Task",
    "TwoAFCTask",
    "get_task",
    "get_task_class",
    "list_tasks",
    "mean_scores",
    "register_task",
    "twoafc_labels",
    "twoafc_score",
]
