"""Attack configurations by name, and the one entry point tasks call to run them."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

from torch import Tensor

from .apgd import APGDResult, Objective, apgd

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


def run_attack(config: AttackConfig, objective: Objective, x: Tensor, sample_ids: Sequence[int]) -> APGDResult:
    """Attack the batch `x` (images at `sample_ids` of the dataset) as `config` says.

    The objective says which way its loss goes (`maximize`, default True).
    """
    if config.name not in ATTACKS:
        raise ValueError(f"unknown attack '{config.name}'; choose one of {', '.join(ATTACKS)}")
    return apgd(
        objective, x, norm=config.norm, eps=config.eps, n_iter=config.n_iter, n_restarts=config.n_restarts,
        random_init=config.random_init, seed=config.seed, sample_ids=sample_ids,
        maximize=getattr(objective, "maximize", True),
    )
