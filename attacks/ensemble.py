"""The standard attack ensemble (`--attack standard`): the worst case per sample over attacks run in sequence.

As AutoAttack's standard version does for classifiers, each member only attacks the samples the
members before it left unbroken, and a sample counts as broken when any member broke it:
1. APGD-CE, `n_iter` iterations (100), one random start;
2. APGD on the margin loss, `n_iter` iterations, two random restarts; where the objective has >= 4
   classes (zero-shot classification), APGD-T instead, as in AutoAttack's standard version: the
   targeted DLR loss towards each of the 9 next classes, one start each (attacks/apgd_targeted.py);
3. Square, `square_queries` queries (5000), which needs no gradients.
AutoAttack's standard version also runs FAB-T between APGD-T and Square; we do not implement FAB
(a minimum-norm attack with its own projection machinery, not a loss for our one APGD), and the
paper's zero-shot evaluation (RobustVLM's) does not run it either; the record names the members that ran.
`apgd-ce-t` is RobustVLM's zero-shot evaluation (`clip_robustbench.py`, AutoAttack's "custom"
version with attacks_to_run=['apgd-ce', 'apgd-t']): APGD-CE with `n_restarts` starts (5 there), then APGD-T.
Every member is the same attack, with the same seed and per-sample generators, as running it alone
(`--attack apgd-ce`, `--attack apgd-margin --n-restarts 2`, `--attack square --n-iter 5000`), and
samples never interact, so on the same samples the ensemble's robust set is the intersection of
the members': its robust score is at most each member's.

Objectives without a success mask (the embedding losses of detection and retrieval, paper Eq. 5
and 6) cannot say which samples are broken; there every member runs on every sample with the task's
own loss (APGD, APGD from other random starts, Square) and each sample keeps its highest-loss point.
A metric whose loss carries no gradient is attacked by Square alone, and the record says so.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import Tensor

from .config import AttackConfig
from .defaults import STANDARD
from .objective import Objective, Subset, can_switch_loss, loss_switch_error, maximizes
from .registry import register_attack, run_attack
from .restarts import AttackResult, BestPoints

__all__ = ["STANDARD", "Subset"]  # importable from here, as before; defined in attacks/defaults.py and attacks/objective.py

APGD_CE_T = "apgd-ce-t"
ENSEMBLES = (STANDARD, APGD_CE_T)
SQUARE = "square"
GRADIENT_MEMBERS = ("apgd-ce", "apgd-margin", "apgd-t", "apgd", "apgd-restart")
# Members for objectives that report success (2AFC) and for those that do not (embedding losses).
CLASSIFICATION_MEMBERS = ("apgd-ce", "apgd-margin", SQUARE)
EMBEDDING_MEMBERS = ("apgd", "apgd-restart", SQUARE)
AUTOATTACK_MEMBERS = ("apgd-ce", "apgd-t", SQUARE)  # classification with >= 4 classes (targeted DLR)
APGD_CE_T_MEMBERS = ("apgd-ce", "apgd-t")
MIN_DLR_CLASSES = 4
SECONDS_PREFIX = "seconds_"
SKIPPED_COLUMN = "skipped_members"  # per sample: members that could not run on it (no gradient)


def standard_members(config: AttackConfig, success_based: bool, n_classes: int | None = None) -> list[AttackConfig]:
    """The member configurations (AttackConfig) of the ensemble `config` (standard or apgd-ce-t), in order."""
    if config.name == APGD_CE_T:
        return [replace(config, name="apgd-ce"), replace(config, name="apgd-t", n_restarts=1)]
    if success_based and n_classes is not None and n_classes >= MIN_DLR_CLASSES:
        return [
            replace(config, name="apgd-ce", n_restarts=1),
            replace(config, name="apgd-t", n_restarts=1),
            replace(config, name=SQUARE, n_iter=config.square_queries, n_restarts=1),
        ]
    if success_based:
        return [
            replace(config, name="apgd-ce", n_restarts=1),
            replace(config, name="apgd-margin", n_restarts=2),
            replace(config, name=SQUARE, n_iter=config.square_queries, n_restarts=1),
        ]
    return [
        replace(config, name="apgd-ce", n_restarts=1),
        replace(config, name="apgd-ce", n_restarts=2, seed=config.seed + 1),  # other random starts, same loss
        replace(config, name=SQUARE, n_iter=config.square_queries, n_restarts=1),
    ]


@dataclass
class EnsembleResult(AttackResult):
    """An attack's result plus, per sample, the member whose point it ends with and the seconds each member spent on it."""

    success_based: bool = True
    member: list[str] = field(default_factory=list)  # per sample: who broke it ('' if none) / whose point was kept
    seconds: dict[str, Tensor] = field(default_factory=dict)  # member -> (B,) seconds attributed to each sample
    skipped: dict[str, str] = field(default_factory=dict)  # member -> why it did not run
    n_classes: int | None = None  # the objective's number of classes where it has logits (>= 4: AutoAttack's members)

    def sample_columns(self, row: int) -> dict[str, Any]:
        """The per-sample outcome columns (see `ensemble_columns`) of sample `row`."""
        return ensemble_columns(
            self.success_based,
            self.member[row],
            {name: float(s[row]) for name, s in self.seconds.items()},
            list(self.skipped),
            n_classes=self.n_classes,
        )


