"""Attack configurations by name, and the one entry point tasks call to run them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

from torch import Tensor

from .apgd import APGDResult, Objective, apgd
from .apgd_targeted import apgd_targeted
from .ensemble import APGD_CE_T, ENSEMBLES, STANDARD, run_standard
from .objective import maximizes
from .square import square

# Attack name -> the classification loss it optimises (tasks build their objective with it).
ATTACK_LOSSES = {
    "apgd-ce": "ce",
    "apgd-margin": "margin",
    "apgd-t": "ce",  # objectives are built with CE; APGD-T replaces it by the targeted DLR loss (attacks/apgd_targeted.py)
    "square": "margin",
    "apgd-ce-reference": "ce",
    "square-reference": "margin",
    "standard": "ce",  # the ensemble of attacks/ensemble.py; its members switch loss as they need
    APGD_CE_T: "ce",  # RobustVLM's AutoAttack "custom" version: APGD-CE (its n_restarts), then APGD-T
}
ATTACKS = tuple(ATTACK_LOSSES)
QUERY_ATTACKS = ("square", "square-reference")  # for these, n_iter is the query budget


@dataclass(frozen=True)
class AttackConfig:
    """One attack as run: its name, the threat it respects and its budget; recorded in every result file."""

    name: str
    norm: str
    eps: float
    eps_text: str
    n_iter: int = 100
    n_restarts: int = 1
    random_init: bool = True
    seed: int = 0
    square_queries: int = 5000  # the Square member's budget in the standard ensemble

    def to_dict(self) -> dict[str, Any]:
        """The fields as plain JSON; `square_queries` only for the standard ensemble, which has a Square member."""
        data = asdict(self)
        if self.name != STANDARD:  # only the ensemble has a Square member; other attacks' records stay as they were
            data.pop("square_queries")
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AttackConfig:
        """Read what `to_dict` wrote (unknown keys are ignored, missing optional ones take their defaults)."""
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})

    @property
    def loss(self) -> str:
        """The classification loss this attack optimises ('ce' or 'margin')."""
        return ATTACK_LOSSES[self.name]


def run_attack(config: AttackConfig, objective: Objective, x: Tensor, sample_ids: Sequence[int]) -> APGDResult:
    """Attack the batch `x` (images at `sample_ids` of the dataset) as `config` says.

    The objective says which way its loss goes (`maximize`, default True). For Square attacks
    `n_iter` is the query budget per sample; the `-reference` attacks run AutoAttack's own code.
    """
    if config.name not in ATTACKS:
        raise ValueError(f"unknown attack '{config.name}'; choose one of {', '.join(ATTACKS)}")
    maximize = maximizes(objective)
    if config.name in ENSEMBLES:
        return run_standard(config, objective, x, sample_ids)
    if config.name.endswith("-reference"):
        from .reference import run_reference_attack

        return run_reference_attack(config, objective, x)
    if config.name == "square":
        return square(
            objective,
            x,
            norm=config.norm,
            eps=config.eps,
            n_queries=config.n_iter,
            n_restarts=config.n_restarts,
            seed=config.seed,
            sample_ids=sample_ids,
            maximize=maximize,
        )
    if config.name == "apgd-t":
        return apgd_targeted(
            objective,
            x,
            norm=config.norm,
            eps=config.eps,
            n_iter=config.n_iter,
            n_restarts=config.n_restarts,
            seed=config.seed,
            sample_ids=sample_ids,
            random_init=config.random_init,
        )
    return apgd(
        objective,
        x,
        norm=config.norm,
        eps=config.eps,
        n_iter=config.n_iter,
        n_restarts=config.n_restarts,
        random_init=config.random_init,
        seed=config.seed,
        sample_ids=sample_ids,
        maximize=maximize,
    )
