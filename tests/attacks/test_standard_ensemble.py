"""The standard ensemble: at least as strong per sample as each member, members recorded, checks from what it computed."""

import json

import pytest
import torch
from click.testing import CliRunner

from attacks import AttackConfig, ObjectiveOutput, UntargetedEmbeddingObjective, run_attack
from attacks.ensemble import EnsembleResult, standard_members
from benchmark.cli.bench import main
from benchmark.results import read_samples
from benchmark.runner import EvaluationConfig, run_evaluation
from model_zoo import EmbeddingModel

N_ITER, QUERIES, N_EX = 4, 40, 12


def _still_correct(path) -> dict[int, bool]:
    return {int(r["position"]): int(r["robust_prediction"]) == int(r["label"]) for r in read_samples(path)}


@pytest.mark.parametrize("model", ["pixel-l2", "ssim"])
def test_standard_is_at_least_as_strong_per_sample_as_each_member(model, tmp_path):
    base = dict(model=model, n_ex=N_EX, batch_size=N_EX, n_iter=N_ITER)
    standard, standard_path = run_evaluation(EvaluationConfig(**base, attack="standard", square_queries=QUERIES), tmp_path, progress=False)
    members = {
        "apgd-ce": EvaluationConfig(**base, attack="apgd-ce"),
        "apgd-margin": EvaluationConfig(**base, attack="apgd-margin", n_restarts=2),
        "square": EvaluationConfig(**{**base, "n_iter": QUERIES}, attack="square"),
    }
    ensemble_correct = _still_correct(standard_path)
    for name, config in members.items():
        member, path = run_evaluation(config, tmp_path, progress=False)
        member_correct = _still_correct(path)
        assert all(member_correct[p] or not ensemble_correct[p] for p in ensemble_correct), name
        assert standard.scores.robust <= member.scores.robust + 1e-12, name

    records = read_samples(standard_path)
    assert standard.ensemble is not None and standard.ensemble.success_based
    broken = {m.name: m.count for m in standard.ensemble.members}
    attacked = [r for r in records if r["attacked"] == "True"]
    assert sum(broken.values()) == sum(1 for r in attacked if int(r["robust_prediction"]) != int(r["label"]))
    assert {r["broken_by"] for r in attacked} <= {"", "apgd-ce", "apgd-margin", "square"}
    assert all(m.seconds >= 0 for m in standard.ensemble.members)
    assert [m.n_restarts for m in standard.ensemble.members] == [1, 2, 1]
    assert standard.checks["square_on_apgd_robust"].numbers["from"] == "ensemble"
    assert standard.checks["gradients"].passed and "large_radius" in standard.checks
    assert "more_iterations" not in standard.checks  # the costly re-attack is not part of the standard run
    assert "standard-4it-1r-seed0__square40q" in standard_path.name


def test_cli_standard_prints_members_and_checks(tmp_path):
    result = CliRunner().invoke(
        main,
        [
            "evaluate",
            "--model",
            "pixel-l2",
            "--attack",
            "standard",
            "--n-iter",
            "3",
            "--square-queries",
            "20",
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
    assert "member apgd-ce" in result.output and "member square (20 queries x 1)" in result.output
    assert "check square_on_apgd_robust" in result.output
    (path,) = (tmp_path / "demo").glob("*.json")
    data = json.loads(path.read_text())
    assert data["attack"]["name"] == "standard" and data["attack"]["square_queries"] == 20
    assert [m["name"] for m in data["ensemble"]["members"]] == ["apgd-ce", "apgd-margin", "square"]


def _tiny_embedding_model():
    torch.manual_seed(0)
    encoder = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, stride=2), torch.nn.GELU(), torch.nn.Flatten(), torch.nn.LazyLinear(16))
    model = EmbeddingModel(encoder, torch.nn.Identity())
    model(torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16))
    return model.eval().requires_grad_(False)


