"""A third-party dataset, a third-party task and a third-party attack, each one file in an installed distribution with an
entry point, run end to end: `bench data verify` and `bench datasets`, `bench evaluate` with the attack and with
`--attack standard`, then the leaderboard (`bench leaderboard` and `leaderboard.load_results`)."""

from __future__ import annotations

import functools
import json
import sys
import textwrap

import numpy as np
import pytest
from click.testing import CliRunner
from paper_data import write_installed_distribution
from PIL import Image

import attacks.registry as attack_registry
import benchmark.tasks.registry as task_registry
from benchmark.cli.bench import main
from benchmark.datasets import registry as dataset_registry
from benchmark.results import read_samples
from leaderboard import load_results

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


DATASET = '''
"""ACME's triplets: `acme/triplets.csv` (reference, candidate_0, candidate_1, judge) and the images it names."""
import csv

import numpy as np
import torch
from PIL import Image

from benchmark.datasets import DatasetBase, DatasetSource, DatasetSpec

CSV = "triplets.csv"
IMAGES = ("reference", "candidate_0", "candidate_1")


def read_rows(folder):
    with (folder / CSV).open(newline="") as handle:
        return list(csv.DictReader(handle))


def read_image(path):
    return torch.from_numpy(np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255).permute(2, 0, 1)


class AcmeTriplets(DatasetBase):
    name = "acme-triplets"

    def __init__(self, folder):
        self.folder, self.rows = folder, read_rows(folder)

    def __len__(self):
        return len(self.rows)

    def sample_info(self, position):
        return {"sample_id": self.rows[position]["reference"], "split": "all"}

    def __getitem__(self, position):
        row = self.rows[position]
        images = {key: read_image(self.folder / row[key]) for key in IMAGES}
        return {**images, "judge": torch.tensor(float(row["judge"])), "position": position}


def verify(folder, report):
    if not (folder / CSV).is_file():
        report.problems.append(f"{folder / CSV} is missing")
        return
    rows = read_rows(folder)
    report.facts.append(f"{len(rows)} triplets")
    missing = [row[key] for row in rows for key in IMAGES if not (folder / row[key]).is_file()]
    if missing:
        report.problems.append(f"{len(missing)} images missing, e.g. {folder / missing[0]}")


SPEC = DatasetSpec(
    name="acme-triplets",
    task="acme-nearer",
    description="ACME's triplets, scored by the nearer candidate",
    load=lambda folder, split: AcmeTriplets(folder),
    relative_path="acme",
    required_file=CSV,
    splits=("all",),
    default_split="all",
    source=DatasetSource(manual="put triplets.csv and its images into {root}/acme/"),
    verify=verify,
)
'''


