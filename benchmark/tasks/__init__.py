"""Tasks turn model outputs into predictions and scores, clean and under attack."""

from attacks.config import ATTACKS, AttackConfig

from .classification import ClassificationTask
from .detection import DetectionTask
from .oddoneout import OddOneOutTask
from .retrieval import RetrievalTask
from .twoafc import TwoAFCTask, twoafc_labels, twoafc_score

TASKS = {
    "2afc": TwoAFCTask,
    "odd-one-out": OddOneOutTask,
    "detection": DetectionTask,
    "retrieval": RetrievalTask,
    "classification": ClassificationTask,
}


def get_task(name: str, **options):
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
    "RetrievalTask",
    "TASKS",
    "TwoAFCTask",
    "get_task",
    "twoafc_labels",
    "twoafc_score",
]
