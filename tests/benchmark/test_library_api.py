"""The library API: benchmark.evaluate on a model instance or a name; leaderboard.load_results as a DataFrame."""

import json

import pytest
import torch
from click.testing import CliRunner

import benchmark
from benchmark.cli.bench import main
from benchmark.results import EvaluationResult
from benchmark.runner import EvaluationConfig, run_evaluation
from benchmark.sampling import select_positions
from leaderboard import build_site, load_results
from model_zoo import PairwiseModel, create_model


class HalfL2(PairwiseModel):
    def pairwise_sim(self, x, y):
        return 1 - 0.5 * (x - y).pow(2).flatten(1).mean(dim=1)


def test_evaluate_accepts_a_model_instance_and_returns_the_typed_result(tmp_path):
    result = benchmark.evaluate(HalfL2(), dataset="demo", threat="linf", eps="4/255", attack="apgd-ce", n_ex=4, batch_size=4, n_iter=3)
    assert isinstance(result, EvaluationResult)
    assert result.model == "HalfL2" and result.weights == "none" and result.model_card["family"] == "custom"
    assert result.scores.n == 4 and result.scores.robust <= result.scores.clean
    named = benchmark.evaluate(
        HalfL2(), name="half-l2", attack="standard", n_ex=4, batch_size=4, n_iter=3, square_queries=5, output_dir=tmp_path
    )
    assert named.model == "half-l2" and named.ensemble.members
    assert (tmp_path / "demo" / named.samples_file).is_file()


def test_evaluate_by_name_equals_the_runner_and_refuses_other_types():
    by_name = benchmark.evaluate("pixel-l2", attack="apgd-ce", n_ex=4, batch_size=4, n_iter=3)
    instance = benchmark.evaluate(create_model("pixel-l2"), attack="apgd-ce", n_ex=4, batch_size=4, n_iter=3)
    assert by_name.scores == instance.scores and by_name.model == instance.model == "pixel-l2"
    with pytest.raises(TypeError, match="model name or a PerceptualModel"):
        benchmark.evaluate(torch.nn.Identity())


def test_random_subset_is_seeded_and_in_dataset_order(demo_dataset):
    first = select_positions(demo_dataset, n_ex=50, random_subset=10, seed=3)
    assert first == select_positions(demo_dataset, n_ex=50, random_subset=10, seed=3) == sorted(first)
    assert len(set(first)) == 10 and max(first) < 50
    assert first != select_positions(demo_dataset, n_ex=50, random_subset=10, seed=4)
    assert select_positions(demo_dataset, n_ex=5, random_subset=10) == list(range(5))


def test_load_results_has_one_row_per_key_with_the_most_samples(tmp_path):
    for n_ex, attack in ((4, "apgd-ce"), (6, "apgd-ce"), (4, "standard"), (4, "none")):
        run_evaluation(
            EvaluationConfig(model="pixel-l2", n_ex=n_ex, batch_size=6, attack=attack, n_iter=2, square_queries=4), tmp_path, progress=False
        )
    frame = load_results(tmp_path)
    assert list(frame.columns[:16]) == [
        "model",
        "family",
        "dataset",
        "split",
        "protocol",
        "threat",
        "eps",
        "attack",
        "clean",
        "clean_lo",
        "clean_hi",
        "robust",
        "robust_lo",
        "robust_hi",
        "n",
        "status",
    ]
    assert sorted(frame["attack"]) == ["apgd-ce", "none", "standard"]
    apgd = frame[frame["attack"] == "apgd-ce"].iloc[0]
    assert apgd["n"] == 6 and apgd["status"] in ("measured", "flagged") and apgd["protocol"] == "hard labels"
    assert frame[frame["attack"] == "none"]["robust"].isna().all()


def test_the_headline_robust_column_is_the_standard_ensemble_where_it_was_run(tmp_path):
    standard, _ = run_evaluation(
        EvaluationConfig(model="pixel-l2", n_ex=6, batch_size=6, attack="standard", n_iter=2, square_queries=4), tmp_path, progress=False
    )
    # A stronger single attack on the same samples does not replace the ensemble's number in the headline.
    stronger, path = run_evaluation(
        EvaluationConfig(model="pixel-l2", n_ex=6, batch_size=6, attack="apgd-ce", n_iter=2), tmp_path, progress=False
    )
    data = json.loads(path.read_text())
    data["scores"]["robust"] = 0.0
    for scores in (data["scores"], *data["scores"].get("per_split", {}).values()):  # a hand edit without intervals
        scores.pop("intervals", None)
    path.write_text(json.dumps(data))
    site = build_site(tmp_path, tmp_path / "site", include_reported=False)
    row = next(line for line in site["markdown"].read_text().splitlines() if line.startswith("| pixel-l2"))
    assert f"{100 * standard.scores.robust:.1f}" in row and "[standard]" in row
    page = (tmp_path / "site" / "models" / "pixel-l2.html").read_text()
    assert "apgd-ce" in page  # the single attack stays on the model page


def test_cli_results_filters_and_prints_csv(tmp_path):
    run_evaluation(EvaluationConfig(model="pixel-l2", n_ex=4, batch_size=4, attack="apgd-ce", n_iter=2), tmp_path, progress=False)
    run_evaluation(EvaluationConfig(model="ssim", n_ex=4, batch_size=4, attack="apgd-ce", n_iter=2), tmp_path, progress=False)
    markdown = CliRunner().invoke(main, ["results", "--results", str(tmp_path), "--model", "ss*"])
    assert markdown.exit_code == 0, markdown.output
    assert "ssim" in markdown.output and "pixel-l2" not in markdown.output
    as_csv = CliRunner().invoke(main, ["results", "--results", str(tmp_path), "--format", "csv", "--attack", "apgd-ce"])
    assert len(as_csv.output.strip().splitlines()) == 3
    none = CliRunner().invoke(main, ["results", "--results", str(tmp_path), "--dataset", "nights"])
    assert "no results match" in none.output


def test_an_instance_with_parameters_and_no_card_records_unknown_weights():
    class Scaled(HalfL2):
        def __init__(self):
            super().__init__()
            self.scale = torch.nn.Parameter(torch.ones(1))

    result = benchmark.evaluate(Scaled(), attack="none", n_ex=2, batch_size=2)
    assert result.weights == "unknown" and result.model == "Scaled"
