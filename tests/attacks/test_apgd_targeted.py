"""APGD-T (attacks/apgd_targeted.py) against AutoAttack's own `APGDAttack_targeted` (pyautoattack).

The model is the trained CIFAR-10 ResNet-18 that pyautoattack ships (examples/model_test.pt, loaded
into its examples/resnet.py). CIFAR-10 itself is not shipped and cannot be downloaded here, so the
inputs are 32x32 tiles of the two photographs scikit-learn ships, labelled by the model's clean
predictions (every tile is attackable). Random starts are off on both sides (AutoAttack's single run
given x_init = x), so the two trajectories can be compared; robust accuracies must agree within 2
points at two radii. A small budget keeps it cheap on CPU: 3 targets, 10 iterations, 64 tiles.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from attacks import AttackConfig, run_attack
from attacks.apgd_targeted import apgd_targeted, clean_targets
from attacks.losses import ClassifierObjective, targeted_dlr_loss

pyautoattack = pytest.importorskip("pyautoattack")
TOLERANCE = 0.02
N_TARGETS, N_ITER, N_TILES = 3, 10, 64


@pytest.fixture(scope="module")
def cifar_resnet() -> nn.Module:
    """pyautoattack's trained CIFAR-10 ResNet-18 (skipped where the package does not ship it)."""
    examples = Path(pyautoattack.__file__).parent / "examples"
    if not (examples / "model_test.pt").exists():
        pytest.skip("this pyautoattack ships no examples/model_test.pt")
    spec = importlib.util.spec_from_file_location("pyautoattack_resnet", examples / "resnet.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    net = module.ResNet18()
    net.load_state_dict(torch.load(examples / "model_test.pt", map_location="cpu", weights_only=True))
    return net.eval()


@pytest.fixture(scope="module")
def photo_tiles(cifar_resnet) -> tuple[torch.Tensor, torch.Tensor]:
    """N_TILES 32x32 tiles of scikit-learn's sample photographs (halved), with the model's clean predictions as labels."""
    datasets = pytest.importorskip("sklearn.datasets")
    photos = torch.tensor(np.stack(datasets.load_sample_images().images)).permute(0, 3, 1, 2).float() / 255.0
    photos = nn.functional.interpolate(photos, scale_factor=0.5, mode="area")
    tiles = photos.unfold(2, 32, 32).unfold(3, 32, 32).permute(0, 2, 3, 1, 4, 5).reshape(-1, 3, 32, 32)
    x = tiles[torch.randperm(len(tiles), generator=torch.Generator().manual_seed(0))[:N_TILES]].contiguous()
    with torch.no_grad():
        labels = cifar_resnet(x).argmax(dim=1)
    return x, labels


def _reference_robust_accuracy(net: nn.Module, x: torch.Tensor, labels: torch.Tensor, norm: str, eps: float) -> float:
    from pyautoattack.autopgd_base import APGDAttack_targeted

    attack = APGDAttack_targeted(
        net, norm={"linf": "Linf", "l2": "L2"}[norm], eps=eps, n_iter=N_ITER, n_target_classes=N_TARGETS, device=x.device
    )
    # AutoAttack's driver with its random start off: every single run starts at the clean images.
    single_run = attack.attack_single_run
    attack.attack_single_run = lambda x_run, y_run: single_run(x_run, y_run, x_init=x_run.clone())
    with torch.random.fork_rng():
        x_adv = attack.perturb(x.clone(), labels.clone())
    with torch.no_grad():
        return (net(x_adv).argmax(dim=1) == labels).float().mean().item()


# Out of its training distribution the model has small margins: radii of a fraction of 1/255 leave 25-70% robust.
@pytest.mark.parametrize("norm,eps", [("linf", 0.1 / 255), ("linf", 0.4 / 255)])
def test_apgd_t_agrees_with_autoattack_on_the_shipped_cifar_resnet(cifar_resnet, photo_tiles, norm, eps):
    x, labels = photo_tiles
    ours = apgd_targeted(
        ClassifierObjective(cifar_resnet, labels), x, norm=norm, eps=eps, n_iter=N_ITER, n_target_classes=N_TARGETS, random_init=False
    )
    mine = 1.0 - ours.success.float().mean().item()
    theirs = _reference_robust_accuracy(cifar_resnet, x, labels, norm, eps)
    print(f"\napgd-t vs AutoAttack APGD-T, {norm} eps={eps:.4f}, n={len(x)}: ours {mine:.3f} reference {theirs:.3f}")
    assert 0.05 < theirs < 0.95, "pick an eps where the attack is neither trivial nor hopeless"
    assert abs(mine - theirs) <= TOLERANCE


def test_targeted_dlr_loss_is_autoattacks():
    """The loss, on logits with ties and both signs, equals AutoAttack's `dlr_loss_targeted`."""
    from pyautoattack.autopgd_base import APGDAttack_targeted

    logits = torch.randn(32, 10, generator=torch.Generator().manual_seed(0)) * 3
    labels, targets = logits.argmax(dim=1), logits.argsort(dim=1)[:, -3]
    reference = APGDAttack_targeted(lambda z: z, eps=0.1, device="cpu")
    reference.y_target = targets
    assert torch.allclose(targeted_dlr_loss(logits, labels, targets), reference.dlr_loss_targeted(logits, labels), atol=1e-6)


def test_targets_are_the_next_classes_by_clean_logits():
    logits = torch.tensor([[0.0, 5.0, 1.0, 3.0, 2.0]])
    objective = ClassifierObjective(lambda x: logits.expand(len(x), -1), torch.tensor([1]))
    assert clean_targets(objective, torch.zeros(1, 3, 2, 2), 9).tolist() == [[3, 4, 2, 0]]  # capped at K - 1


def test_apgd_t_refuses_fewer_than_four_classes():
    objective = ClassifierObjective(lambda x: torch.zeros(len(x), 3), torch.tensor([0]))
    with pytest.raises(ValueError, match=">= 4 classes"):
        run_attack(AttackConfig("apgd-t", "linf", 0.1, "0.1"), objective, torch.zeros(1, 3, 2, 2), [0])


def test_standard_ensemble_runs_apgd_t_on_many_classes_and_apgd_ce_t_is_robustvlms():
    """Standard: APGD-CE, APGD-T, Square where there are >= 4 classes; apgd-ce-t: APGD-CE then APGD-T, no Square."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(48, 10))
    x = torch.rand(16, 3, 4, 4, generator=torch.Generator().manual_seed(1))
    labels = net(x).argmax(dim=1)
    for name, members in (("standard", {"apgd-ce", "apgd-t", "square"}), ("apgd-ce-t", {"apgd-ce", "apgd-t"})):
        config = AttackConfig(name, "linf", 0.05, "0.05", n_iter=5, square_queries=20)
        result = run_attack(config, ClassifierObjective(net, labels), x, list(range(16)))
        assert set(result.seconds) == members
    ce_only = run_attack(AttackConfig("apgd-ce", "linf", 0.05, "0.05", n_iter=5), ClassifierObjective(net, labels), x, list(range(16)))
    assert result.success.sum() >= ce_only.success.sum()
