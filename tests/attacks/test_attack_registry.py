"""The attack registry: every registered attack runs through `run_attack` and respects its threat; names and the loss switch."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest
import torch

import attacks
from attacks import AttackConfig, ObjectiveOutput, run_attack
from attacks.objective import LossSwitchable, Subset, can_switch_loss
from attacks.registry import LOSSES, get_attack, list_attacks
from attacks.threat import perturbation_norm

BUILTIN = ("apgd-ce", "apgd-margin", "apgd-t", "square", "apgd-ce-reference", "square-reference", "standard", "apgd-ce-t")


class TenClassObjective:
    """A fixed linear 10-class classifier on the images: every attack of the registry (APGD-T included) applies to it."""

    def __init__(self, labels: torch.Tensor, loss: str = "ce"):
        from attacks.losses import ClassifierObjective

        weight = torch.linspace(-1, 1, 10 * 3 * 8 * 8).reshape(10, -1)
        self.inner = ClassifierObjective(lambda x: 20 * x.flatten(1) @ weight.T, labels, loss)

    def with_loss(self, loss: str) -> TenClassObjective:
        return TenClassObjective(self.inner.labels, loss)

    def __call__(self, x, index):
        return self.inner(x, index)


def test_the_builtin_attacks_are_registered_in_their_order():
    assert list_attacks()[: len(BUILTIN)] == BUILTIN
    assert {get_attack(name).loss for name in list_attacks()} <= set(LOSSES)
    assert [name for name in BUILTIN if get_attack(name).query_budget] == ["square", "square-reference"]


@pytest.mark.parametrize("name", [n for n in BUILTIN if not n.endswith("-reference")])
@pytest.mark.parametrize("norm, eps", [("linf", 4 / 255), ("l2", 0.5)])
def test_every_attack_runs_through_the_registry_inside_its_threat(name, norm, eps):
    torch.manual_seed(0)
    x = torch.rand(4, 3, 8, 8)
    objective = TenClassObjective(torch.zeros(4, dtype=torch.long))
    config = AttackConfig(name, norm, eps, str(eps), n_iter=3, square_queries=5)
    result = run_attack(config, objective, x, [0, 1, 2, 3])
    assert result.x_adv.shape == x.shape and result.success.shape == (4,)
    assert bool((perturbation_norm((result.x_adv - x).flatten(1), norm) <= eps * (1 + 1e-4) + 1e-6).all())
    assert 0 <= float(result.x_adv.min()) and float(result.x_adv.max()) <= 1
    assert bool(result.sample_columns(0)) == (name in ("standard", "apgd-ce-t"))  # the ensembles name their members
    # ... and tasks record them where the attack declares the columns of samples it never attacked: `standard` only, as before
    assert (get_attack(name).unattacked_columns is not None) == (name == "standard")


def test_an_unknown_attack_names_the_closest():
    with pytest.raises(ValueError, match=r"unknown attack 'apgd-cee'; did you mean 'apgd-ce'"):
        get_attack("apgd-cee")


def test_only_the_ensemble_records_its_square_budget():
    assert "square_queries" in AttackConfig("standard", "linf", 0.1, "0.1").to_dict()
    assert "square_queries" not in AttackConfig("apgd-ce", "linf", 0.1, "0.1").to_dict()
    assert "square_queries" not in AttackConfig("not-installed", "linf", 0.1, "0.1").to_dict()  # a result file may name one


class NoSwitchObjective:
    """Reports success, but cannot change its loss: the standard ensemble cannot run its margin member on it."""

    def __call__(self, x, index):
        logits = torch.stack([x.flatten(1).mean(1), 1 - x.flatten(1).mean(1)], dim=1)
        return ObjectiveOutput(loss=logits[:, 1] - logits[:, 0], success=logits[:, 1] > logits[:, 0])


@pytest.mark.parametrize("wrap", [lambda o: o, lambda o: Subset(o, torch.arange(2))])
def test_the_ensemble_names_the_missing_loss_switch_in_one_line(wrap):
    objective = wrap(NoSwitchObjective())
    assert not can_switch_loss(objective) and can_switch_loss(Subset(TenClassObjective(torch.zeros(2, dtype=torch.long)), torch.arange(2)))
    config = AttackConfig("standard", "linf", 4 / 255, "4/255", n_iter=2, square_queries=2)
    with pytest.raises(
        ValueError, match=r"apgd-margin member\) runs the 'margin' loss, but the objective NoSwitchObjective has no with_loss"
    ) as error:
        run_attack(config, objective, torch.rand(2, 3, 8, 8), [0, 1])
    assert "\n" not in str(error.value) and not isinstance(error.value, TypeError)
    assert isinstance(TenClassObjective(torch.zeros(1, dtype=torch.long)), LossSwitchable)


def test_apgd_and_square_stay_functions_after_their_submodules_load():
    importlib.import_module("attacks.apgd")
    importlib.import_module("attacks.square")
    assert callable(attacks.apgd) and not isinstance(attacks.apgd, type(sys))
    assert callable(attacks.square) and not isinstance(attacks.square, type(sys))
    assert sys.modules["attacks.apgd"].apgd is attacks.apgd


def test_the_package_and_its_light_modules_load_no_torch():
    probe = "import sys, attacks, attacks.defaults, attacks.registry, attacks.config; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip() == "False"
