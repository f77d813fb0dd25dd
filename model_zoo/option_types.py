"""The one rule for typed model options: each value read against the type its factory's signature declares.

A bool takes true/false/1/0 only, an int a whole number, a float a finite number, a str any text; a parameter
the factory leaves untyped takes a JSON scalar (true, 3, 0.5) or else the text. It needs only the factory's
signature, so the registry (which checks every `create_model` call) and options.py (which reads names from the
command line) both use it without importing each other.
"""

from __future__ import annotations

import inspect
import json
import math
import re
import types
import typing
from collections.abc import Mapping
from typing import Any

SCALAR_TYPES: dict[str, type] = {"bool": bool, "int": int, "float": float, "str": str}
TRUE_TEXT, FALSE_TEXT = ("true", "1"), ("false", "0")
INTEGER = re.compile(r"[+-]?\d+")


def typed_factory_options(
    name: str, parameters: Mapping[str, inspect.Parameter], options: Mapping[str, Any], from_text: bool = False
) -> dict[str, Any]:
    """`options` for the factory of `name` (its signature's `parameters`), each value of its declared type; unknown names and bad values refused.

    `from_text`: values are command-line text to convert ('true' -> True); otherwise they must already be of
    the declared type (a campaign file's `reduced: banana` is refused, not read as true).
    """
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    unknown = sorted(set(options) - set(parameters)) if not takes_any else []
    if unknown:
        accepted = ", ".join(p for p in parameters if p != "pretrained") or "none"
        raise ValueError(f"model '{name}' has no option {', '.join(repr(u) for u in unknown)} (--model-kwarg accepts: {accepted})")
    typed: dict[str, Any] = {}
    for key, value in options.items():
        kind, optional = _declared_type(parameters[key].annotation) if key in parameters else (None, False)
        if optional and value is None or optional and from_text and str(value).lower() in ("none", "null"):
            typed[key] = None
        elif kind is None:
            typed[key] = _untyped(key, value) if from_text and isinstance(value, str) else _scalar(key, value)
        else:
            typed[key] = _convert(name, key, value, kind, from_text)
    return typed


def _declared_type(annotation: Any) -> tuple[type | None, bool]:
    """(bool | int | float | str | None for anything else, whether None is allowed) of a parameter's annotation."""
    if isinstance(annotation, str):  # `from __future__ import annotations`: 'bool', 'int | None', 'Optional[str]'
        names = [part.strip() for part in re.split(r"[|\[\],]", annotation.replace("Optional", "")) if part.strip()]
        optional = "None" in names or annotation.startswith("Optional")
        kinds = [SCALAR_TYPES[n] for n in names if n in SCALAR_TYPES]
        return (kinds[0] if len(kinds) == 1 and len(names) - optional == 1 else None), optional
    if annotation in SCALAR_TYPES.values():
        return annotation, False
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional = len(members) < len(typing.get_args(annotation))
        return (members[0] if len(members) == 1 and members[0] in SCALAR_TYPES.values() else None), optional
    return None, False


def _convert(name: str, key: str, value: Any, kind: type, from_text: bool) -> Any:
    """`value` as `kind`, or a one-line error naming the option, the value and what it takes."""
    text = str(value).strip().lower() if from_text and isinstance(value, str) else None
    if kind is bool:
        if isinstance(value, bool):
            return value
        if text in TRUE_TEXT or text in FALSE_TEXT:
            return text in TRUE_TEXT
        wants = "true or false (or 1/0)"
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if text is not None and INTEGER.fullmatch(text):
            return int(text)
        wants = "a whole number"
    elif kind is float:
        number = _finite(value, text)
        if number is not None:
            return number
        wants = "a finite number"
    else:
        if isinstance(value, str):
            return value
        wants = "text"
    raise ValueError(f"--model-kwarg {key}={value!r}: model '{name}' takes {wants} for '{key}'")


def _finite(value: Any, text: str | None) -> float | None:
    """A finite float from a number or (command line) text; None when it is neither or not finite."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    elif text is not None:
        try:
            number = float(text)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _untyped(key: str, text: str) -> Any:
    """A value for a parameter of no declared type: a JSON scalar where the text is one (true, 3, 0.5), else the text."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return text
    return _scalar(key, value) if not isinstance(value, (list, dict)) else text


def _scalar(key: str, value: Any) -> Any:
    """`value` if it is a JSON scalar (bool, int, finite float, text, None), else a one-line error."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    raise ValueError(f"--model-kwarg {key}={value!r}: give true/false, a whole or finite number, or text")
