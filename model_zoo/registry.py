"""The model registry: one decorated factory per architecture, `create_model` and `list_models`.

`register_model(name, card)` registers one factory under one name; `register_architecture(cards)`
registers one architecture's factory under the name of each of its weight sets (a family's table of
weights, as timm's pretrained tags), and `list_pretrained()` pairs them. Either way the registry,
not the family, refuses `reduced=True` with `pretrained=True` and attaches the card, so a factory
called directly gives the same model as `create_model` (less eval mode, device and frozen weights).

Third parties add metrics without touching this package, through the `perceptbench.models`
entry-point group or a `package.module:factory` name.
"""

from __future__ import annotations

import difflib
import fnmatch
import functools
import importlib
import inspect
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, get_type_hints

import torch

from .base import PerceptualModel
from .card import UNKNOWN_WEIGHTS, ModelCard
from .option_types import typed_factory_options
from .plugins import load_entry_points

ModelFactory = Callable[..., PerceptualModel]
ENTRY_POINT_GROUP = "perceptbench.models"

_FACTORIES: dict[str, ModelFactory] = {}
_CARDS: dict[str, ModelCard] = {}
_ORIGINS: dict[str, Callable[..., Any]] = {}  # name -> the family's own factory (for duplicates and list_pretrained)
_entry_points_loaded = False


class UnknownModelError(KeyError):
    """Raised for a model name that is not registered; the message suggests close names."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


def _custom_card(name: str) -> ModelCard:
    """The card of a factory registered without one: nothing is known about its weights."""
    return ModelCard(name=name, family="custom", backbone="unknown", weights=UNKNOWN_WEIGHTS)


def _weights_kind(card: ModelCard, pretrained: bool) -> str:
    """pretrained | random | none | unknown: what the weights of a model built with this card are."""
    if not pretrained:
        kind = "random" if card.needs_weights else "none"
    elif card.weights == UNKNOWN_WEIGHTS:
        kind = "unknown"
    else:
        kind = "pretrained" if card.needs_weights else "none"
    return str(card.extra.get("weights_kind", kind))  # a trained folder knows its own


def _bound_arguments(signature: inspect.Signature, args: tuple, kwargs: dict) -> dict[str, Any]:
    """The arguments of a call with the factory's defaults filled in (so `pretrained` is always known)."""
    bound = signature.bind(*args, **kwargs)
    bound.apply_defaults()
    arguments = dict(bound.arguments)
    for parameter in signature.parameters.values():  # a factory's **options: `reduced` may arrive there
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            arguments.update(arguments.pop(parameter.name, {}))
    return arguments


def _refuse_reduced_pretrained(name: str, arguments: dict[str, Any]) -> None:
    """`reduced=True` is a random-weight test configuration: no published weights fit it."""
    if arguments.get("reduced") and arguments.get("pretrained", True):
        raise ValueError(
            f"model '{name}': reduced=True builds a small random-weight configuration; "
            "use it with pretrained=False (--random-weights on the command line)"
        )


def _with_card(model: Any, name: str, card: ModelCard, pretrained: bool) -> PerceptualModel:
    """Give a freshly built model its card and weights kind, whoever called its factory."""
    if not isinstance(model, PerceptualModel):
        raise TypeError(f"factory for '{name}' returned {type(model).__name__}, expected a PerceptualModel")
    model.card = card
    model.weights_kind = _weights_kind(card, pretrained)
    return model


def _carded(factory: ModelFactory, name: str, card: ModelCard) -> ModelFactory:
    """`factory`, checked and carded: the reduced/pretrained guard before it runs, the card after."""
    signature = inspect.signature(factory)

    @functools.wraps(factory)
    def build(*args: Any, **kwargs: Any) -> PerceptualModel:
        arguments = _bound_arguments(signature, args, kwargs)
        _refuse_reduced_pretrained(name, arguments)
        return _with_card(factory(*args, **kwargs), name, card, bool(arguments.get("pretrained", True)))

    build.__dict__["card"] = card  # read back by `pkg.module:factory` names that point at a registered factory
    return build


def _add(name: str, factory: ModelFactory, card: ModelCard, origin: Callable[..., Any]) -> None:
    if name in _FACTORIES and _ORIGINS.get(name) is not origin:
        raise ValueError(f"model '{name}' is already registered (by {_FACTORIES[name].__module__})")
    _FACTORIES[name] = factory
    _CARDS[name] = card
    _ORIGINS[name] = origin


def register_model(name: str, card: ModelCard | None = None) -> Callable[[ModelFactory], ModelFactory]:
    """Register `factory(pretrained: bool = True, **kwargs) -> PerceptualModel` under `name`.

    The decorator returns the factory wrapped so that however it is called (through `create_model`
    or directly) it refuses `reduced=True` with `pretrained=True` and gives the model its card.
    """

    def decorator(factory: ModelFactory) -> ModelFactory:
        named_card = replace(card, name=name) if card is not None else _custom_card(name)
        registered = _carded(factory, name, named_card)
        _add(name, registered, named_card, factory)
        return registered

    return decorator


