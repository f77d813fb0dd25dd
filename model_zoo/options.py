"""Typed model options by name: every `--model-kwarg KEY=VALUE` read against the type its registered factory declares.

Used by every command that takes `--model-kwarg` (evaluate, sweep, perf, submit, invert, reproduce, finetune) and,
strictly (values already typed), by `EvaluationConfig.validate` for configurations from files. Without it
`reduced=banana` was kept as the text 'banana', which is true. The rule itself is option_types.py's.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .option_types import _untyped, typed_factory_options
from .registry import _resolve_factory


def split_option_pairs(pairs: Iterable[str], option: str = "--model-kwarg") -> dict[str, str]:
    """KEY=VALUE pairs as text, types left to `typed_model_options`; a pair without '=' or key is refused."""
    parsed: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{option} expects KEY=VALUE (e.g. {option} reduced=true), got '{pair}'")
        parsed[key.strip()] = value
    return parsed


def parse_model_options(models: Sequence[str], pairs: Iterable[str]) -> dict[str, Any]:
    """`--model-kwarg` pairs typed for every model in `models` (they all receive the same options); {} for none."""
    text = split_option_pairs(pairs)
    if not text:
        return {}
    typed = [typed_model_options(model, text, from_text=True) for model in models]
    for model, options in zip(models[1:], typed[1:]):
        if options != typed[0]:
            raise ValueError(f"--model-kwarg means {options} for '{model}' but {typed[0]} for '{models[0]}'; run them separately")
    return typed[0] if typed else {key: _untyped(key, value) for key, value in text.items()}


def typed_model_options(name: str, options: Mapping[str, Any], from_text: bool = False) -> dict[str, Any]:
    """`options` for the registered factory of `name`, typed by option_types.py's rule (`from_text`: command-line text)."""
    return typed_factory_options(name, inspect.signature(_resolve_factory(name)).parameters, options, from_text)
