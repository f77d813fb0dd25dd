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
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from .objective import Objective, ObjectiveOutput, maximizes
from .restarts import AttackResult, BestPoints

if TYPE_CHECKING:
    from .config import AttackConfig

STANDARD = "standard"
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


class Subset:
    """An objective restricted to rows `index` of the batch it was built for."""

    def __init__(self, objective: Objective, index: Tensor):
        self.objective = objective
        self.index = index
        self.maximize = maximizes(objective)

    def __call__(self, x: Tensor, index: Tensor) -> ObjectiveOutput:
        return self.objective(x, self.index[index])

    def with_loss(self, loss: str) -> Subset:
        """The same rows of the objective under another loss; the objective must offer `with_loss` (2AFC, classifiers)."""
        switch = getattr(self.objective, "with_loss", None)
        if switch is None:
            raise TypeError(f"{type(self.objective).__name__} has no with_loss: its loss cannot be switched to '{loss}'")
        return Subset(switch(loss), self.index)


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

    def sample_columns(self, row: int) -> dict[str, Any]:
        """The per-sample outcome columns (see `ensemble_columns`) of sample `row`."""
        return ensemble_columns(
            self.success_based, self.member[row], {name: float(s[row]) for name, s in self.seconds.items()}, list(self.skipped)
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
) -> dict[str, Any]:
    """The per-sample outcome columns of a standard evaluation; the defaults fill samples that were not attacked."""
    seconds = seconds or {}
    return {
        member_column(success_based): member,
        **{SECONDS_PREFIX + name: seconds.get(name, 0.0) for name in member_names(success_based)},
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


def run_standard(config: AttackConfig, objective: Objective, x: Tensor, sample_ids: Sequence[int]) -> EnsembleResult:
    """Run the standard ensemble `config` on the batch `x`; each sample keeps its worst case over the members."""
    from .config import run_attack

    n = x.shape[0]
    everyone = torch.arange(n, device=x.device)
    success_based, has_gradient, n_classes = _probe(objective, x)
    names = member_names(success_based, n_classes, config.name)
    sign = 1.0 if maximizes(objective) else -1.0
    best = BestPoints(x)
    member = [""] * n
    seconds = {name: torch.zeros(n) for name in names}
    skipped: dict[str, str] = {}
    for name, member_config in zip(names, standard_members(config, success_based, n_classes)):
        if name in GRADIENT_MEMBERS and not has_gradient:
            skipped[name] = "the metric's loss has no gradient with respect to the input: black-box attacks only"
            continue
        todo = best.unbroken() if success_based else everyone
        if todo.numel() == 0:
            break
        subset = Subset(objective, todo)
        if success_based and member_config.loss != config.loss and hasattr(objective, "with_loss"):
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
    )


def summarise_members(attack: dict[str, Any], records: list[dict[str, Any]], n_classes: int | None = None) -> dict[str, Any]:
    """The result file's `ensemble` record: per member its configuration, the samples it broke and its time.

    `n_classes`: the task's number of classes where it is a classification (its members then follow AutoAttack's standard)."""
    from .config import AttackConfig

    success_based = n_classes is not None or not records or "broken_by" in records[0]
    column = member_column(success_based)
    members = []
    config = AttackConfig.from_dict(attack)
    for name, member_config in zip(member_names(success_based, n_classes, config.name), standard_members(config, success_based, n_classes)):
        members.append(
            {
                "name": name,
                "attack": member_config.name,
                "n_iter": member_config.n_iter,
                "n_restarts": member_config.n_restarts,
                "seed": member_config.seed,
                ("broken" if success_based else "kept_points"): sum(1 for r in records if r.get(column) == name),
                "seconds": sum(float(r.get(SECONDS_PREFIX + name) or 0.0) for r in records),
                "skipped_on": sum(1 for r in records if name in str(r.get(SKIPPED_COLUMN) or "").split(";")),
            }
        )
    return {"members": members, "per_sample_column": column, "success_based": success_based}