def register_architecture(weight_sets: Mapping[str, ModelCard], parameter: str = "weights") -> Callable[[ModelFactory], ModelFactory]:
    """Register one architecture's factory under the name of each of its weight sets (timm's pretrained tags).

    `weight_sets` maps each public model name to its card; the factory takes the name as `parameter`
    (its default is the weight set a direct call builds). Each registered name is the factory with
    that argument fixed, so `--model-kwarg` cannot swap the weights under a card.
    """
    cards = {name: replace(card, name=name) for name, card in weight_sets.items()}

    def decorator(factory: ModelFactory) -> ModelFactory:
        signature = inspect.signature(factory)
        if parameter not in signature.parameters or signature.parameters[parameter].default not in cards:
            raise TypeError(f"{factory.__name__} must take `{parameter}` defaulting to one of {sorted(cards)}")

        @functools.wraps(factory)
        def build(*args: Any, **kwargs: Any) -> PerceptualModel:
            arguments = _bound_arguments(signature, args, kwargs)
            name = arguments[parameter]
            if name not in cards:
                raise ValueError(f"{factory.__name__} has no weight set {name!r}; choose one of {', '.join(sorted(cards))}")
            _refuse_reduced_pretrained(name, arguments)
            return _with_card(factory(*args, **kwargs), name, cards[name], bool(arguments.get("pretrained", True)))

        fixed_signature = signature.replace(parameters=[p for p in signature.parameters.values() if p.name != parameter])
        for name, card in cards.items():
            _add(name, _weight_set_factory(build, fixed_signature, parameter, name, card), card, factory)
        return build

    return decorator


def _weight_set_factory(build: ModelFactory, signature: inspect.Signature, parameter: str, name: str, card: ModelCard) -> ModelFactory:
    """`build` with `parameter=name` fixed, named after the model (`r-clip-f-convnext` -> `r_clip_f_convnext`)."""

    def factory(*args: Any, **kwargs: Any) -> PerceptualModel:
        return build(*args, **kwargs, **{parameter: name})

    factory.__signature__ = signature  # type: ignore[attr-defined]  # what factory_accepts and check_model_options read
    factory.__name__ = factory.__qualname__ = "".join(c if c.isalnum() else "_" for c in name)
    factory.__module__ = build.__module__
    factory.__doc__ = f"{build.__name__} with the '{name}' weights ({card.weights.describe()})."
    factory.__dict__["card"] = card
    return factory


def _load_entry_points() -> None:
    """Import third-party modules that register models via the entry-point group (once)."""
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    load_entry_points(ENTRY_POINT_GROUP, _register_entry_point)


def _register_entry_point(name: str, loaded: Any) -> None:
    """An entry point that names a factory (not a module whose import registers models): registered under its name."""
    if callable(loaded) and name not in _FACTORIES:
        register_model(name)(loaded)


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
    """Refuse keyword options the factory of `name` does not take (naming those it does), or of the wrong type."""
    typed_factory_options(name, inspect.signature(_resolve_factory(name)).parameters, options)  # model_zoo/option_types.py


def declared_options(name: str) -> tuple[str, ...]:
    """The keyword options the factory of `name` names explicitly (not `pretrained`, not `**kwargs`): all a submission's card may set."""
    parameters = inspect.signature(_resolve_factory(name)).parameters.values()
    named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return tuple(p.name for p in parameters if p.kind in named and p.name != "pretrained")


def get_model_card(name: str) -> ModelCard:
    """The card of a registered model (provenance: weights, license, citation), without building it."""
    _resolve_factory(name)
    return _CARDS[name]


def list_pretrained(pattern: str = "*") -> list[tuple[str, str]]:
    """(architecture factory, model name) pairs, as open_clip's `list_pretrained()`: which weights each factory builds."""
    names = list_models(pattern)
    return sorted((_ORIGINS[n].__name__, n) for n in names if n in _ORIGINS)


def model_class(name: str) -> type[PerceptualModel] | None:
    """The class a registered factory declares it returns, to read its properties without building it.

    None when the factory does not say (no annotation, or only `PerceptualModel`): build the model then.
    """
    _resolve_factory(name)
    try:
        returned = get_type_hints(_ORIGINS[name]).get("return")
    except (NameError, TypeError, AttributeError):  # an annotation naming something its module cannot resolve
        return None
    if isinstance(returned, type) and issubclass(returned, PerceptualModel) and returned is not PerceptualModel:
        return returned
    return None


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
        factory, card = trained_folder_factory(name)
        return register_model(name, card=card)(factory)
    if ":" in name:
        module_name, _, attr = name.partition(":")
        module = _import_model_module(module_name, name)
        named = getattr(module, attr, None)
        if not callable(named):
            raise UnknownModelError(f"'{module_name}' has no callable '{attr}' (model '{name}')")
        if name not in _FACTORIES:  # the import may have registered it under its own name
            register_model(name, getattr(named, "card", None))(named)
        return _FACTORIES[name]
    raise UnknownModelError(_unknown_model_message(name))


def _import_model_module(module_name: str, name: str):
    """Import the module of a `module:factory` name, seeing the current folder as `python -m` does.

    The `bench` script's sys.path lacks the current folder, so `--model acme_metrics:mean_absolute`
    next to acme_metrics.py would not be found; the folder is put first on sys.path for this one
    import only, and the error says where the module was looked for.
    """
    cwd = os.getcwd()
    added = cwd not in sys.path and "" not in sys.path
    if added:
        sys.path.insert(0, cwd)
    try:
        return importlib.import_module(module_name)
    except ImportError as error:
        raise UnknownModelError(
            f"cannot import '{module_name}' for model '{name}': {error} (looked in the current folder {cwd} and the installed "
            "packages; run from the folder holding the module, or pip install its package)"
        ) from error
    finally:
        if added:
            sys.path.remove(cwd)


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
    model = factory(pretrained=pretrained, **kwargs)  # the registered factory checks the result and gives it its card
    model.eval().requires_grad_(False)
    return model.to(device)
