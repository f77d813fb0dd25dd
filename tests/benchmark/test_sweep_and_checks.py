import json

import pytest
import torch
from click.testing import CliRunner

import benchmark.sanity
from attacks import AttackConfig, TargetedEmbeddingObjective, UntargetedEmbeddingObjective, run_attack
from benchmark.cli.bench import main
from benchmark.datasets import get_dataset_spec, load_dataset
from benchmark.paper.sweep import run_sweep
from benchmark.results import read_outcomes, read_result
from benchmark.runner import EvaluationConfig, run_evaluation
from benchmark.sanity import SanityConfig, run_sanity_checks
from benchmark.tasks import get_task
from model_zoo import create_model
from model_zoo.base import EmbeddingModel

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_eps_sweep_writes_one_result_per_point_and_a_plot(tmp_path):
    base = EvaluationConfig(model="pixel-l2", n_ex=4, n_iter=3, batch_size=4)
    sweep = run_sweep(base, "eps", ["0", "2/255", "1"], tmp_path, progress=False)
    assert [p.value for p in sweep.points] == ["0", "2/255", "1"]
    assert len({p.path for p in sweep.points}) == 3 and all(p.path.exists() for p in sweep.points)
    clean_point = read_result(sweep.points[0].path)
    assert clean_point.attack is None and clean_point.scores.robust == clean_point.scores.clean
    assert read_result(sweep.points[1].path).attack.eps == pytest.approx(2 / 255)
    assert sweep.points[2].result.scores.robust <= sweep.points[0].result.scores.robust
    assert sweep.plot.read_bytes().startswith(PNG_MAGIC)


def test_cli_iteration_sweep(tmp_path):
    result = CliRunner().invoke(
        main,
        [
            "sweep",
            "--model",
            "ssim",
            "--n-iter",
            "0,2,4",
            "--n-ex",
            "2",
            "--batch-size",
            "2",
            "--output-dir",
            str(tmp_path),
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    results = sorted((tmp_path / "demo").glob("*.json"))
    assert len(results) == 3
    assert sorted(json.loads(p.read_text())["config"]["n_iter"] for p in results) == [0, 2, 4]
    assert list((tmp_path / "demo").glob("sweep__ssim__linf__n_iter.png"))
    site = CliRunner().invoke(main, ["leaderboard", "--results", str(tmp_path), "--out", str(tmp_path / "site"), "--no-reported"])
    assert site.exit_code == 0, site.output
    page = (tmp_path / "site" / "models" / "ssim.html").read_text()
    assert "plots/demo__sweep__ssim__linf__n_iter.png" in page  # the sweep's PNG reaches the model page


@pytest.mark.parametrize(
    "args,message",
    [
        (["--eps", "0,1/255", "--n-iter", "0,5"], "sweep one axis"),
        (["--n-iter", "0,fifty"], "whole numbers"),
        (["--eps", "0,2"], "did you mean 2/255"),
    ],
)
def test_cli_sweep_refuses_bad_input_before_work(args, message, tmp_path):
    result = CliRunner().invoke(main, ["sweep", "--model", "ssim", "--output-dir", str(tmp_path), *args])
    assert result.exit_code != 0 and message in result.output
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


def test_checks_are_recorded_in_the_result_file(tmp_path, monkeypatch):
    monkeypatch.setattr(benchmark.sanity, "DEFAULT_SANITY", SanityConfig(square_queries=30))
    config = EvaluationConfig(model="ssim", n_ex=4, n_iter=5, batch_size=4, checks=True)
    result, path = run_evaluation(config, tmp_path, progress=False)
    assert set(result.checks) == {"large_radius", "more_iterations", "square_on_apgd_robust"}
    for check in result.checks.values():
        assert isinstance(check.passed, bool) and check.detail
    assert result.checks["large_radius"].passed  # SSIM flips everywhere at Linf eps 1
    assert json.loads(path.read_text())["checks"] == {name: check.to_dict() for name, check in result.checks.items()}


def test_an_attack_that_found_nothing_fails_the_checks(tmp_path, isolated_cache):
    """Records of a 'robust' evaluation where the attack did nothing: Square and the large radius expose it."""
    _, path = run_evaluation(EvaluationConfig(model="pixel-l2", n_ex=4, batch_size=4, attack="none"), tmp_path, progress=False)
    records = read_outcomes(path)
    assert any(r.still_correct for r in records) and not any(r.attacked for r in records)
    dataset = load_dataset("demo")
    task = get_task(get_dataset_spec("demo").task)
    attack = AttackConfig("apgd-ce", "linf", 0.5, "0.5", n_iter=1)
    checks = run_sanity_checks(create_model("pixel-l2"), dataset, task, attack, records, "cpu", config=SanityConfig(square_queries=50))
    assert checks["square_on_apgd_robust"].passed is False
    assert checks["square_on_apgd_robust"].numbers["broken"] > 0
    more = checks["more_iterations"]  # 2 real iterations beat the 'attack' that did nothing: no rise, passes
    assert more.passed and more.numbers["robust_accuracy_more_iterations"] < more.numbers["robust_accuracy"]


def _tiny_embedding_model():
    encoder = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, stride=2), torch.nn.GELU(), torch.nn.Flatten(), torch.nn.LazyLinear(16))
    return EmbeddingModel(encoder, torch.nn.Identity())


@pytest.mark.parametrize("name", ["tiny-embedding", "ssim"])
def test_embedding_attacks_are_monotone_in_eps_on_average(name):
    torch.manual_seed(0)
    model = _tiny_embedding_model() if name == "tiny-embedding" else create_model(name)
    x = torch.rand(2, 3, 32, 32)
    targeted = TargetedEmbeddingObjective(model, torch.rand(2, 3, 32, 32))
    untargeted = UntargetedEmbeddingObjective(model, x)
    index = torch.arange(2)
    pulled, pushed = [], []
    for eps in (0.0, 4 / 255, 16 / 255):
        config = AttackConfig("apgd-ce", "linf", eps, str(eps), n_iter=5)
        pulled.append(targeted(run_attack(config, targeted, x, [0, 1]).x_adv, index).loss.mean().item())
        pushed.append(untargeted(run_attack(config, untargeted, x, [0, 1]).x_adv, index).loss.mean().item())
    assert all(later < earlier for earlier, later in zip(pulled, pulled[1:])), pulled  # closer to the targets
    assert all(later > earlier for earlier, later in zip(pushed, pushed[1:])), pushed  # further from the clean image


@pytest.mark.parametrize("attack", ["square", "apgd-margin", "apgd-ce-reference"])
def test_cli_evaluates_with_each_new_attack(attack, tmp_path):
    if attack.endswith("-reference"):
        pytest.importorskip("pyautoattack")
    result = CliRunner().invoke(
        main,
        [
            "evaluate",
            "--model",
            "pixel-l2",
            "--attack",
            attack,
            "--n-iter",
            "10",
            "--n-ex",
            "4",
            "--batch-size",
            "4",
            "--output-dir",
            str(tmp_path),
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    (path,) = (tmp_path / "demo").glob("*.json")
    data = json.loads(path.read_text())
    assert data["attack"]["name"] == attack and data["scores"]["robust"] <= data["scores"]["clean"]
