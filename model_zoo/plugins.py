"""Third-party plugins through entry points: the one loader every registry (models, attacks, tasks, datasets) uses.

An entry point of a `perceptbench.*` group names either a module, whose import registers what it defines
(`@register_model`, `@register_attack`, `@register_task`, `register_dataset`), or one object that the
registry registers under the entry point's name. model_zoo is the lowest layer, so every package may import
it; a light registry (attacks) imports it where it loads its plugins, as `model_zoo/__init__` loads torch.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from importlib.metadata import entry_points
from types import ModuleType
from typing import Any


def load_registry(builtin_modules: Iterable[str], group: str, register: Callable[[str, Any], None]) -> None:
    """Fill a registry: import its built-in modules (their decorators register them), then the entry points of `group`."""
    for module in builtin_modules:
        importlib.import_module(module)
    load_entry_points(group, register)


def load_entry_points(group: str, register: Callable[[str, Any], None]) -> None:
    """Import every entry point of `group`; an object that is not a module goes to `register(entry point name, object)`."""
    for entry_point in entry_points(group=group):
        loaded = entry_point.load()
        if not isinstance(loaded, ModuleType):
            register(entry_point.name, loaded)