def write_triplets(folder, count=8, size=32):
    """`count` triplets whose judged candidate is the reference with a little less noise than the other (an attack can flip some)."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    lines = ["reference,candidate_0,candidate_1,judge"]
    for n in range(count):
        reference = rng.integers(64, 192, (size, size, 3))
        near = reference + rng.integers(-40, 41, reference.shape)
        far = reference + rng.integers(-46, 47, reference.shape)
        judge = n % 2
        images = {"r": reference, "c0": far if judge else near, "c1": near if judge else far}
        for key, array in images.items():
            Image.fromarray(array.astype(np.uint8)).save(folder / f"{n}_{key}.png")
        lines.append(f"{n}_r.png,{n}_c0.png,{n}_c1.png,{judge}")
    (folder / "triplets.csv").write_text("\n".join(lines) + "\n")


@pytest.fixture
def plugins(tmp_path, monkeypatch):
    """Three distributions as pip leaves them, one file each: a dataset (`perceptbench.datasets`, naming its spec), an
    attack (`perceptbench.attacks`) and a task (`perceptbench.tasks`), each naming its module; and a data root with the dataset."""
    plugins = (
        ("acme_triplets", DATASET, "perceptbench.datasets", "acme_triplets:SPEC"),
        ("acme_fgsm", ATTACK, "perceptbench.attacks", "acme_fgsm"),
        ("acme_nearer", TASK, "perceptbench.tasks", "acme_nearer"),
    )
    # the built-ins first, into the registries themselves: a built-in module imported for the first time inside the
    # copies below would register only there, and be missing once the copies are undone
    attack_registry.list_attacks(), task_registry.list_tasks(), dataset_registry.list_datasets()
    for module, source, group, target in plugins:
        site = write_installed_distribution(tmp_path / module, module, textwrap.dedent(source), {module: target}, group=group)
        monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(attack_registry, "_ATTACKS", dict(attack_registry._ATTACKS))
    monkeypatch.setattr(attack_registry, "_loaded", False)
    monkeypatch.setattr(task_registry, "_TASKS", dict(task_registry._TASKS))
    monkeypatch.setattr(task_registry, "_loaded", False)
    monkeypatch.setattr(dataset_registry, "_DATASETS", dict(dataset_registry._DATASETS))
    monkeypatch.setattr(dataset_registry, "_loaded", False)
    write_triplets(tmp_path / "data" / "acme")
    yield tmp_path / "data"
    for module, *_ in plugins:
        sys.modules.pop(module, None)


def _evaluate(data_root, out, *options):
    arguments = ["evaluate", "--model", "pixel-l2", "--dataset", "acme-triplets", "--data-root", str(data_root)]
    arguments += ["--n-ex", "8", "--batch-size", "4", "--output-dir", str(out)]
    return CliRunner().invoke(main, [*arguments, *options])


def test_a_third_party_dataset_is_listed_and_verified_through_its_own_check(plugins, tmp_path):
    listed = CliRunner().invoke(main, ["datasets", "--data-root", str(plugins)])
    assert listed.exit_code == 0 and any(
        line.split()[:3] == ["acme-triplets", "acme-nearer", "available"] for line in listed.output.splitlines()
    )
    verified = CliRunner().invoke(main, ["data", "verify", "acme-triplets", "--data-root", str(plugins)])
    assert verified.exit_code == 0 and "ok: 8 triplets" in verified.output and "all checks passed" in verified.output
    (plugins / "acme" / "3_c1.png").unlink()
    broken = CliRunner().invoke(main, ["data", "verify", "acme-triplets", "--data-root", str(plugins)])
    assert broken.exit_code == 1 and f"problem: 1 images missing, e.g. {plugins / 'acme' / '3_c1.png'}" in broken.output
    empty = CliRunner().invoke(main, ["data", "verify", "acme-triplets", "--data-root", str(tmp_path / "empty")])
    assert empty.exit_code == 1 and f"problem: {tmp_path / 'empty' / 'acme'} does not exist" in empty.output
    manual = CliRunner().invoke(main, ["data", "download", "acme-triplets", "--data-root", str(tmp_path / "empty")])
    assert (
        manual.exit_code == 0
        and f"manual step for acme-triplets: put triplets.csv and its images into {tmp_path / 'empty'}/acme/" in manual.output
    )


def test_a_third_party_dataset_task_and_attack_run_end_to_end(plugins, tmp_path):
    out = tmp_path / "results"
    _evaluate = functools.partial(globals()["_evaluate"], plugins)
    fgsm = _evaluate(out, "--attack", "acme-fgsm", "--threat", "linf,l2")
    assert fgsm.exit_code == 0, fgsm.output
    standard = _evaluate(out, "--attack", "standard", "--n-iter", "3", "--square-queries", "4")
    assert standard.exit_code == 0, standard.output
    assert "member apgd-margin" in standard.output and "member square (4 queries x 1)" in standard.output

    results = {path.name: json.loads(path.read_text()) for path in (out / "acme-triplets").glob("*.json")}
    assert len(results) == 3
    for name, result in results.items():
        assert result["task"] == "acme-nearer" and result["dataset"] == "acme-triplets" and result["scores"]["n"] == 8
        assert 0 <= result["scores"]["robust"] <= result["scores"]["clean"] <= 1, name
        rows = read_samples(out / "acme-triplets" / name)
        eps = result["attack"]["eps"]
        assert all(float(r["perturbation_norm"]) <= eps * (1 + 1e-4) + 1e-6 for r in rows)
        attacked = [r for r in rows if r["attacked"] == "True"]
        assert attacked and any(float(r["perturbation_norm"]) > 0 for r in attacked)
    (standard_name,) = [n for n in results if "standard" in n]
    rows = read_samples(out / "acme-triplets" / standard_name)
    assert {r["broken_by"] for r in rows} <= {"", "apgd-ce", "apgd-margin", "square"}  # the helper gave the ensemble's columns
    members = results[standard_name]["ensemble"]["members"]
    assert sum(m["broken"] for m in members) == sum(r["robust_prediction"] != r["label"] for r in rows if r["attacked"] == "True")

    site = tmp_path / "site"
    built = CliRunner().invoke(main, ["leaderboard", "--results", str(out), "--out", str(site), "--no-reported"])
    assert built.exit_code == 0, built.output
    board = (site / "LEADERBOARD.md").read_text()
    assert "acme-triplets" in board and "pixel-l2" in board and "acme-fgsm" in (site / "leaderboard.csv").read_text() + board
    frame = load_results(out)
    assert sorted(frame["attack"]) == ["acme-fgsm", "acme-fgsm", "standard"] and set(frame["dataset"]) == {"acme-triplets"}
    for _, row in frame.iterrows():
        (result,) = [r for r in results.values() if r["attack"]["name"] == row["attack"] and r["threat"]["norm"] == row["threat"]]
        assert row["clean"] == pytest.approx(result["scores"]["clean"]) and row["robust"] == pytest.approx(result["scores"]["robust"])
        assert row["n"] == 8 and row["split"] == "all"


def test_an_unknown_task_names_the_registered_ones(plugins):
    from benchmark.tasks import get_task

    with pytest.raises(ValueError, match=r"unknown task 'acme-neerer'; did you mean 'acme-nearer'\?"):
        get_task("acme-neerer")
