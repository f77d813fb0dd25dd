"""The training-time PGD: reaches the optimum of a linear loss, stays in the ball, treats samples independently."""

import torch

from attacks.apgd import ObjectiveOutput
from attacks.pgd import pgd, uniform_linf_start


class LinearObjective:
    def __init__(self, weights):
        self.weights = weights

    def __call__(self, x, index):
        return ObjectiveOutput(loss=(x * self.weights[index]).flatten(1).sum(dim=1))


def test_pgd_climbs_a_linear_loss_to_the_corner_of_the_ball():
    torch.manual_seed(0)
    x = torch.rand(3, 3, 8, 8) * 0.8 + 0.1
    weights = torch.randn(3, 3, 8, 8)
    eps = 4 / 255
    start = uniform_linf_start(x.shape, eps, torch.Generator().manual_seed(1))
    x_adv = pgd(LinearObjective(weights), x, eps=eps, n_iter=10, step_size=1 / 255, start=start)
    assert torch.allclose(x_adv, x + eps * weights.sign(), atol=1e-6)
    x_down = pgd(LinearObjective(weights), x, eps=eps, n_iter=10, step_size=1 / 255, maximize=False)
    assert torch.allclose(x_down, x - eps * weights.sign(), atol=1e-6)


def test_pgd_stays_in_the_ball_and_the_image_range_and_splits_by_sample():
    torch.manual_seed(0)
    x = torch.rand(4, 3, 8, 8)
    objective = LinearObjective(torch.randn(4, 3, 8, 8))
    start = uniform_linf_start(x.shape, 8 / 255, torch.Generator().manual_seed(2))
    whole = pgd(objective, x, eps=8 / 255, n_iter=5, step_size=3 / 255, start=start)
    assert (whole - x).abs().max() <= 8 / 255 + 1e-6 and whole.min() >= 0 and whole.max() <= 1
    first = pgd(LinearObjective(objective.weights[:2]), x[:2], eps=8 / 255, n_iter=5, step_size=3 / 255, start=start[:2])
    assert torch.equal(first, whole[:2])
    l2 = pgd(objective, x, norm="l2", eps=0.5, n_iter=5, step_size=0.2)
    assert ((l2 - x).flatten(1).norm(dim=1) <= 0.5 + 1e-5).all()
