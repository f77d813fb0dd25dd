"""Attack objectives as plain functions over a batch: what APGD and Square maximise."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from model_zoo.base import PerceptualModel

from .objective import Objective, ObjectiveOutput


@dataclass
class ClassifierOutput(ObjectiveOutput):
    """An objective output that also carries the logits and labels it came from, so that a
    classifier-based reference attack (AutoAttack) can run on the same objective."""

    logits: Tensor | None = None
    labels: Tensor | None = None


def twoafc_predictions(logits: Tensor) -> Tensor:
    """1 when the second candidate is more similar; a tie goes to the first (as the paper's code)."""
    return (logits[:, 1] > logits[:, 0]).long()


def classifier_cross_entropy(logits: Tensor, labels: Tensor) -> Tensor:
    """Per-sample cross-entropy of any logits (for 2AFC: [sim(ref, x0), sim(ref, x1)], no temperature)."""
    return F.cross_entropy(logits.float(), labels, reduction="none")


def classifier_margin(logits: Tensor, labels: Tensor) -> Tensor:
    """Per-sample margin for any number of classes: best wrong logit minus the right one (> 0 = fooled)."""
    logits = logits.float()
    right = logits.gather(1, labels[:, None])[:, 0]
    wrong = logits.scatter(1, labels[:, None], -torch.inf).amax(dim=1)
    return wrong - right


# 2AFC is a two-class classification of each reference: the same losses, under their 2AFC names.
twoafc_cross_entropy = classifier_cross_entropy
twoafc_margin = classifier_margin
TWOAFC_LOSSES = {"ce": twoafc_cross_entropy, "margin": twoafc_margin}
CLASSIFIER_LOSSES = {"ce": classifier_cross_entropy, "margin": classifier_margin}


class ClassifierObjective:
    """Untargeted attack on any classifier `logits_fn(x) -> (B, K)`: the loss rises as the right class loses.

    Used to check our attacks against the reference on ordinary classifiers.
    """

    def __init__(self, logits_fn: Callable[[Tensor], Tensor], labels: Tensor, loss: str = "ce"):
        if loss not in CLASSIFIER_LOSSES:
            raise ValueError(f"unknown classifier loss '{loss}'; choose one of {', '.join(CLASSIFIER_LOSSES)}")
        self.logits_fn = logits_fn
        self.labels = labels
        self.loss_fn = CLASSIFIER_LOSSES[loss]

    def with_loss(self, loss: str) -> ClassifierObjective:
        """The same classifier and labels under another loss (the standard ensemble switches CE -> margin)."""
        return ClassifierObjective(self.logits_fn, self.labels, loss)

    def __call__(self, x: Tensor, index: Tensor) -> ClassifierOutput:
        logits = self.logits_fn(x)
        labels = self.labels[index]
        return ClassifierOutput(loss=self.loss_fn(logits, labels), success=logits.argmax(dim=1) != labels, logits=logits, labels=labels)


class TwoAFCObjective:
    """Perturb the reference so that the metric prefers the other candidate.

    The candidates' features are computed once per batch, never inside the attack loop.
    """

    def __init__(self, model: PerceptualModel, candidate_0: Tensor, candidate_1: Tensor, labels: Tensor, loss: str = "ce"):
        if loss not in TWOAFC_LOSSES:
            raise ValueError(f"unknown 2AFC loss '{loss}'; choose one of {', '.join(TWOAFC_LOSSES)}")
        self.model = model
        self.loss_fn = TWOAFC_LOSSES[loss]
        self.labels = labels
        with torch.no_grad():
            self.features_0 = model.features(candidate_0)
            self.features_1 = model.features(candidate_1)

    def with_loss(self, loss: str) -> TwoAFCObjective:
        """The same candidates (features not recomputed) under another loss, for the standard ensemble."""
        if loss not in TWOAFC_LOSSES:
            raise ValueError(f"unknown 2AFC loss '{loss}'; choose one of {', '.join(TWOAFC_LOSSES)}")
        other = copy.copy(self)
        other.loss_fn = TWOAFC_LOSSES[loss]
        return other

    def logits(self, reference: Tensor, index: Tensor | None = None) -> Tensor:
        """(B, 2) similarities of `reference` to the two candidates (rows `index`, or all): the 2AFC 'classifier'."""
        if index is None:
            return self.model.compare(reference, [self.features_0, self.features_1])
        return self.model.compare(reference, [self.features_0[index], self.features_1[index]])

    def __call__(self, reference: Tensor, index: Tensor) -> ClassifierOutput:
        logits = self.logits(reference, index)
        labels = self.labels[index]
        return ClassifierOutput(
            loss=self.loss_fn(logits, labels), success=twoafc_predictions(logits) != labels, logits=logits, labels=labels
        )


class TargetedEmbeddingObjective:
    """Paper Eq. 5: pull the image towards a target set Y.

    Loss: sum over y in Y of ||e(x)/|e(x)| - e(y)/|e(y)|||^2 = sum_y 2 (1 - sim(x, y)), to be
    minimised. Written with `compare`, so pairwise metrics without `embed` are attackable too.
    """

    maximize = False

    def __init__(self, model: PerceptualModel, targets: Tensor):
        self.model = model
        with torch.no_grad():
            self.target_features = [model.features(target[None]) for target in targets]

    def __call__(self, x: Tensor, index: Tensor) -> ObjectiveOutput:
        candidates = [f.expand(x.shape[0], *f.shape[1:]) for f in self.target_features]
        return ObjectiveOutput(loss=(2.0 * (1.0 - self.model.compare(x, candidates))).sum(dim=1))


class UntargetedEmbeddingObjective:
    """Paper Eq. 6: push the image away from its own clean representation.

    Loss: ||e(x + delta)/|.| - e(x)/|.|||^2 = 2 (1 - sim(x + delta, x)), to be maximised.
    """

    maximize = True

    def __init__(self, model: PerceptualModel, clean: Tensor):
        self.model = model
        with torch.no_grad():
            self.clean_features = model.features(clean)

    def __call__(self, x: Tensor, index: Tensor) -> ObjectiveOutput:
        similarity = self.model.compare(x, [self.clean_features[index]])[:, 0]
        return ObjectiveOutput(loss=2.0 * (1.0 - similarity))


def targeted_dlr_loss(logits: Tensor, labels: Tensor, targets: Tensor) -> Tensor:
    """AutoAttack's targeted DLR loss (Croce & Hein 2020, Eq. 8), to be maximised: the target's logit gain over the right
    class, scaled by the gap between the largest logit and the mean of the 3rd and 4th largest (so it needs >= 4 classes)."""
    logits = logits.float()
    ordered = logits.sort(dim=1).values
    right = logits.gather(1, labels[:, None])[:, 0]
    target = logits.gather(1, targets[:, None])[:, 0]
    scale = ordered[:, -1] - 0.5 * (ordered[:, -3] + ordered[:, -4]) + 1e-12
    return -(right - target) / scale


class TargetedDLRObjective:
    """Any classification objective (one that reports logits and labels) under the targeted DLR loss towards `targets`.

    Success stays the objective's own (the right class is no longer predicted), as in AutoAttack's APGD-T:
    reaching any wrong class counts, not only the target.
    """

    def __init__(self, objective: Objective, targets: Tensor):
        self.objective = objective
        self.targets = targets

    def __call__(self, x: Tensor, index: Tensor) -> ObjectiveOutput:
        output = self.objective(x, index)
        if not isinstance(output, ClassifierOutput) or output.logits is None or output.labels is None:
            raise ValueError(f"apgd-t needs a classification objective that reports logits and labels, not {type(self.objective).__name__}")
        return ObjectiveOutput(loss=targeted_dlr_loss(output.logits, output.labels, self.targets[index]), success=output.success)
