"""Intervals, paired comparisons and rank groups (benchmark/statistics.py), checked by simulation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binom

from benchmark.statistics import Interval, mcnemar_exact_p, paired_comparison, rank_groups, score_interval, wilson_interval


def test_wilson_covers_the_true_rate_95_percent_of_the_time():
    rng = np.random.default_rng(0)
    n, rate = 500, 0.74
    covered = 0
    for successes in rng.binomial(n, rate, size=2000):
        low, high = wilson_interval(successes, n)
        covered += low <= rate <= high
    assert 0.94 <= covered / 2000 <= 0.96


def test_wilson_exact_coverage_matches_the_simulation():
    n, rate = 500, 0.74
    exact = sum(binom.pmf(k, n, rate) for k in range(n + 1) if wilson_interval(k, n)[0] <= rate <= wilson_interval(k, n)[1])
    assert 0.94 <= exact <= 0.96


def test_binary_scores_get_wilson_and_soft_scores_a_bootstrap():
    assert score_interval([1, 0, 1, 1]).method == "wilson"
    soft = score_interval([0.9, 0.2, 0.7, 0.6, 0.5])
    assert soft.method == "bootstrap" and soft.low <= soft.estimate <= soft.high


def test_stratified_bootstrap_of_split_means_covers_the_true_mean():
    """Two splits of very different size and rate: the mean of split means, not the pooled mean, is covered."""
    rng = np.random.default_rng(1)
    rates, sizes = (0.9, 0.55), (300, 60)
    truth = float(np.mean(rates))
    groups = ["a"] * sizes[0] + ["b"] * sizes[1]
    covered, pooled_covered, trials = 0, 0, 300
    for trial in range(trials):
        scores = np.concatenate([rng.binomial(1, r, size=s) for r, s in zip(rates, sizes)]).astype(float)
        interval = score_interval(scores, groups, averaging="splits", n_resamples=400, seed=trial)
        assert interval.method == "stratified-bootstrap" and interval.seed == trial and interval.resamples == 400
        assert interval.estimate == pytest.approx(np.mean([scores[:300].mean(), scores[300:].mean()]))
        covered += interval.low <= truth <= interval.high
        pooled = score_interval(scores)
        pooled_covered += pooled.low <= truth <= pooled.high
    assert 0.91 <= covered / trials <= 0.98
    assert pooled_covered / trials < 0.5  # the pooled interval is about another number: the test can tell them apart


def test_mcnemar_uses_only_discordant_pairs():
    a = np.array([1] * 50 + [1] * 15 + [0] * 5 + [0] * 30)
    b = np.array([1] * 50 + [0] * 15 + [1] * 5 + [0] * 30)
    comparison = paired_comparison(a, b)
    assert comparison.test == "mcnemar-exact"
    assert (comparison.a_only, comparison.b_only) == (15, 5)
    assert comparison.difference == pytest.approx(0.10)
    assert comparison.p_value == pytest.approx(mcnemar_exact_p(15, 5))
    assert comparison.p_value == pytest.approx(2 * binom.cdf(5, 20, 0.5))
    assert comparison.low < 0.10 < comparison.high


def test_identical_metrics_are_not_significantly_different():
    scores = np.random.default_rng(2).binomial(1, 0.7, size=300)
    comparison = paired_comparison(scores, scores)
    assert comparison.difference == 0 and comparison.p_value == 1.0 and not comparison.significant


def test_paired_bootstrap_false_positive_rate_is_about_five_percent():
    """Two metrics of equal expected score: the paired bootstrap rejects at about the nominal 5%."""
    rng = np.random.default_rng(3)
    rejections, trials = 0, 300
    for trial in range(trials):
        common = rng.uniform(size=200)
        a, b = np.clip(common + rng.normal(0, 0.1, 200), 0, 1), np.clip(common + rng.normal(0, 0.1, 200), 0, 1)
        rejections += paired_comparison(a, b, n_resamples=400, seed=trial).significant
    assert rejections / trials <= 0.09


def test_paired_bootstrap_detects_a_real_difference():
    rng = np.random.default_rng(4)
    common = rng.uniform(size=200)
    a, b = np.clip(common + 0.05, 0, 1), common
    comparison = paired_comparison(a, b)
    assert comparison.test == "paired-bootstrap" and comparison.significant and comparison.low > 0


def test_rank_groups_share_ranks_between_overlapping_intervals():
    intervals = {
        "best": Interval(0.90, 0.88, 0.92, 0.95, "wilson"),
        "close": Interval(0.89, 0.86, 0.91, 0.95, "wilson"),
        "far": Interval(0.70, 0.67, 0.73, 0.95, "wilson"),
    }
    assert rank_groups(intervals) == {"best": 1, "close": 1, "far": 3}
    assert rank_groups(intervals, higher_is_better=False) == {"best": 2, "close": 2, "far": 1}


def test_bad_inputs_are_one_line_errors():
    with pytest.raises(ValueError, match="one split per sample"):
        score_interval([1, 0], groups=["a"])
    with pytest.raises(ValueError, match="same samples"):
        paired_comparison([1, 0], [1])
    with pytest.raises(ValueError, match="unknown averaging"):
        score_interval([1, 0], averaging="median")
