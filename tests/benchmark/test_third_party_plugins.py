"""A third-party attack and a third-party task, each one file in an installed distribution with an entry point, run end
to end: `bench evaluate` with the attack and with `--attack standard`, then the leaderboard."""

from __future__ import annotations

import json
import sys
import textwrap

import pytest
from click.testing import CliRunner
from paper_data import write_installed_distribution

import attacks.registry as attack_registry
import benchmark.tasks.registry as task_registry
from benchmark.cli import main
from benchmark.datasets import registry as dataset_registry
from benchmark.datasets.demo import DEMO_SPLIT, load_demo
from benchmark.results import read_samples

ATTACK = '''
"""FGSM: one step along the sign (Linf) or the direction (L2) of the loss gradient."""
import torch

from attacks.objective import maximizes
from attacks.registry import register_attack
from attacks.restarts import AttackResult


@register_attack("acme-fgsm", loss="ce")
def fgsm(config, objective, x, sample_ids):
    index = torch.arange(x.shape[0], device=x.device)
    points = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        (grad,) = torch.autograd.grad(objective(points, index).loss.sum(), points)
    if config.norm == "linf":
        step = grad.sign()
    else:
        step = grad / grad.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, 1, 1, 1)
    sign = 1.0 if maximizes(objective) else -1.0
    x_adv = (x + sign * config.eps * step).clamp(0, 1).detach()
    with torch.no_grad():
        final = objective(x_adv, index)
    return AttackResult(x_adv=x_adv, success=final.success_mask(), loss=final.loss.detach().float())
'''

TASK = '''
"""Nearer-candidate 2AFC by the metric's distance, with its own objective (a LossSwitchable)."""
import torch
import torch.nn.functional as F

from attacks.objective import ObjectiveOutput, Subset
from benchmark.results import SampleOutcome
from benchmark.tasks import BatchAttack, PerSampleTask, register_task


class NearerObjective:
    def __init__(self, model, x0, x1, labels, loss="ce"):
        self.model, self.x0, self.x1, self.labels, self.loss = model, x0, x1, labels, loss

    def with_loss(self, loss):
        return NearerObjective(self.model, self.x0, self.x1, self.labels, loss)

    def logits(self, x, index):
        return -torch.stack([self.model.distance(x, self.x0[index]), self.model.distance(x, self.x1[index])], dim=1).float()

    def __call__(self, x, index):
        logits, labels = self.logits(x, index), self.labels[index]
        if self.loss == "ce":
            loss = F.cross_entropy(logits, labels, reduction="none")
        else:
            loss = logits.gather(1, (1 - labels)[:, None])[:, 0] - logits.gather(1, labels[:, None])[:, 0]
        return ObjectiveOutput(loss=loss, success=logits.argmax(dim=1) != labels)


@register_task
class NearerTask(PerSampleTask):
    name = "acme-nearer"

    def __init__(self, labels="hard"):
        self.labels = labels

    def evaluate_batch(self, model, batch, attack, device, sample_ids):
        reference = batch["reference"].to(device)
        labels = (batch["judge"].to(device) > 0.5).long()
        objective = NearerObjective(model, batch["candidate_0"].to(device), batch["candidate_1"].to(device), labels,
                                    attack.loss if attack is not None else "ce")
        everyone = torch.arange(len(labels), device=device)
        with torch.no_grad():
            clean = objective.logits(reference, everyone).argmax(dim=1)
        robust = clean.clone()
        batch_attack = BatchAttack(attack, len(labels), device, success_based=True, n_classes=2)
        attacked = (clean == labels) if attack is not None else torch.zeros_like(labels, dtype=torch.bool)
        if attacked.any():
            index = attacked.nonzero().flatten()
            x_adv = batch_attack.run(Subset(objective, index), reference, index, sample_ids)
            with torch.no_grad():
                robust[index] = objective.logits(x_adv, index).argmax(dim=1)
        return [
            SampleOutcome(
                label=int(labels[i]),
                clean_prediction=int(clean[i]),
                clean_score=float(clean[i] == labels[i]),
                attacked=bool(attacked[i]),
                robust_prediction=int(robust[i]),
                robust_score=float(robust[i] == labels[i]),
                perturbation_norm=float(batch_attack.perturbation[i]),
                extra=batch_attack.columns_of(i),
            )
            for i in range(len(labels))
        ]
'''


