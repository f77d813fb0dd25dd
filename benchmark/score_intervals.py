"""Each score of a result with its 95% interval, computed from the per-sample outcomes it averages.

The rule is benchmark/statistics.py's `score_interval`: Wilson for a mean of 0/1 outcomes (2AFC hard
labels, odd-one-out, classification, detection), a seeded bootstrap for soft scores and retrieval mAP
(over queries), stratified by split where the headline is the mean of the split means (BAPPS). A
per-sample NaN (a retrieval query without a positive) counts towards no mean, so not here either.
An interval is only written when its estimate is the task's own score, so it is about the number shown.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence

from .results import SCORE_KINDS, SampleOutcome, Scores
from .statistics import Interval, score_interval

_SAME_SCORE = 1e-9


def _interval(values: Sequence[float], splits: Sequence[str], averaging: str, score: float | None) -> Interval | None:
    kept = [(value, split) for value, split in zip(values, splits) if not math.isnan(value)]
    if score is None or math.isnan(score) or not kept:
        return None
    groups = [split for _, split in kept] if averaging == "splits" else None
    interval = score_interval([value for value, _ in kept], groups, averaging)
    if not math.isclose(interval.estimate, score, abs_tol=_SAME_SCORE):
        warnings.warn(f"no interval: the per-sample outcomes average to {interval.estimate:.6g}, not the score {score:.6g}", stacklevel=3)
        return None
    return Interval(score, min(interval.low, score), max(interval.high, score), *_rest(interval))


def _rest(interval: Interval) -> tuple:
    return interval.confidence, interval.method, interval.seed, interval.resamples


def _attach(scores: Scores, outcomes: list[SampleOutcome], value: Callable[[SampleOutcome, str], float], averaging: str) -> None:
    splits = [str(o.split) for o in outcomes]
    for kind in SCORE_KINDS:
        interval = _interval([value(o, kind) for o in outcomes], splits, averaging, scores.score(kind))
        if interval is not None:
            scores.intervals[kind] = interval


def attach_intervals(scores: Scores, outcomes: list[SampleOutcome], averaging: str = "samples") -> Scores:
    """Fill `scores.intervals` (headline, each split, each retrieval protocol) from `outcomes`; return `scores`."""
    if not outcomes:
        return scores
    _attach(scores, outcomes, SampleOutcome.score, averaging)
    for split, split_scores in scores.per_split.items():
        attach_intervals(split_scores, [o for o in outcomes if str(o.split) == split])
    for protocol, protocol_scores in scores.protocols.items():  # retrieval: the query's AP under that protocol
        _attach(protocol_scores, outcomes, _protocol_score(protocol), "samples")
    return scores


def _protocol_score(protocol: str) -> Callable[[SampleOutcome, str], float]:
    """A query's AP under `protocol` (benchmark/tasks/retrieval.py writes it as `ap_<protocol>_<kind>`)."""

    def score(outcome: SampleOutcome, kind: str) -> float:
        return float(outcome.extra[f"ap_{protocol}_{kind}"])

    return score