def member_names(success_based: bool, n_classes: int | None = None, ensemble: str = STANDARD) -> tuple[str, ...]:
    """The ensemble's member names for objectives that report success (2AFC, classification with `n_classes`) or do not (embedding losses)."""
    if ensemble == APGD_CE_T:
        return APGD_CE_T_MEMBERS
    if success_based and n_classes is not None and n_classes >= MIN_DLR_CLASSES:
        return AUTOATTACK_MEMBERS
    return CLASSIFICATION_MEMBERS if success_based else EMBEDDING_MEMBERS


def member_column(success_based: bool) -> str:
    """The per-sample column naming a member: who broke the sample (2AFC) or whose point was kept (embeddings)."""
    return "broken_by" if success_based else "strongest_member"


def ensemble_columns(
    success_based: bool,
    member: str = "",
    seconds: dict[str, float] | None = None,
    skipped: Sequence[str] = (),
    n_classes: int | None = None,
) -> dict[str, Any]:
    """The per-sample outcome columns of a standard evaluation; the defaults fill samples that were not attacked."""
    seconds = seconds or {}
    return {
        member_column(success_based): member,
        **{SECONDS_PREFIX + name: seconds.get(name, 0.0) for name in member_names(success_based, n_classes)},
        SKIPPED_COLUMN: ";".join(skipped),
    }


def _probe(objective: Objective, x: Tensor) -> tuple[bool, bool, int | None]:
    """(whether the objective reports success, whether its loss has a gradient with respect to the input, its number of classes if it has logits)."""
    points = x[:1].detach().clone().requires_grad_(True)
    with torch.enable_grad():
        output = objective(points, torch.zeros(1, dtype=torch.long, device=x.device))
    logits = getattr(output, "logits", None)
    return output.success is not None, bool(output.loss.requires_grad), None if logits is None else int(logits.shape[1])