@pytest.fixture
def plugins(tmp_path, monkeypatch):
    """Two distributions as pip leaves them, one file each: an attack (`perceptbench.attacks`) and a task (`perceptbench.tasks`).

    Datasets have no entry point yet, so the dataset that names the task is registered here (the demo's files)."""
    for module, source, group in (("acme_fgsm", ATTACK, "perceptbench.attacks"), ("acme_nearer", TASK, "perceptbench.tasks")):
        site = write_installed_distribution(tmp_path / module, module, textwrap.dedent(source), {module: module}, group=group)
        monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(attack_registry, "_ATTACKS", dict(attack_registry._ATTACKS))
    monkeypatch.setattr(attack_registry, "_loaded", False)
    monkeypatch.setattr(task_registry, "_TASKS", dict(task_registry._TASKS))
    monkeypatch.setattr(task_registry, "_loaded", False)
    spec = dataset_registry.DatasetSpec(
        name="acme-demo",
        task="acme-nearer",
        description="the demo's triplets under the nearer-candidate task",
        load=lambda root, split: load_demo(),
        splits=(DEMO_SPLIT,),
        default_split=DEMO_SPLIT,
    )
    monkeypatch.setitem(dataset_registry._DATASETS, "acme-demo", spec)
    yield
    for module in ("acme_fgsm", "acme_nearer"):
        sys.modules.pop(module, None)


def _evaluate(out, *options):
    arguments = ["evaluate", "--model", "pixel-l2", "--dataset", "acme-demo", "--n-ex", "8", "--batch-size", "4", "--output-dir", str(out)]
    return CliRunner().invoke(main, [*arguments, *options])


def test_a_third_party_attack_and_task_run_end_to_end(plugins, tmp_path):
    out = tmp_path / "results"
    fgsm = _evaluate(out, "--attack", "acme-fgsm", "--threat", "linf,l2")
    assert fgsm.exit_code == 0, fgsm.output
    standard = _evaluate(out, "--attack", "standard", "--n-iter", "3", "--square-queries", "4")
    assert standard.exit_code == 0, standard.output
    assert "member apgd-margin" in standard.output and "member square (4 queries x 1)" in standard.output

    results = {path.name: json.loads(path.read_text()) for path in (out / "acme-demo").glob("*.json")}
    assert len(results) == 3
    for name, result in results.items():
        assert result["task"] == "acme-nearer" and result["scores"]["n"] == 8
        assert 0 <= result["scores"]["robust"] <= result["scores"]["clean"] <= 1, name
        rows = read_samples(out / "acme-demo" / name)
        eps = result["attack"]["eps"]
        assert all(float(r["perturbation_norm"]) <= eps * (1 + 1e-4) + 1e-6 for r in rows)
        attacked = [r for r in rows if r["attacked"] == "True"]
        assert attacked and any(float(r["perturbation_norm"]) > 0 for r in attacked)
    (standard_name,) = [n for n in results if "standard" in n]
    rows = read_samples(out / "acme-demo" / standard_name)
    assert {r["broken_by"] for r in rows} <= {"", "apgd-ce", "apgd-margin", "square"}  # the helper gave the ensemble's columns
    members = results[standard_name]["ensemble"]["members"]
    assert sum(m["broken"] for m in members) == sum(r["robust_prediction"] != r["label"] for r in rows if r["attacked"] == "True")

    site = tmp_path / "site"
    built = CliRunner().invoke(main, ["leaderboard", "--results", str(out), "--out", str(site), "--no-reported"])
    assert built.exit_code == 0, built.output
    board = (site / "LEADERBOARD.md").read_text()
    assert "acme-demo" in board and "pixel-l2" in board and "acme-fgsm" in (site / "leaderboard.csv").read_text() + board


def test_an_unknown_task_names_the_registered_ones(plugins):
    from benchmark.tasks import get_task

    with pytest.raises(ValueError, match=r"unknown task 'acme-neerer'; did you mean 'acme-nearer'\?"):
        get_task("acme-neerer")
