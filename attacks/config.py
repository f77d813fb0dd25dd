"""An attack as run (`AttackConfig`), recorded in every result file; attacks themselves live in the registry (attacks/registry.py)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from .defaults import N_ITER, N_RESTARTS, SQUARE_QUERIES
from .registry import find_attack, get_attack, list_attacks, run_attack

__all__ = ["AttackConfig", "list_attacks", "run_attack"]
# Fields that only some attacks use (the registry entry's `config_fields` keeps them in its records).
OPTIONAL_FIELDS = ("square_queries",)


@dataclass(frozen=True)
class AttackConfig:
    """One attack as run: its name, the threat it respects and its budget; recorded in every result file."""

    name: str
    norm: str
    eps: float
    eps_text: str
    n_iter: int = N_ITER
    n_restarts: int = N_RESTARTS
    random_init: bool = True
    seed: int = 0
    square_queries: int = SQUARE_QUERIES  # the Square member's budget in the standard ensemble

    def to_dict(self) -> dict[str, Any]:
        """The fields as plain JSON; `square_queries` only for attacks that use it (the standard ensemble's Square member)."""
        data = asdict(self)
        spec = find_attack(self.name)
        kept = spec.config_fields if spec is not None else ()
        for name in OPTIONAL_FIELDS:
            if name not in kept:  # other attacks' records stay as they were
                data.pop(name)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AttackConfig:
        """Read what `to_dict` wrote (unknown keys are ignored, missing optional ones take their defaults)."""
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})

    @property
    def loss(self) -> str:
        """The classification loss this attack optimises ('ce' or 'margin')."""
        return get_attack(self.name).loss
