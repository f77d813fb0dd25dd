"""Tasks turn model outputs into predictions and scores, clean and under attack."""

from attacks.config import ATTACKS, AttackConfig

from .base import PerSampleTask, Task, mean_scores
from .classification import ClassificationTask
from .detection import DetectionTask
from .oddoneout import OddOneOutTask
from .retrieval import RetrievalTask
from .twoafc import TwoAFCTask, twoafc_labels, twoafc_score

TASKS: dict[str, type[Task]] = {
    "2afc": TwoAFCTask,
    "odd-one-out": OddOneOutTask,
    "detection": DetectionTask,
    "retrieval": RetrievalTask,
    "classification": ClassificationTask,
}


def get_task(name: str, **options) -> Task:
    """The task `name`, configured by its dataset's `task_options` (e.g. 2AFC's hard or soft labels)."""
    if name not in TASKS:
        raise ValueError(f"unknown task '{name}'; known: {', '.join(TASKS)}")
    return TASKS[name](**options)


__all__ = [
    "ATTACKS",
    "AttackConfig",
    "ClassificationTask",
    "DetectionTask",
    "OddOneOutTask",
    "PerSampleTask",
    "RetrievalTask",
    "TASKS",
    "Task",
    "TwoAFCTask",
    "get_task",
    "mean_scores",
    "twoafc_labels",
    "twoafc_score",
]