def _elapsed(started: float, device: torch.device) -> float:
    """Seconds since `started`, after waiting for the device's queued work, so each member is charged its own time."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - started


def _unattacked_columns(success_based: bool, n_classes: int | None) -> dict[str, Any]:
    return ensemble_columns(success_based, n_classes=n_classes)


@register_attack(APGD_CE_T, loss="ce")  # RobustVLM's AutoAttack "custom" version: APGD-CE (its n_restarts), then APGD-T
@register_attack(STANDARD, loss="ce", config_fields=("square_queries",), unattacked_columns=_unattacked_columns)  # listed first
def run_standard(config: AttackConfig, objective: Objective, x: Tensor, sample_ids: Sequence[int]) -> EnsembleResult:
    """Run the standard ensemble `config` on the batch `x`; each sample keeps its worst case over the members.

    Its members switch loss as they need (CE, then margin), so an objective that reports success and has gradients
    must be a `LossSwitchable`; one that is not is refused, in one line, before any member runs."""
    n = x.shape[0]
    everyone = torch.arange(n, device=x.device)
    success_based, has_gradient, n_classes = _probe(objective, x)
    names = member_names(success_based, n_classes, config.name)
    members = standard_members(config, success_based, n_classes)
    switchable = can_switch_loss(objective)
    # A gradient member on another loss needs the switch; Square, which only compares losses, runs on the objective's own without it.
    needs_switch = [m for m in members if m.loss != config.loss and m.name != SQUARE] if success_based and has_gradient else []
    if needs_switch and not switchable:
        raise loss_switch_error(objective, needs_switch[0].loss, f"--attack {config.name} (its {needs_switch[0].name} member)")
    sign = 1.0 if maximizes(objective) else -1.0
    best = BestPoints(x)
    member = [""] * n
    seconds = {name: torch.zeros(n) for name in names}
    skipped: dict[str, str] = {}
    for name, member_config in zip(names, members):
        if name in GRADIENT_MEMBERS and not has_gradient:
            skipped[name] = "the metric's loss has no gradient with respect to the input: black-box attacks only"
            continue
        todo = best.unbroken() if success_based else everyone
        if todo.numel() == 0:
            break
        subset = Subset(objective, todo)
        if success_based and member_config.loss != config.loss and switchable:
            subset = subset.with_loss(member_config.loss)
        started = time.perf_counter()
        run = run_attack(member_config, subset, x[todo], [sample_ids[i] for i in todo.tolist()])
        spent = _elapsed(started, x.device)
        # Losses of different members are not comparable where success is known: only a success replaces a point.
        oriented = torch.full_like(run.loss, -torch.inf) if success_based else sign * run.loss
        improved = best.keep(todo, AttackResult(x_adv=run.x_adv, success=run.success, loss=oriented))
        for row in todo[improved].tolist():
            member[row] = name
        seconds[name][todo.cpu()] = spent / todo.numel()
    if success_based:  # the loss the ensemble was configured with, at each sample's final point
        with torch.no_grad():
            best.loss = sign * objective(best.x, everyone).loss.detach().float()
    return EnsembleResult(
        x_adv=best.x,
        success=best.success,
        loss=sign * best.loss,
        success_based=success_based,
        member=member,
        seconds=seconds,
        skipped=skipped,
        n_classes=n_classes,
    )


@dataclass(frozen=True)
class MemberRecord:
    """One member of an ensemble run, as its record keeps it: its configuration and what it did over all samples."""

    name: str  # the member's name in the ensemble (apgd-ce, apgd-margin, square; apgd, apgd-restart for embeddings)
    attack: str  # the registered attack it ran
    n_iter: int
    n_restarts: int
    seed: int
    count: int  # samples it broke (success-based objectives) or whose point it kept (embedding losses)
    seconds: float
    skipped_on: int  # samples it could not run on (no gradient)

    def to_dict(self, success_based: bool) -> dict[str, Any]:
        """The JSON layout: the count is `broken` where success is known, else `kept_points`."""
        return {
            "name": self.name,
            "attack": self.attack,
            "n_iter": self.n_iter,
            "n_restarts": self.n_restarts,
            "seed": self.seed,
            ("broken" if success_based else "kept_points"): self.count,
            "seconds": self.seconds,
            "skipped_on": self.skipped_on,
        }


@dataclass(frozen=True)
class EnsembleRecord:
    """The result file's `ensemble` record of a standard evaluation: per member its configuration, samples and time."""

    members: tuple[MemberRecord, ...]
    per_sample_column: str  # the sidecar column naming each sample's member (`broken_by` or `strongest_member`)
    success_based: bool

    def member(self, name: str) -> MemberRecord | None:
        """The member `name`, or None when the ensemble had none of that name."""
        return next((m for m in self.members if m.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        """The JSON layout of the record."""
        return {
            "members": [m.to_dict(self.success_based) for m in self.members],
            "per_sample_column": self.per_sample_column,
            "success_based": self.success_based,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EnsembleRecord:
        """Read what `to_dict` wrote; a malformed record is a ValueError naming the first bad field."""
        if not isinstance(data, dict) or not isinstance(data.get("success_based"), bool) or not isinstance(data.get("members"), list):
            raise ValueError("ensemble: needs 'members' (a list) and 'success_based' (true or false)")
        success_based = data["success_based"]
        count_key = "broken" if success_based else "kept_points"
        members = []
        for position, member in enumerate(data["members"]):
            if not isinstance(member, dict):
                raise ValueError(f"ensemble.members[{position}]: not an object")
            try:
                members.append(
                    MemberRecord(
                        name=_typed(member, "name", str),
                        attack=_typed(member, "attack", str),
                        n_iter=_typed(member, "n_iter", int),
                        n_restarts=_typed(member, "n_restarts", int),
                        seed=_typed(member, "seed", int),
                        count=_typed(member, count_key, int),
                        seconds=float(_typed(member, "seconds", (int, float))),
                        skipped_on=_typed(member, "skipped_on", int),
                    )
                )
            except ValueError as error:
                raise ValueError(f"ensemble.members[{position}].{error}") from None
        return cls(tuple(members), str(data.get("per_sample_column", member_column(success_based))), success_based)


def _typed(member: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    value = member.get(key)
    if isinstance(value, bool) or not isinstance(value, kind):
        raise ValueError(f"{key}: expected {getattr(kind, '__name__', 'a number')}, got {str(value)[:40]!r}")
    return value


def summarise_members(attack: AttackConfig, records: list[dict[str, Any]], n_classes: int | None = None) -> EnsembleRecord:
    """The result file's `ensemble` record from the per-sample outcomes: per member its configuration, the samples it broke and its time.

    `n_classes`: the task's number of classes where it is a classification (its members then follow AutoAttack's standard)."""
    success_based = n_classes is not None or not records or "broken_by" in records[0]
    column = member_column(success_based)
    members = tuple(
        MemberRecord(
            name=name,
            attack=member_config.name,
            n_iter=member_config.n_iter,
            n_restarts=member_config.n_restarts,
            seed=member_config.seed,
            count=sum(1 for r in records if r.get(column) == name),
            seconds=sum(float(r.get(SECONDS_PREFIX + name) or 0.0) for r in records),
            skipped_on=sum(1 for r in records if name in str(r.get(SKIPPED_COLUMN) or "").split(";")),
        )
        for name, member_config in zip(
            member_names(success_based, n_classes, attack.name), standard_members(attack, success_based, n_classes)
        )
    )
    return EnsembleRecord(members, column, success_based)
