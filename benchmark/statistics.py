"""How sure is a score, and is one metric really ahead of another?

Intervals: a score that is the mean of 0/1 outcomes gets the Wilson score interval (it keeps its
coverage near 0 and 1, where the normal interval does not); any other score (soft 2AFC, BAPPS'
mean of split means, retrieval mAP) gets a seeded percentile bootstrap, stratified by split when
the score averages split means, so every resample keeps each split's size.

Paired comparisons: two metrics scored on the same samples are compared sample by sample. For 0/1
outcomes the p-value is McNemar's exact test (a binomial test on the discordant pairs only: the
samples both metrics get right or wrong say nothing about which is better); the interval of the
difference, and the p-value for every other score, come from a paired bootstrap that resamples the
same samples for both metrics.

Ranks: as Chatbot Arena ranks models, a metric's rank is 1 + the number of metrics whose interval
lies entirely above its own, so neighbours that are not separable share a rank.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

CONFIDENCE = 0.95
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 0
AVERAGINGS = ("samples", "splits")  # as datasets say it (`score_averaging`): mean over samples, or of the split means


@dataclass(frozen=True)
class Interval:
    """A score with its interval at `confidence`, and how it was made (`wilson`, `bootstrap`, `stratified-bootstrap`)."""

    estimate: float
    low: float
    high: float
    confidence: float
    method: str
    seed: int | None = None  # the bootstrap's seed and resamples (None for Wilson): enough to recompute it
    resamples: int | None = None

    @property
    def half_width(self) -> float:
        """Half the interval's width: the `± 1.9` of `74.3 ± 1.9`."""
        return (self.high - self.low) / 2

    def to_dict(self) -> dict[str, float | int | str]:
        """As a result file stores it (`scores.intervals`): `{"lo", "hi", "method", "level"[, "seed", "resamples"]}`;
        the estimate is the score it sits beside."""
        data: dict[str, float | int | str] = {"lo": self.low, "hi": self.high, "method": self.method, "level": self.confidence}
        if self.seed is not None:
            data["seed"] = self.seed
        if self.resamples is not None:
            data["resamples"] = self.resamples
        return data

    @classmethod
    def from_dict(cls, data: dict, estimate: float) -> Interval:
        """Read `to_dict`'s layout back, beside the score it belongs to."""
        return cls(
            estimate,
            float(data["lo"]),
            float(data["hi"]),
            float(data["level"]),
            str(data["method"]),
            data.get("seed"),
            data.get("resamples"),
        )


