"""The typed result file: round trips of every part, and schema-1 files (written by earlier versions) still load."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from attacks.config import AttackConfig
from attacks.threat import ThreatModel
from benchmark.results import (
    SCHEMA_VERSION,
    CheckResult,
    EvaluationResult,
    ResultFormatError,
    SampleOutcome,
    Scores,
    read_outcomes,
    read_result,
)
from leaderboard import build_tables
from leaderboard.checks import failed_checks

SCHEMA_1 = Path(__file__).parent / "data" / "schema1" / "demo" / "ssim__demo__linf-4over255__apgd-ce-5it-1r-seed0__n8.json"


def test_a_schema_1_file_loads_typed():
    """Written by the code before typed results (`bench evaluate --model ssim --n-ex 8 --n-iter 5 --checks`)."""
    assert json.loads(SCHEMA_1.read_text())["schema_version"] == 1
    result = read_result(SCHEMA_1)
    assert result.schema_version == SCHEMA_VERSION and result.metric is None
    assert result.threat == ThreatModel("linf", 4 / 255, "4/255")
    assert result.attack == AttackConfig("apgd-ce", "linf", 4 / 255, "4/255", n_iter=5, n_restarts=1, seed=0)
    assert result.scores.clean == 0.875 and result.scores.robust == 0.125 and result.scores.n == 8
    assert result.scores.per_split["demo"] == Scores(clean=0.875, robust=0.125, n=8)
    assert set(result.checks) == {"large_radius", "more_iterations", "square_on_apgd_robust"}
    assert all(isinstance(check, CheckResult) and check.passed for check in result.checks.values())
    assert result.checks["large_radius"].numbers["still_correct"] == 0
    # The card of a schema-1 file still says what the metric is.
    assert result.has_embedding is False and result.sim_range == (-1.0, 1.0)


def test_a_schema_1_sidecar_reads_as_outcomes():
    outcomes = read_outcomes(SCHEMA_1)
    assert len(outcomes) == 8 and [o.position for o in outcomes] == list(range(8))
    first = outcomes[0]
    assert first.attacked is True and first.label == 1 and first.robust_prediction == 0 and not first.still_correct
    assert first.sample_id == "demo/000000" and first.split == "demo" and first.extra["judge"] == "1.0"
    assert sum(o.robust_score for o in outcomes) / 8 == pytest.approx(0.125)


def test_a_schema_1_folder_renders_on_the_leaderboard(tmp_path):
    shutil.copytree(SCHEMA_1.parent, tmp_path / "demo")
    results = [(path, read_result(path)) for path in sorted(tmp_path.rglob("*.json"))]
    [table] = [t for t in build_tables(results) if t.dataset == "demo"]
    [row] = table.rows
    assert row.model == "ssim" and row.cells["linf 4/255"].measured == 0.125 and row.cells["clean"].measured == 0.875


def test_the_typed_result_round_trips_through_json():
    result = read_result(SCHEMA_1)
    data = json.loads(json.dumps(result.to_dict()))
    assert data["schema_version"] == SCHEMA_VERSION
    assert data["threat"] == {"norm": "linf", "eps": 4 / 255, "eps_text": "4/255"}
    assert data["checks"]["large_radius"]["passed"] is True and "detail" in data["checks"]["large_radius"]
    assert EvaluationResult.from_dict(data) == result


def test_retrieval_protocols_are_written_as_schema_1_keys_and_read_back():
    scores = Scores(clean=0.5, robust=0.2, n=3, protocols={"medium": Scores(0.5, 0.2, 3), "hard": Scores(0.1, 0.05, 3)})
    data = scores.to_dict()
    assert data["map_medium_clean"] == 0.5 and data["map_hard_robust"] == 0.05
    assert Scores.from_dict(data) == scores


def test_sample_outcomes_round_trip_typed_and_as_csv_text():
    outcome = SampleOutcome(
        0.5, 0.0, attacked=True, label=1, clean_prediction=1, robust_prediction=0, perturbation_norm=0.01, extra={"judge": 0.5}
    )
    located = outcome.located(3, {"sample_id": "demo/000003", "split": "demo"})
    assert located.position == 3 and located.split == "demo" and located.extra == {"judge": 0.5}
    assert SampleOutcome.from_dict(located.to_dict()) == located
    text = {key: str(value) for key, value in located.to_dict().items()}
    again = SampleOutcome.from_dict(text)
    assert again.attacked is True and again.label == 1 and again.position == 3 and again.clean_score == 0.5


def test_failed_checks_read_typed_checks():
    checks = {"a": CheckResult("a", True), "b": CheckResult("b", False, "broke 2"), "c": CheckResult("c", None)}
    assert failed_checks(checks) == ["b"]


def test_unsupported_schema_is_refused_with_the_versions_read():
    data = json.loads(SCHEMA_1.read_text())
    data["schema_version"] = 99
    with pytest.raises(ResultFormatError, match="schema_version 99 is not supported"):
        EvaluationResult.from_dict(data)


def test_the_leaderboard_imports_no_registry_and_no_dataset_registry():
    """The leaderboard is a pure function of result files and stored paper data."""
    for path in (Path(__file__).parents[2] / "leaderboard").glob("*.py"):
        text = path.read_text()
        for forbidden in ("model_zoo", "benchmark.datasets", "benchmark.tasks"):
            assert f"from {forbidden}" not in text and f"import {forbidden}" not in text, f"{path.name} imports {forbidden}"


def test_an_open_ended_sim_range_round_trips(tmp_path):
    """LPIPS's sim (1 - distance) has no floor: its `None` bound survives the result file, in schema 2 and schema 1."""
    from benchmark.results import MetricProperties
    from model_zoo.lpips_models import LPIPSMetric

    properties = MetricProperties.from_dict(LPIPSMetric.metric_properties())
    assert properties.sim_range == (None, 1.0)
    assert MetricProperties.from_dict(json.loads(json.dumps(properties.to_dict()))) == properties
    data = json.loads(SCHEMA_1.read_text())
    data["model_card"]["sim_range"] = [None, 1.0]  # what a schema-1 LPIPS file holds
    assert EvaluationResult.from_dict(data).sim_range == (None, 1.0)


def test_split_scores_group_and_filter_outcomes_by_the_same_key():
    """Outcomes without a split form one split ('None'), scored over its own samples, not an empty one."""
    from benchmark.runner import aggregate_scores
    from benchmark.tasks import TwoAFCTask

    outcomes = [
        SampleOutcome(clean_score=1.0, robust_score=0.0, attacked=True, split=None),
        SampleOutcome(clean_score=0.0, robust_score=0.0, attacked=True, split=None),
        SampleOutcome(clean_score=1.0, robust_score=1.0, attacked=True, split="b"),
    ]
    scores = aggregate_scores(TwoAFCTask(), outcomes, averaging="splits")
    assert scores.per_split["None"].n == 2 and scores.per_split["None"].clean == 0.5
    assert scores.clean == (0.5 + 1.0) / 2 and scores.robust == (0.0 + 1.0) / 2
    assert scores.score("clean") == scores.clean and outcomes[2].score("robust") == 1.0
    with pytest.raises(ValueError, match="'clean' or 'robust'"):
        scores.score("median")
