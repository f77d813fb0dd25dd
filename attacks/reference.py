"""Optional backend: the reference APGD-CE and Square of AutoAttack (PyPI `pyautoattack`, by its
authors) run on our classification objectives (2AFC seen as a 2-class classifier).

AutoAttack attacks a classifier `f(x) -> logits`, but a 2AFC 'classifier' differs per sample (its
candidates are part of the sample). AutoAttack only ever queries ordered subsets of the batch: all
of it, the samples not yet fooled, or the subset it queried last. `BatchClassifier` follows which
subset a query is and checks every queried point lies in the eps-ball of the clean sample it was
matched to, so a mismatch is an error, never a silent wrong number.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from .defaults import SQUARE_P_INIT
from .losses import ClassifierOutput, classifier_margin
from .objective import Objective
from .registry import register_attack
from .restarts import AttackResult
from .threat import perturbation_norm

if TYPE_CHECKING:
    from .config import AttackConfig

REFERENCE_NORMS = {"linf": "Linf", "l2": "L2"}


class ReferenceUnavailableError(ValueError):
    """The optional reference package is not installed."""


def check_reference_available() -> None:
    """Refuse a `-reference` attack before any run starts (and before a progress bar is drawn) when AutoAttack is missing."""
    _load_reference()


def _load_reference():
    try:
        from pyautoattack.autopgd_base import APGDAttack
        from pyautoattack.square import SquareAttack
    except ImportError as error:
        raise ReferenceUnavailableError(
            f"the reference attacks need AutoAttack ({error}); install it with: pip install 'perceptbench[reference]'"
        ) from None
    return APGDAttack, SquareAttack


def _fooled_by_argmax(logits: Tensor, labels: Tensor) -> Tensor:
    return logits.argmax(dim=1) != labels


def _fooled_by_margin(logits: Tensor, labels: Tensor) -> Tensor:
    """Square's rule: a sample is done once its right logit is no longer strictly the largest."""
    return classifier_margin(logits, labels) >= 0


def _logits_and_labels(objective: Objective, points: Tensor, positions: Tensor) -> tuple[Tensor, Tensor]:
    """The logits and labels a classification objective reports for `points` (samples `positions`)."""
    output = objective(points, positions)
    if not isinstance(output, ClassifierOutput) or output.logits is None or output.labels is None:
        raise ValueError(
            "the reference attacks need a classification objective with logits and labels (2AFC); "
            "use apgd-ce or square for embedding objectives"
        )
    return output.logits, output.labels


class BatchClassifier:
    """The objective's logits as a classifier over the batch `x`, for the reference attacks."""

    def __init__(self, objective: Objective, x: Tensor, norm: str, eps: float, fooled_rule: Callable[[Tensor, Tensor], Tensor]):
        self.objective = objective
        self.x = x
        self.norm = norm
        self.eps = eps
        self.fooled_rule = fooled_rule
        self.everyone = torch.arange(x.shape[0], device=x.device)
        self.fooled = torch.zeros(x.shape[0], dtype=torch.bool, device=x.device)
        self.last = self.everyone
        self.by_size: dict[int, Tensor] = {}
        with torch.no_grad():
            self.labels = _logits_and_labels(objective, x, self.everyone)[1].detach()

    def _inside_ball(self, points: Tensor, positions: Tensor) -> bool:
        delta = (points.detach() - self.x[positions]).flatten(1)
        size = perturbation_norm(delta, self.norm)
        return bool((size <= self.eps * (1 + 1e-4) + 1e-5).all())

    def identify(self, points: Tensor) -> Tensor:
        """Which samples of the batch `points` are perturbed versions of."""
        n = points.shape[0]
        candidates = [(~self.fooled).nonzero().flatten(), self.last, self.by_size.get(n), self.everyone]
        for positions in candidates:
            if positions is not None and len(positions) == n and self._inside_ball(points, positions):
                return positions
        raise RuntimeError(
            f"the reference attack queried {n} points that match no subset of the batch it was given; "
            "this pyautoattack version queries differently, use our apgd-ce / square instead"
        )

    def __call__(self, points: Tensor) -> Tensor:
        positions = self.identify(points)
        logits = _logits_and_labels(self.objective, points, positions)[0]
        self.fooled[positions] |= self.fooled_rule(logits.detach(), self.labels[positions])
        self.last = positions
        self.by_size[len(positions)] = positions
        return logits


def run_reference_attack(config: AttackConfig, objective: Objective, x: Tensor) -> AttackResult:
    """Run AutoAttack's APGD-CE (`apgd-ce-reference`) or Square (`square-reference`) on `x`.

    `config` is an `AttackConfig`; for Square its `n_iter` is the query budget. AutoAttack seeds
    torch's global generator; we restore it afterwards so the caller's randomness is untouched.
    """
    APGDAttack, SquareAttack = _load_reference()
    x = x.detach()
    norm = REFERENCE_NORMS[config.norm]
    is_square = config.name.startswith("square")
    classifier = BatchClassifier(objective, x, config.norm, config.eps, _fooled_by_margin if is_square else _fooled_by_argmax)
    if is_square:
        attack = SquareAttack(
            classifier,
            norm=norm,
            n_queries=config.n_iter,
            eps=config.eps,
            p_init=SQUARE_P_INIT,
            n_restarts=config.n_restarts,
            seed=config.seed,
            loss="margin",
            device=x.device,
        )
    else:
        attack = APGDAttack(
            classifier,
            norm=norm,
            n_iter=config.n_iter,
            n_restarts=config.n_restarts,
            eps=config.eps,
            seed=config.seed,
            loss="ce",
            device=x.device,
        )
    devices = [x.device] if x.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        x_adv = attack.perturb(x.clone(), classifier.labels.clone()).detach()
    with torch.no_grad():
        output = objective(x_adv, classifier.everyone)
    return AttackResult(x_adv=x_adv, success=output.success_mask().detach(), loss=output.loss.detach().float())


@register_attack("square-reference", loss="margin", query_budget=True)
@register_attack("apgd-ce-reference", loss="ce")  # registered (and listed) first
def run_reference(config: AttackConfig, objective: Objective, x: Tensor, sample_ids: Sequence[int]) -> AttackResult:
    """`--attack apgd-ce-reference` / `square-reference`: AutoAttack's own code (samples are not reseeded per id)."""
    return run_reference_attack(config, objective, x)
