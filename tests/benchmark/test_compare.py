"""`bench compare`: two real demo result files, paired by sample (benchmark/compare.py)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

import benchmark
from benchmark.cli.compare import compare
from benchmark.compare import compare_results
from benchmark.results import read_outcomes
from benchmark.statistics import mcnemar_exact_p


@pytest.fixture(scope="module")
def demo_results(tmp_path_factory):
    folder = tmp_path_factory.mktemp("compare")
    files = {}
    for model in ("ssim", "pixel-l2"):
        for threat in ("linf", "l2"):
            benchmark.evaluate(model, dataset="demo", threat=threat, attack="apgd-ce", n_ex=48, n_iter=5, output_dir=folder)
    for path in folder.rglob("*.json"):
        files[(path.name.split("__")[0], path.name.split("__")[2].split("-")[0])] = path
    return files


def test_compare_pairs_samples_and_runs_mcnemar(demo_results):
    a, b = demo_results[("ssim", "linf")], demo_results[("pixel-l2", "linf")]
    comparison = compare_results(a, b)
    robust = comparison.comparisons["robust"]
    outcomes_a, outcomes_b = read_outcomes(a), read_outcomes(b)
    a_only = sum(x.robust_score == 1 and y.robust_score == 0 for x, y in zip(outcomes_a, outcomes_b))
    b_only = sum(x.robust_score == 0 and y.robust_score == 1 for x, y in zip(outcomes_a, outcomes_b))
    assert robust.test == "mcnemar-exact" and (robust.a_only, robust.b_only) == (a_only, b_only)
    assert robust.p_value == pytest.approx(mcnemar_exact_p(a_only, b_only))
    assert robust.n == 48
    assert robust.difference == pytest.approx(sum(o.robust_score for o in outcomes_a) / 48 - sum(o.robust_score for o in outcomes_b) / 48)
    assert robust.low <= robust.difference <= robust.high


def test_a_result_compared_with_itself_shows_no_difference(demo_results):
    path = demo_results[("ssim", "l2")]
    for comparison in compare_results(path, path).comparisons.values():
        assert comparison.difference == 0 and comparison.p_value == 1.0


def test_the_command_prints_one_line_per_score_and_refuses_different_samples(demo_results):
    runner = CliRunner()
    result = runner.invoke(compare, [str(demo_results[("ssim", "linf")]), str(demo_results[("pixel-l2", "linf")])])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == ["clean", "robust"] and "95% CI" in lines[1] and "p = " in lines[1]
    result = runner.invoke(compare, [str(demo_results[("ssim", "linf")]), str(demo_results[("pixel-l2", "l2")])])
    assert result.exit_code == 1 and "differ in threat" in result.output and "Traceback" not in result.output


def test_a_missing_sidecar_is_a_one_line_error(demo_results, tmp_path):
    source = demo_results[("ssim", "linf")]
    lonely = tmp_path / source.name
    lonely.write_text(source.read_text())
    result = CliRunner().invoke(compare, [str(lonely), str(demo_results[("pixel-l2", "linf")])])
    assert result.exit_code == 1 and "per-sample file" in result.output
