"""Every result's scores carry their 95% interval, recomputable from the per-sample file (benchmark/score_intervals.py)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import benchmark
from benchmark.results import EvaluationResult, ResultFormatError, SampleOutcome, read_outcomes, read_result
from benchmark.runner import aggregate_scores
from benchmark.statistics import BOOTSTRAP_SEED, score_interval
from benchmark.tasks.oddoneout import OddOneOutTask
from benchmark.tasks.retrieval import RetrievalTask
from benchmark.tasks.twoafc import TwoAFCTask


@pytest.fixture(scope="module")
def demo_runs(tmp_path_factory):
    """ssim and pixel-l2 on 16 demo samples (hard labels), attacked briefly: real result files and sidecars."""
    folder = tmp_path_factory.mktemp("intervals")
    for model in ("ssim", "pixel-l2"):
        benchmark.evaluate(model, dataset="demo", attack="apgd-ce", n_ex=16, n_iter=5, output_dir=folder)
    return sorted(folder.rglob("*.json"))


def test_a_demo_run_writes_the_intervals_statistics_computes_from_its_sidecar(demo_runs):
    assert len(demo_runs) == 2
    for path in demo_runs:
        stored = json.loads(path.read_text())["scores"]["intervals"]
        outcomes = read_outcomes(path)
        for kind in ("clean", "robust"):
            expected = score_interval([o.score(kind) for o in outcomes])
            assert expected.method == "wilson"  # 2AFC hard labels: 0/1 outcomes
            assert stored[kind] == {"lo": expected.low, "hi": expected.high, "method": "wilson", "level": 0.95}
            interval = read_result(path).scores.intervals[kind]
            assert interval.low <= read_result(path).scores.score(kind) <= interval.high < 1
            assert interval.estimate == pytest.approx(expected.estimate)


def _rewritten(path, tmp_path, change):
    data = json.loads(path.read_text())
    change(data["scores"])
    target = tmp_path / path.name
    target.write_text(json.dumps(data))
    return target


def test_the_schema_checks_intervals_when_present_and_old_files_have_none(demo_runs, tmp_path):
    path = demo_runs[0]
    old = read_result(_rewritten(path, tmp_path, lambda scores: (scores.pop("intervals"), scores["per_split"]["demo"].pop("intervals"))))
    assert old.scores.intervals == {} and old.scores.clean is not None
    for change, message in (
        (lambda s: s["intervals"]["clean"].update(lo=s["clean"] + 0.01), "does not hold the score"),
        (lambda s: s["intervals"]["robust"].update(hi=math.inf), "finite"),
        (lambda s: s["intervals"]["clean"].update(hi=1.5), "less than or equal to 1"),
        (lambda s: s["intervals"]["clean"].update(method="normal"), "wilson"),
        (lambda s: s["intervals"].update(median=s["intervals"]["clean"]), "no such score"),
    ):
        with pytest.raises(ResultFormatError, match=message):
            read_result(_rewritten(path, tmp_path, change))


def _twoafc(split: str, scores: list[float]) -> list[SampleOutcome]:
    return [SampleOutcome(s, s * 0.5, True, position=i, sample_id=f"{split}-{i}", split=split) for i, s in enumerate(scores)]


def test_mean_of_split_means_gets_a_seeded_stratified_bootstrap():
    """BAPPS' headline averages split means: the interval resamples within each split and says so."""
    rng = np.random.default_rng(0)
    outcomes = _twoafc("a", list(rng.uniform(size=40))) + _twoafc("b", list(rng.uniform(size=10)))
    scores = aggregate_scores(TwoAFCTask(labels="soft"), outcomes, averaging="splits")
    clean = scores.intervals["clean"]
    expected = score_interval([o.clean_score for o in outcomes], [o.split for o in outcomes], averaging="splits")
    assert (clean.method, clean.seed, clean.resamples) == ("stratified-bootstrap", BOOTSTRAP_SEED, 2000)
    assert (clean.low, clean.high) == (expected.low, expected.high) and clean.estimate == pytest.approx(scores.clean)
    assert scores.per_split["b"].intervals["clean"].method == "bootstrap"  # one split: a plain bootstrap of its samples
    pooled = score_interval([o.clean_score for o in outcomes])
    assert (pooled.low, pooled.high) != (clean.low, clean.high)  # the pooled mean is another number


def test_retrieval_map_gets_a_bootstrap_over_the_queries_that_count():
    """Queries without a positive (NaN AP) count towards no mAP, so not towards its interval either."""
    aps = [0.9, 0.4, math.nan, 0.7, 0.2, 0.65]
    hard = [0.5, math.nan, math.nan, 0.3, 0.1, 0.6]
    outcomes = [
        SampleOutcome(
            m, m / 2, True, position=i, extra={"ap_medium_clean": m, "ap_medium_robust": m / 2, "ap_hard_clean": h, "ap_hard_robust": h}
        )
        for i, (m, h) in enumerate(zip(aps, hard))
    ]
    scores = aggregate_scores(RetrievalTask(), outcomes)
    counted = [a for a in aps if not math.isnan(a)]
    expected = score_interval(counted)
    assert scores.intervals["clean"].method == "bootstrap" and (scores.intervals["clean"].low, scores.intervals["clean"].high) == (
        expected.low,
        expected.high,
    )
    hard_interval = scores.protocols["hard"].intervals["clean"]
    assert hard_interval.estimate == pytest.approx(np.mean([0.5, 0.3, 0.1, 0.6]))
    written = scores.to_dict()
    assert set(written["intervals"]) == {"clean", "robust", "map_medium_clean", "map_medium_robust", "map_hard_clean", "map_hard_robust"}


def test_odd_one_out_accuracy_gets_wilson_for_both_scores():
    outcomes = [SampleOutcome(float(i % 3 != 0), float(i % 3 != 0), False, position=i) for i in range(30)]
    scores = aggregate_scores(OddOneOutTask(), outcomes)
    assert scores.intervals["clean"] == scores.intervals["robust"] and scores.intervals["clean"].method == "wilson"
    assert scores.intervals["clean"].estimate == pytest.approx(20 / 30)


def test_intervals_round_trip_through_a_result_dict(demo_runs):
    result = read_result(demo_runs[0])
    again = EvaluationResult.from_dict(result.to_dict())
    assert again.scores == result.scores and again.scores.per_split["demo"].intervals
