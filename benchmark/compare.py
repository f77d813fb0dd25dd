"""`bench compare A B`: two result files of the same samples, compared sample by sample (benchmark/statistics.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .results import SCORE_KINDS, EvaluationResult, ResultFormatError, read_outcomes, read_result
from .statistics import CONFIDENCE, PairedComparison, paired_comparison

# What a result's protocol says of its headline (datasets/twoafc.py SCORE_AVERAGING), as benchmark.statistics names it.
_AVERAGING_BY_DESCRIPTION = {"mean over samples": "samples", "mean of the split means": "splits"}


@dataclass(frozen=True)
class ResultComparison:
    """Per score kind (clean, robust) the paired comparison of A and B, over the samples both evaluated."""

    model_a: str
    model_b: str
    averaging: str
    comparisons: dict[str, PairedComparison]


def _averaging(result: EvaluationResult) -> str:
    return _AVERAGING_BY_DESCRIPTION.get(str(result.protocol.get("score_averaging", "mean over samples")), "samples")


def _same_cell(a: EvaluationResult, b: EvaluationResult, path_a: Path, path_b: Path) -> None:
    """Refuse to compare results of different datasets, splits or threat models: their samples differ."""
    for field, left, right in (
        ("dataset", a.dataset, b.dataset),
        ("split", a.split, b.split),
        ("threat", a.threat.label, b.threat.label),
    ):
        if left != right:
            raise ResultFormatError(
                f"{path_a.name} and {path_b.name} differ in {field} ({left} vs {right}): compare results of the same samples"
            )


def compare_results(path_a: str | Path, path_b: str | Path, confidence: float = CONFIDENCE, seed: int = 0) -> ResultComparison:
    """Pair the per-sample outcomes of two result files by sample id and compare their clean and robust scores."""
    path_a, path_b = Path(path_a), Path(path_b)
    result_a, result_b = read_result(path_a), read_result(path_b)
    _same_cell(result_a, result_b, path_a, path_b)
    outcomes = []
    for path in (path_a, path_b):
        try:
            rows = read_outcomes(path)
        except (OSError, KeyError, ValueError) as error:
            raise ResultFormatError(f"{path.name}: its per-sample file cannot be read ({error}); compare needs it") from error
        outcomes.append({(o.split, o.sample_id if o.sample_id is not None else o.position): o for o in rows})
    shared = [key for key in outcomes[0] if key in outcomes[1]]
    if not shared:
        raise ResultFormatError(f"{path_a.name} and {path_b.name} share no sample: compare results of the same samples")
    averaging = _averaging(result_a)
    groups = [str(split) for split, _ in shared] if averaging == "splits" else None
    comparisons = {}
    for kind in SCORE_KINDS:
        if result_a.scores.score(kind) is None or result_b.scores.score(kind) is None:
            continue
        a = [outcomes[0][key].score(kind) for key in shared]
        b = [outcomes[1][key].score(kind) for key in shared]
        comparisons[kind] = paired_comparison(a, b, groups, averaging, confidence=confidence, seed=seed)
    return ResultComparison(result_a.model, result_b.model, averaging, comparisons)


def describe(comparison: ResultComparison) -> list[str]:
    """One line per score kind, in percent: A, B, the difference with its interval, the p-value and the test."""
    lines = []
    for kind, c in comparison.comparisons.items():
        level = round(c.confidence * 100)
        verdict = "significant" if c.significant else "not significant"
        discordant = f"; discordant {c.a_only} vs {c.b_only}" if c.a_only is not None else ""
        lines.append(
            f"{kind}: {comparison.model_a} {100 * c.score_a:.2f} vs {comparison.model_b} {100 * c.score_b:.2f}  "
            f"difference {100 * c.difference:+.2f} ({level}% CI {100 * c.low:+.2f} to {100 * c.high:+.2f}), "
            f"p = {c.p_value:.3g}, {c.test}, n = {c.n}{discordant}: {verdict}"
        )
    return lines
