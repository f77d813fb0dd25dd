"""The model registry: one decorated factory per metric, `create_model` and `list_models`.

Third parties add metrics without touching this package, through the `perceptbench.models`
entry-point group or a `package.module:factory` name.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
import inspect
from collections.abc import Callable
from dataclasses import replace
from importlib.metadata import entry_points

import torch

from .base import PerceptualModel
from .card import UNKNOWN_WEIGHTS, ModelCard

ModelFactory = Callable[..., PerceptualModel]
ENTRY_POINT_GROUP = "perceptbench.models"

_FACTORIES: dict[str, ModelFactory] = {}
_CARDS: dict[str, ModelCard] = {}
_entry_points_loaded = False


class UnknownModelError(KeyError):
    """Raised for a model name that is not registered; the message suggests close names."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


def register_model(name: str, card: ModelCard | None = None) -> Callable[[ModelFactory], ModelFactory]:
    """Register `factory(pretrained: bool = True, **kwargs) -> PerceptualModel` under `name`."""

    def decorator(factory: ModelFactory) -> ModelFactory:
        if name in _FACTORIES and _FACTORIES[name] is not factory:
            raise ValueError(f"model '{name}' is already registered (by {_FACTORIES[name].__module__})")
        _FACTORIES[name] = factory
        _CARDS[name] = (
            replace(card, name=name)
            if card is not None
            else ModelCard(name=name, family="custom", backbone="unknown", weights=UNKNOWN_WEIGHTS)
        )
        return factory

    return decorator


def _load_entry_points() -> None:
    """Import third-party modules that register models via the entry-point group (once)."""
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        loaded = entry_point.load()
        # An entry point may name a module (whose import registers models) or a factory.
        if callable(loaded) and entry_point.name not in _FACTORIES:
            register_model(entry_point.name)(loaded)


def _import_builtin_families() -> None:
    from . import families  # noqa: F401  (importing registers every built-in metric)


def list_models(pattern: str = "*") -> list[str]:
    """Registered model names matching a shell-style `pattern`, sorted."""
    _import_builtin_families()
    _load_entry_points()
    return sorted(n for n in _FACTORIES if fnmatch.fnmatchcase(n, pattern))


def factory_accepts(name: str, keyword: str) -> bool:
    """Whether the factory of `name` takes `keyword` (e.g. `reduced` for tiny test configurations)."""
    return keyword in inspect.signature(_resolve_factory(name)).parameters


def check_model_options(name: str, options: dict) -> None:
    """Refuse keyword options the factory of `name` does not take, naming those it does."""
    parameters = inspect.signature(_resolve_factory(name)).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return
    unknown = sorted(set(options) - set(parameters))
    if unknown:
        accepted = ", ".join(p for p in parameters if p != "pretrained") or "none"
        raise ValueError(f"model '{name}' has no option {', '.join(repr(u) for u in unknown)} (--model-kwarg accepts: {accepted})")


def get_model_card(name: str) -> ModelCard:
    _resolve_factory(name)
    return _CARDS[name]


def _unknown_model_message(name: str) -> str:
    close = difflib.get_close_matches(name, list(_FACTORIES), n=3, cutoff=0.5)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return f"unknown model '{name}'{hint} (`bench models` lists all)"


def _resolve_factory(name: str) -> ModelFactory:
    _import_builtin_families()
    _load_entry_points()
    if name in _FACTORIES:
        return _FACTORIES[name]
    from .trained_folder import is_trained_folder, trained_folder_factory

    if is_trained_folder(name):  # a `bench finetune` output folder, named by its path
        factory = trained_folder_factory(name)
        return register_model(name, card=factory.card)(factory)
    if ":" in name:
        module_name, _, attr = name.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as error:
            raise UnknownModelError(f"cannot import '{module_name}' for model '{name}': {error}") from error
        factory = getattr(module, attr, None)
        if not callable(factory):
            raise UnknownModelError(f"'{module_name}' has no callable '{attr}' (model '{name}')")
        if name not in _FACTORIES:  # the import may have registered it under its own name
            register_model(name, getattr(factory, "card", None))(factory)
        return _FACTORIES[name]
    raise UnknownModelError(_unknown_model_message(name))


def create_model(
    name: str,
    pretrained: bool = True,
    device: str | torch.device = "cpu",
    **kwargs,
) -> PerceptualModel:
    """Build a registered metric in eval mode with frozen parameters, on `device`.

    `pretrained=False` builds the same architecture with random weights (tests and smoke runs);
    results from such a model are labelled `weights: random` and never ranked.
    """
    factory = _resolve_factory(name)
    check_model_options(name, kwargs)
    model = factory(pretrained=pretrained, **kwargs)
    if not isinstance(model, PerceptualModel):
        raise TypeError(f"factory for '{name}' returned {type(model).__name__}, expected a PerceptualModel")
    model.card = _CARDS[name]
    if not pretrained:
        model.weights_kind = "random" if model.card.needs_weights else "none"
    else:
        model.weights_kind = "unknown" if model.card.weights == UNKNOWN_WEIGHTS else ("pretrained" if model.card.needs_weights else "none")
    model.weights_kind = model.card.extra.get("weights_kind", model.weights_kind)  # a trained folder knows its own
    model.eval().requires_grad_(False)
    return model.to(device)
