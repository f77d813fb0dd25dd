"""Feature and text inversion on tiny random-weight CLIP towers."""
from __future__ import annotations

import pytest
import torch

from attacks.apgd import ObjectiveOutput, apgd
from attacks.inversion import InversionConfig, invert, noisy_grey_start
from model_zoo import create_model

TINY = InversionConfig(n_iter=12, image_size=32)


def test_apgd_initial_step_size_sets_the_first_step():
    """A linear loss: the first L2 step moves the centre by exactly the initial step size."""
    direction = torch.randn(1, 3, 8, 8)

    def objective(x, index):
        return ObjectiveOutput(loss=(x * direction).flatten(1).sum(dim=1))

    x = torch.full((1, 3, 8, 8), 0.5)
    moved = []
    for step in (0.05, 0.2):
        result = apgd(objective, x, norm="l2", eps=100.0, n_iter=1, random_init=False, early_stop=False, initial_step_size=step)
        moved.append(float((result.x_adv - x).norm()))
    assert moved == pytest.approx([0.05, 0.2], rel=1e-4)
    with pytest.raises(ValueError, match="initial_step_size"):
        apgd(objective, x, norm="l2", eps=1.0, n_iter=1, initial_step_size=0.0)


def test_noisy_grey_start_is_grey_within_the_noise_and_seeded():
    start = noisy_grey_start(2, 16, seeds=[3, 4])
    assert start.shape == (2, 3, 16, 16)
    assert (start - 0.5).abs().max() <= 8 / 255 + 1e-6
    assert torch.equal(start[0], noisy_grey_start(1, 16, seeds=[3])[0])
    assert not torch.equal(start[0], start[1])


def test_feature_inversion_improves_the_objective(seeded):
    model = create_model("r-clip-f-vit-b32", pretrained=False, reduced=True)
    targets = model.features(torch.rand(2, 3, 32, 32))
    out = invert(model.embed, targets, seeds=[0, 1], config=TINY)
    assert out.images.shape == (2, 3, 32, 32)
    assert 0.0 <= float(out.images.min()) and float(out.images.max()) <= 1.0
    assert len(out.history) == TINY.n_iter + 1
    assert min(out.history) < out.history[0]
    start = noisy_grey_start(2, 32, seeds=[0, 1])
    start_similarity = (model.features(start) * targets).sum(dim=-1)
    assert torch.all(out.similarity >= start_similarity - 1e-5)
    assert torch.allclose(out.similarity, (model.features(out.images) * targets).sum(dim=-1), atol=1e-4)
    assert torch.all((out.images - start).flatten(1).norm(dim=1) <= TINY.radius + 1e-3)
