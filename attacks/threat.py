"""Threat models: the norm and radius of allowed perturbations, parsed from user text like '4/255'.

Light (torch only for type checkers): the CLI's help and the leaderboard read NORMS, DEFAULT_EPS and `threat_label`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import Tensor

NORMS = ("linf", "l2")
DEFAULT_EPS = {"linf": "4/255", "l2": "3.0"}


def threat_label(norm: str, eps_text: str) -> str:
    """The one label of a threat, e.g. 'linf 4/255': leaderboard columns, result files' `covers` and `threat`, the CLI."""
    return f"{norm} {eps_text}"


def split_threat_label(label: str) -> tuple[str, str]:
    """'linf 4/255' -> ('linf', '4/255'): the inverse of `threat_label`."""
    norm, _, eps_text = label.partition(" ")
    return norm, eps_text


def parse_eps(text: str | float) -> float:
    """'4/255' -> 0.0156..., '0.5/255', '3' -> 3.0; a clear error for anything else (nan and inf included)."""
    message = f"cannot read eps '{text}': write a finite number or a fraction of two such as 4/255, 0.5/255 or 3.0"
    if isinstance(text, (int, float)):
        value = float(text)
    else:
        numerator, slash, denominator = text.strip().partition("/")
        try:
            value = float(numerator) / float(denominator) if slash else float(numerator)
        except (ValueError, ZeroDivisionError):
            raise ValueError(message) from None
        if slash and not float(denominator) > 0:
            raise ValueError(f"{message} (the denominator must be positive)")
    if not math.isfinite(value):
        raise ValueError(message)
    return value


def perturbation_norm(delta: Tensor, norm: str) -> Tensor:
    """Per-sample size (B,) of perturbations `delta` (B, ...) in the threat model's norm."""
    flat = delta.flatten(1)
    return flat.abs().amax(dim=1) if norm == "linf" else flat.norm(dim=1)


@dataclass(frozen=True)
class ThreatModel:
    """The perturbations an attacker may make: a norm and a radius, kept with the radius as the user wrote it."""

    norm: str
    eps: float
    eps_text: str  # as written, e.g. '4/255': file names and tables show it

    @classmethod
    def from_text(cls, norm: str, eps: str | float | None = None) -> ThreatModel:
        """Parse and check user input ('linf', '4/255'); the default radius of the norm when `eps` is None."""
        norm = norm.lower()
        if norm not in NORMS:
            raise ValueError(f"unknown threat model '{norm}'; choose one of {', '.join(NORMS)}")
        eps_text = DEFAULT_EPS[norm] if eps is None else str(eps)
        value = parse_eps(eps_text)
        if value < 0:
            raise ValueError(f"eps must be >= 0, got {eps_text}")
        if norm == "linf" and value > 1:
            raise ValueError(f"Linf eps {eps_text} exceeds 1, the whole pixel range; did you mean {eps_text}/255?")
        return cls(norm=norm, eps=value, eps_text=eps_text)

    def to_dict(self) -> dict[str, Any]:
        """`{"norm", "eps", "eps_text"}`, as result files store it."""
        return {"norm": self.norm, "eps": self.eps, "eps_text": self.eps_text}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ThreatModel:
        """Read what `to_dict` wrote; a recorded threat is taken as run, without the checks of `from_text`."""
        eps = float(data["eps"])
        return cls(norm=str(data["norm"]), eps=eps, eps_text=str(data.get("eps_text", eps)))

    @property
    def label(self) -> str:
        """The threat's label, e.g. 'linf 4/255' (`threat_label`); file names use results.py's slug instead."""
        return threat_label(self.norm, self.eps_text)
