"""Read a results folder (any depth) into results; foreign or malformed files are skipped with a warning."""

from __future__ import annotations

import warnings
from pathlib import Path

from benchmark.results import EvaluationResult, ResultFormatError, read_result


def collect_results(results_dir: str | Path) -> list[tuple[Path, EvaluationResult]]:
    """Every result file under `results_dir` (schema 1 or 2), with its path; anything else is skipped with a warning."""
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise FileNotFoundError(f"results folder {results_dir} does not exist; run `bench evaluate` first")
    collected = []
    for path in sorted(results_dir.rglob("*.json")):
        try:
            collected.append((path, read_result(path)))
        except ResultFormatError as error:
            warnings.warn(f"skipping {error}", stacklevel=2)
    return collected
