"""Tasks by name: `@register_task` on a task class, `get_task` for the runner, the `perceptbench.tasks` entry points.

A dataset names its task (`DatasetSpec.task`); the runner builds it here with the dataset's `task_options`.
Each built-in task registers itself in its own module; a third party registers one with `register_task` in a
module named by an entry point of the group `perceptbench.tasks`.
"""

from __future__ import annotations

import difflib
from typing import Any, TypeVar

from model_zoo.plugins import load_registry

ENTRY_POINT_GROUP = "perceptbench.tasks"
BUILTIN_MODULES = (
    "benchmark.tasks.twoafc",
    "benchmark.tasks.oddoneout",
    "benchmark.tasks.detection",
    "benchmark.tasks.retrieval",
    "benchmark.tasks.classification",
)

T = TypeVar("T", bound=type)
_TASKS: dict[str, type] = {}
_loaded = False


def register_task(task_class: T) -> T:
    """Register the decorated task class under its `name` attribute (a name taken twice is an error)."""
    name = getattr(task_class, "name", "")
    if not isinstance(name, str) or not name:
        raise ValueError(f"task class {task_class.__name__} needs a non-empty class attribute `name` to be registered")
    if name in _TASKS and _TASKS[name] is not task_class:
        raise ValueError(f"task '{name}' is registered twice ({_TASKS[name].__module__} and {task_class.__module__}); rename one")
    _TASKS[name] = task_class
    return task_class


def _load() -> None:
    """Import the built-in task modules and the third parties' entry points, once."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    load_registry(BUILTIN_MODULES, ENTRY_POINT_GROUP, _register_entry_point)


def _register_entry_point(name: str, loaded: Any) -> None:
    """An entry point that names a task class (not a module whose import registers tasks): registered under its `name`."""
    if isinstance(loaded, type) and getattr(loaded, "name", None) not in _TASKS:
        register_task(loaded)


def list_tasks() -> tuple[str, ...]:
    """Every registered task name: the built-in ones first, in `BUILTIN_MODULES` order, then third parties'."""
    _load()

    def rank(name: str) -> int:
        module = _TASKS[name].__module__
        return BUILTIN_MODULES.index(module) if module in BUILTIN_MODULES else len(BUILTIN_MODULES)

    return tuple(sorted(_TASKS, key=rank))


def get_task_class(name: str) -> type:
    """The task class registered as `name`; an unknown name is an error with the closest names and the full list."""
    _load()
    if name not in _TASKS:
        close = difflib.get_close_matches(name, list(_TASKS), n=3, cutoff=0.5)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(f"unknown task '{name}'{hint} (known: {', '.join(list_tasks())})")
    return _TASKS[name]


def get_task(name: str, **options: Any) -> Any:
    """The task `name`, configured by its dataset's `task_options` (e.g. 2AFC's hard or soft labels)."""
    return get_task_class(name)(**options)