def test_embedding_objectives_keep_the_highest_loss_over_members():
    """Without a success mask every member runs on every sample with the task's own loss; the best point is kept."""
    model = _tiny_embedding_model()
    x = torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    objective = UntargetedEmbeddingObjective(model, x)
    config = AttackConfig("standard", "linf", 8 / 255, "8/255", n_iter=3, square_queries=15)
    result = run_attack(config, objective, x, [0, 1, 2])
    assert isinstance(result, EnsembleResult) and not result.success_based
    index = torch.arange(3)
    ensemble_loss = objective(result.x_adv, index).loss
    for member in standard_members(config, success_based=False):
        member_loss = objective(run_attack(member, objective, x, [0, 1, 2]).x_adv, index).loss
        assert bool((ensemble_loss >= member_loss - 1e-6).all()), member
    assert set(result.member) <= {"apgd", "apgd-restart", "square"}
    assert result.sample_columns(0)["strongest_member"] == result.member[0]


class NoGradient:
    """A loss computed without autograd (like a metric behind a non-differentiable step)."""

    def __init__(self, anchor):
        self.anchor = anchor

    def __call__(self, x, index):
        with torch.no_grad():
            distance = (x - self.anchor[index]).abs().flatten(1).amax(dim=1)
        return ObjectiveOutput(loss=distance, success=distance > 0.05)


def test_a_loss_without_gradients_is_attacked_by_square_alone_and_says_so():
    x = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(2))
    result = run_attack(AttackConfig("standard", "linf", 0.1, "0.1", n_iter=3, square_queries=10), NoGradient(x), x, [0, 1])
    assert set(result.skipped) == {"apgd-ce", "apgd-margin"}
    assert result.success.all() and result.member == ["square", "square"]
    assert result.sample_columns(0)["skipped_members"] == "apgd-ce;apgd-margin"


def test_standard_runs_on_the_embedding_tasks_with_their_own_losses(tmp_path):
    """Detection (Eq. 5, minimised) and retrieval (Eq. 6): every member runs, the kept member is recorded per sample."""
    from paper_data import write_detection, write_revisited

    from attacks.ensemble import summarise_members
    from benchmark.datasets import load_dataset
    from benchmark.tasks import DetectionTask, RetrievalTask
    from model_zoo import create_model

    model = create_model("pixel-l2")
    attack = AttackConfig("standard", "linf", 8 / 255, "8/255", n_iter=5, square_queries=10)
    grey, lighter = (128, 128, 128), (140, 140, 140)
    write_detection(
        tmp_path / "detect" / "guns",
        {"pool": {"safe": [grey], "unsafe": [lighter]}, "query": {"safe": [grey, grey]}, "target": {"unsafe": [lighter] * 2}},
        noise=0,
    )
    dataset = load_dataset("detect", tmp_path, "guns")
    task = DetectionTask()
    task.prepare(model, dataset, attack, "cpu", batch_size=2)
    records = task.evaluate_batch(model, torch.utils.data.default_collate([dataset[i] for i in range(2)]), attack, "cpu", [0, 1])
    assert [r.robust_prediction for r in records] == ["unsafe", "unsafe"]  # as APGD alone does at 8/255
    assert {r.extra["strongest_member"] for r in records} <= {"apgd", "apgd-restart", "square"}
    summary = summarise_members(attack, [r.to_dict() for r in records])
    assert not summary.success_based and sum(m.count for m in summary.members) == 2
    assert all("kept_points" in m for m in summary.to_dict()["members"])

    gnd = [{"easy": [0], "hard": [], "junk": [], "bbx": [0, 0, 40, 40]}]
    write_revisited(
        tmp_path,
        "rparis6k",
        ["pos", "neg_dark", "neg_light"],
        ["q"],
        gnd,
        {"pos": grey, "neg_dark": (122, 122, 122), "neg_light": (134, 134, 134), "q": grey},
        noise=0,
    )
    revisited = load_dataset("rparis6k", tmp_path)
    retrieval = RetrievalTask()
    retrieval.prepare(model, revisited, attack, "cpu", batch_size=2)
    [record] = retrieval.evaluate_batch(model, torch.utils.data.default_collate([revisited[0]]), attack, "cpu", [0])
    assert record.extra["strongest_member"] in {"apgd", "apgd-restart", "square"} and record.perturbation_norm <= 8 / 255 + 1e-6
