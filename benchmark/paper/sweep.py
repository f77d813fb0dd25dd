"""Sweeps over the radius or the attack iterations (paper Fig. 7, 8 and Table VI).

Every point is an ordinary evaluation through the runner, written as its own result file; the
points at eps 0 or 0 iterations are the clean score (no attack). A plot of clean and robust score
against the swept value is written next to the results.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from attacks.threat import parse_eps

from ..results import EvaluationResult, _slug
from ..runner import NO_ATTACK, EvaluationConfig, run_evaluation
from ..runtime.atomic import atomic_write_bytes

AXES = ("eps", "n_iter")


@dataclass
class SweepPoint:
    """One evaluated point of a sweep: the swept value as written, its result and the result file."""

    value: str  # as the user wrote it: '4/255', '100'
    result: EvaluationResult
    path: Path


@dataclass
class SweepResult:
    """A finished sweep: the axis, every point in order, and the plot written next to the results."""

    axis: str
    points: list[SweepPoint]
    plot: Path


def parse_eps_values(text: str) -> list[str]:
    """'0,1/255,2/255' -> ['0', '1/255', '2/255'], each checked to be a readable radius."""
    values = [v.strip() for v in text.split(",") if v.strip()]
    if not values:
        raise ValueError(f"--eps '{text}' names no radius; write a comma-separated list such as 0,1/255,2/255")
    for value in values:
        parse_eps(value)
    return values


def parse_iteration_values(text: str) -> list[str]:
    """'0,50,100' -> ['0', '50', '100']; each must be a whole number >= 0."""
    values = [v.strip() for v in text.split(",") if v.strip()]
    if not values or not all(v.isdigit() for v in values):
        raise ValueError(f"--n-iter '{text}' must be comma-separated whole numbers such as 0,50,100")
    return values


def sweep_configs(base: EvaluationConfig, axis: str, values: list[str]) -> list[EvaluationConfig]:
    """One evaluation per value, each validated here (once); eps 0 / 0 iterations become clean-only points."""
    if axis not in AXES:
        raise ValueError(f"unknown sweep axis '{axis}'; choose one of {', '.join(AXES)}")
    configs = []
    for value in values:
        if axis == "eps":
            config = replace(base, eps=value, attack=NO_ATTACK if parse_eps(value) == 0 else base.attack)
        else:
            config = replace(base, n_iter=int(value), attack=NO_ATTACK if int(value) == 0 else base.attack)
        config.validate()
        configs.append(config)
    return configs


def run_sweep(
    base: EvaluationConfig, axis: str, values: list[str], output_dir: str | Path = "results", progress: bool = True
) -> SweepResult:
    """Evaluate every point (all configurations are checked before the first runs), then plot."""
    configs = sweep_configs(base, axis, values)
    points = []
    for value, config in zip(values, configs):
        result, path = run_evaluation(config, output_dir, progress=progress, validated=True)
        points.append(SweepPoint(value=value, result=result, path=path))
    plot = plot_sweep(base, axis, points, Path(output_dir) / base.dataset)
    return SweepResult(axis=axis, points=points, plot=plot)


def plot_sweep(base: EvaluationConfig, axis: str, points: list[SweepPoint], folder: Path) -> Path:
    """Clean and robust score against the swept value, as a PNG (leaderboard/plots.py draws every chart)."""
    from leaderboard.plots import sweep_png

    threat = base.threat_model()
    if axis == "eps":
        scale = 255.0 if threat.norm == "linf" else 1.0
        xs = [parse_eps(p.value) * scale for p in points]
        xlabel = f"{threat.norm} eps" + (" (x/255)" if threat.norm == "linf" else "")
        title = f"{base.model} on {base.dataset}: {base.attack}, {base.n_iter} iterations"
    else:
        xs = [int(p.value) for p in points]
        xlabel = "attack iterations" + (" (queries)" if base.attack.startswith("square") else "")
        title = f"{base.model} on {base.dataset}: {base.attack}, {threat.norm} eps {threat.eps_text}"
    weights = points[0].result.weights if points else "none"
    if weights == "random":
        title += " [random weights]"
    scores = [(x, _robust_score(p), p.result.scores.clean) for x, p in zip(xs, points)]
    name = f"sweep__{_slug(base.model)}__{threat.norm}__{axis}" + ("__random-weights" if weights == "random" else "") + ".png"
    return atomic_write_bytes(folder / name, sweep_png(title, xlabel, scores))


def _robust_score(point: SweepPoint) -> float:
    """A point's robust score (the clean score at a clean-only point, where the tasks set robust = clean)."""
    robust = point.result.scores.robust
    if robust is None:
        raise ValueError(f"{point.path} has no robust score to plot")
    return robust
