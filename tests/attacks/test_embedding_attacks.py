import pytest
import torch

from attacks import AttackConfig, TargetedEmbeddingObjective, UntargetedEmbeddingObjective, run_attack
from model_zoo import create_model


@pytest.mark.parametrize("name,kwargs", [("clip-convnext", {"reduced": True}), ("ssim", {})])
def test_targeted_attack_pulls_towards_targets_and_untargeted_pushes_away(name, kwargs):
    torch.manual_seed(0)
    model = create_model(name, pretrained=False, **kwargs)
    x = torch.rand(3, 3, 64, 64)
    targets = torch.rand(2, 3, 64, 64)
    targeted = TargetedEmbeddingObjective(model, targets)
    untargeted = UntargetedEmbeddingObjective(model, x)
    index = torch.arange(3)
    before_targeted = targeted(x, index).loss
    config = AttackConfig("apgd-ce", "linf", 8 / 255, "8/255", n_iter=10)
    x_targeted = run_attack(config, targeted, x, [0, 1, 2]).x_adv
    x_untargeted = run_attack(config, untargeted, x, [0, 1, 2]).x_adv
    assert (targeted(x_targeted, index).loss < before_targeted).all()
    assert (untargeted(x_untargeted, index).loss > untargeted(x, index).loss + 1e-6).all()
