"""Sweeps hidden in a results folder: the same evaluation at several radii, or with several iteration budgets.

The attack suite writes sweeps as ordinary result files, so a sweep is simply a group of results that differ only
in eps (robust score vs eps, paper Fig. 7) or only in the number of attack iterations (paper Fig. 8).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from benchmark.results import EvaluationResult

from .tables import _score, canonical_split


@dataclass
class Sweep:
    """Results that differ only in the radius or the attack iterations: one robust-score curve on a model page."""

    kind: str  # "eps" or "n_iter"
    model: str
    weights: str
    dataset: str
    split: str | None
    fixed: str  # what is held fixed, e.g. "linf, apgd-ce 100 it x 1"
    x_label: str
    points: list[tuple[float, float, float | None]] = field(default_factory=list)  # (x, robust, clean or None), sorted by x

    @property
    def title(self) -> str:
        """The chart's caption: where, what is swept, what is held fixed."""
        where = self.dataset + (f" ({self.split})" if self.split else "")
        return f"{where}: robust score vs {'radius' if self.kind == 'eps' else 'attack iterations'} ({self.fixed})"


def _robust(result: EvaluationResult) -> float | None:
    return _score(result, "robust")


def _points(members: list[tuple[float, EvaluationResult]]) -> list[tuple[float, float, float | None]]:
    """One point per x: among the results with the most samples, the lowest robust score, with that result's clean score."""
    by_x: dict[float, list[EvaluationResult]] = {}
    for x, result in members:
        by_x.setdefault(x, []).append(result)
    points = []
    for x, group in sorted(by_x.items()):
        most = max(result.scores.n or 0 for result in group)
        candidates = [(robust, result) for result in group if (result.scores.n or 0) == most and (robust := _robust(result)) is not None]
        if candidates:
            robust, weakest = min(candidates, key=lambda item: item[0])
            points.append((x, robust, _score(weakest, "clean")))
    return points


def find_sweeps(results: list[tuple[Path, EvaluationResult]]) -> list[Sweep]:
    """Every eps sweep and iteration sweep with at least two distinct points."""
    by_eps: dict[tuple, list[tuple[float, EvaluationResult]]] = {}
    by_iterations: dict[tuple, list[tuple[float, EvaluationResult]]] = {}
    for _, result in results:
        if _robust(result) is None:
            continue
        attack = result.attack
        # Points of one sweep share everything but the swept value, the number of samples included.
        base = (result.model, result.weights, result.dataset, canonical_split(result), result.scores.n)
        norm = result.threat.norm
        attack_name, n_iter, restarts = (attack.name, attack.n_iter, attack.n_restarts) if attack is not None else ("no attack", 0, 1)
        x = result.threat.eps * 255 if norm == "linf" else result.threat.eps
        by_eps.setdefault(base + (norm, f"{norm}, {attack_name} {n_iter} it x {restarts}"), []).append((x, result))
        if attack is not None:
            label = f"{result.threat.label}, {attack_name} x {restarts}"
            by_iterations.setdefault(base + (label,), []).append((float(n_iter), result))
    sweeps = []
    for key, members in by_eps.items():
        model, weights, dataset, split, _, norm, fixed = key
        points = _points(members)
        if len(points) >= 2:
            x_label = "eps (x/255)" if norm == "linf" else "eps (L2)"
            sweeps.append(Sweep("eps", model, weights, dataset, split, fixed, x_label, points))
    for key, members in by_iterations.items():
        model, weights, dataset, split, _, fixed = key
        points = _points(members)
        if len(points) >= 2:
            sweeps.append(Sweep("n_iter", model, weights, dataset, split, fixed, "attack iterations", points))
    return sorted(sweeps, key=lambda sweep: (sweep.model, sweep.dataset, sweep.split or "", sweep.kind, sweep.fixed))