def wilson_interval(successes: float, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (successes may be a sum of per-sample scores in [0, 1])."""
    if n <= 0:
        return 0.0, 1.0
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(max(p * (1 - p), 0.0) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def _is_binary(scores: np.ndarray) -> bool:
    return bool(np.all((scores == 0) | (scores == 1)))


def _check_averaging(averaging: str) -> None:
    if averaging not in AVERAGINGS:
        raise ValueError(f"unknown averaging '{averaging}'; choose one of {', '.join(AVERAGINGS)}")


def _strata(groups: Sequence[str] | None, n: int) -> list[np.ndarray]:
    """Sample indices per group (one group holding everything when there are none)."""
    if groups is None:
        return [np.arange(n)]
    if len(groups) != n:
        raise ValueError(f"{len(groups)} group labels for {n} scores: give one split per sample")
    labels = np.asarray(groups, dtype=object)
    return [np.flatnonzero(labels == label) for label in dict.fromkeys(groups)]


def aggregate(scores: np.ndarray, strata: list[np.ndarray], averaging: str) -> float:
    """The headline: the mean over samples, or the mean of the split means (BAPPS, Table XIV)."""
    if averaging == "samples":
        return float(scores.mean())
    return float(np.mean([scores[index].mean() for index in strata]))


def _resampled_statistics(
    columns: Sequence[np.ndarray], strata: list[np.ndarray], averaging: str, n_resamples: int, seed: int
) -> np.ndarray:
    """Bootstrap statistics (n_resamples, len(columns)): every column resampled at the same indices, within each stratum."""
    rng = np.random.default_rng(seed)
    draws = [rng.integers(0, len(index), size=(n_resamples, len(index))) for index in strata]
    out = np.empty((n_resamples, len(columns)))
    for j, column in enumerate(columns):
        means = np.stack([column[index][draw].mean(axis=1) for index, draw in zip(strata, draws)], axis=1)
        if averaging == "samples":
            sizes = np.array([len(index) for index in strata], dtype=float)
            out[:, j] = means @ (sizes / sizes.sum())
        else:
            out[:, j] = means.mean(axis=1)
    return out


def score_interval(
    scores: Sequence[float],
    groups: Sequence[str] | None = None,
    averaging: str = "samples",
    confidence: float = CONFIDENCE,
    n_resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> Interval:
    """The interval of a score from its per-sample scores: Wilson for a mean of 0/1 outcomes, else a (stratified) bootstrap."""
    _check_averaging(averaging)
    values = np.asarray(scores, dtype=float)
    if values.size == 0:
        raise ValueError("no per-sample scores: an interval needs at least one sample")
    strata = _strata(groups, len(values))
    estimate = aggregate(values, strata, averaging)
    if _is_binary(values) and (averaging == "samples" or len(strata) == 1):  # one split: its mean is the mean over samples
        low, high = wilson_interval(float(values.sum()), len(values), confidence)
        return Interval(estimate, low, high, confidence, "wilson")
    stats = _resampled_statistics([values], strata, averaging, n_resamples, seed)[:, 0]
    tail = (1 - confidence) / 2
    low, high = np.quantile(stats, [tail, 1 - tail])
    # A percentile interval of a small, skewed sample can miss its own estimate by a hair: widen it to hold it.
    low, high = min(float(low), estimate), max(float(high), estimate)
    method = "stratified-bootstrap" if len(strata) > 1 else "bootstrap"
    return Interval(estimate, low, high, confidence, method, seed, n_resamples)


@dataclass(frozen=True)
class PairedComparison:
    """Score A minus score B on the same samples, its interval, and the p-value of 'no difference'."""

    score_a: float
    score_b: float
    difference: float
    low: float
    high: float
    p_value: float
    test: str  # "mcnemar-exact" or "paired-bootstrap"
    n: int
    a_only: int | None = None  # samples only A gets right (McNemar's discordant pairs)
    b_only: int | None = None
    confidence: float = CONFIDENCE

    @property
    def significant(self) -> bool:
        """The difference is significant at 1 - confidence."""
        return self.p_value < 1 - self.confidence


def mcnemar_exact_p(a_only: int, b_only: int) -> float:
    """Two-sided exact McNemar p-value: a binomial test of the discordant pairs against 1/2."""
    discordant = a_only + b_only
    if discordant == 0:
        return 1.0
    from scipy.stats import binomtest

    return float(binomtest(a_only, discordant, 0.5).pvalue)


def paired_comparison(
    scores_a: Sequence[float],
    scores_b: Sequence[float],
    groups: Sequence[str] | None = None,
    averaging: str = "samples",
    confidence: float = CONFIDENCE,
    n_resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> PairedComparison:
    """Compare two metrics' per-sample scores on the same samples (same order): McNemar for 0/1, else a paired bootstrap."""
    _check_averaging(averaging)
    a, b = np.asarray(scores_a, dtype=float), np.asarray(scores_b, dtype=float)
    if a.shape != b.shape or a.size == 0:
        raise ValueError(f"a paired comparison needs the same samples on both sides, got {a.size} and {b.size}")
    strata = _strata(groups, len(a))
    if len(strata) == 1:
        averaging = "samples"  # one split: its mean is the mean over samples
    score_a, score_b = aggregate(a, strata, averaging), aggregate(b, strata, averaging)
    stats = _resampled_statistics([a, b], strata, averaging, n_resamples, seed)
    differences = stats[:, 0] - stats[:, 1]
    tail = (1 - confidence) / 2
    low, high = (float(q) for q in np.quantile(differences, [tail, 1 - tail]))
    if _is_binary(a) and _is_binary(b) and averaging == "samples":
        a_only, b_only = int(((a == 1) & (b == 0)).sum()), int(((a == 0) & (b == 1)).sum())
        p = mcnemar_exact_p(a_only, b_only)
        return PairedComparison(score_a, score_b, score_a - score_b, low, high, p, "mcnemar-exact", len(a), a_only, b_only, confidence)
    # Two-sided bootstrap p-value: twice the smaller share of resampled differences on either side of 0,
    # counted as (k + 1) / (B + 1) so that B resamples never claim p = 0.
    below, above = int((differences <= 0).sum()), int((differences >= 0).sum())
    p = min(1.0, 2 * (min(below, above) + 1) / (n_resamples + 1))
    return PairedComparison(score_a, score_b, score_a - score_b, low, high, p, "paired-bootstrap", len(a), confidence=confidence)


def rank_groups(intervals: dict[str, Interval], higher_is_better: bool = True) -> dict[str, int]:
    """Rank = 1 + the number of entries whose interval lies wholly on the better side of this one's (ties share a rank)."""

    def separated(better: str, worse: str) -> bool:
        a, b = intervals[better], intervals[worse]
        return a.low > b.high if higher_is_better else a.high < b.low

    return significance_ranks(list(intervals), separated)


def significance_ranks(names: Sequence[str], significantly_better: Callable[[str, str], bool]) -> dict[str, int]:
    """Rank = 1 + the number of entries significantly better than this one, by any pairwise test (Chatbot Arena's rule)."""
    return {name: 1 + sum(significantly_better(other, name) for other in names if other != name) for name in names}
