"""Attack configuration shared by every task."""
from __future__ import annotations

from dataclasses import asdict, dataclass

ATTACKS = ("apgd-ce",)


@dataclass(frozen=True)
class AttackConfig:
    name: str
    norm: str
    eps: float
    eps_text: str
    n_iter: int = 100
    n_restarts: int = 1
    random_init: bool = True
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)
