"""The library API: `evaluate(model, ...)`, RobustBench's `benchmark(model)` for perceptual metrics."""

from __future__ import annotations

import tempfile
from pathlib import Path

from model_zoo import PerceptualModel

from .results import EvaluationResult
from .runner import EvaluationConfig, run_evaluation


def evaluate(
    model: str | PerceptualModel,
    dataset: str = EvaluationConfig.dataset,
    threat: str = EvaluationConfig.threat,
    eps: str | float | None = None,
    attack: str = EvaluationConfig.attack,
    *,
    name: str | None = None,
    output_dir: str | Path | None = None,
    progress: bool = False,
    **options,
) -> EvaluationResult:
    """Evaluate a metric, a registry name or a `PerceptualModel` instance, and return the typed result.

    Every default is `EvaluationConfig`'s, the same as `bench evaluate`'s: the paper's attack, APGD-CE (attack="standard"
    runs the ensemble). `options` are further `EvaluationConfig` fields (n_ex, batch_size, device, n_iter, square_queries,
    data_root, split, ...). An instance is recorded under `name` (default: its card's name, else its
    class name). The result file is written to `output_dir` when given, else to a temporary folder
    that is removed (the returned result then names a sidecar that no longer exists).
    """
    instance = None
    if isinstance(model, PerceptualModel):
        instance = model
        card = getattr(model, "card", None)
        model = name or getattr(card, "name", None) or type(model).__name__
    elif not isinstance(model, str):
        raise TypeError(f"evaluate() takes a model name or a PerceptualModel instance, got {type(model).__name__}")
    config = EvaluationConfig(model=model, dataset=dataset, threat=threat, eps=None if eps is None else str(eps), attack=attack, **options)
    if output_dir is not None:
        return run_evaluation(config, output_dir, progress=progress, model=instance)[0]
    with tempfile.TemporaryDirectory(prefix="perceptbench-") as folder:
        return run_evaluation(config, folder, progress=progress, model=instance)[0]
