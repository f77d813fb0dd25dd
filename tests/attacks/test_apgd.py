import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from attacks import ObjectiveOutput, TwoAFCObjective, apgd, project
from benchmark.tasks import AttackConfig, TwoAFCTask
from model_zoo import create_model


def _norms(delta: torch.Tensor, norm: str) -> torch.Tensor:
    flat = delta.flatten(1)
    return flat.abs().amax(dim=1) if norm == "linf" else flat.norm(dim=1)


class DistanceObjective:
    """Push x away from a fixed point (no success criterion): the loss grows with the perturbation."""

    def __init__(self, anchor):
        self.anchor = anchor

    def __call__(self, x, index):
        return ObjectiveOutput(loss=(x - self.anchor[index]).pow(2).flatten(1).sum(1))


@settings(max_examples=30, deadline=None)
@given(
    norm=st.sampled_from(["linf", "l2"]),
    eps=st.floats(0.0, 2.0),
    shape=st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 9), st.integers(1, 9)),
    seed=st.integers(0, 1000),
)
def test_projection_stays_in_ball_and_box(norm, eps, shape, seed):
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand(shape, generator=generator)
    moved = x + 3 * torch.randn(shape, generator=generator)
    projected = project(moved, x, norm, eps)
    assert projected.min() >= 0 and projected.max() <= 1
    assert (_norms(projected - x, norm) <= eps * (1 + 1e-5) + 1e-6).all()


@settings(max_examples=15, deadline=None)
@given(norm=st.sampled_from(["linf", "l2"]), eps=st.floats(0.0, 1.0), batch=st.integers(1, 4), seed=st.integers(0, 100))
def test_apgd_outputs_stay_in_ball_and_box(norm, eps, batch, seed):
    x = torch.rand(batch, 3, 6, 5, generator=torch.Generator().manual_seed(seed))
    result = apgd(DistanceObjective(x.clone()), x, norm=norm, eps=eps, n_iter=5, seed=seed)
    assert result.x_adv.min() >= 0 and result.x_adv.max() <= 1
    assert (_norms(result.x_adv - x, norm) <= eps * (1 + 1e-5) + 1e-6).all()


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_apgd_with_zero_eps_changes_nothing(norm):
    x = torch.rand(3, 3, 8, 8)
    result = apgd(DistanceObjective(x.clone()), x, norm=norm, eps=0.0, n_iter=10)
    assert torch.equal(result.x_adv, x)


@pytest.mark.parametrize("norm,eps", [("linf", 8 / 255), ("l2", 0.5)])
def test_apgd_reaches_the_optimum_of_a_linear_loss(norm, eps):
    """max <w, delta> over the ball is eps * ||w||_1 (Linf) or eps * ||w||_2 (L2), away from the box edges."""
    x = torch.rand(4, 3, 8, 8) * 0.5 + 0.25
    w = torch.randn(4, 3, 8, 8)

    def linear(z, index):
        return ObjectiveOutput(loss=((z - x[index]) * w[index]).flatten(1).sum(1))

    random_only = apgd(linear, x, norm=norm, eps=eps, n_iter=0)
    attacked = apgd(linear, x, norm=norm, eps=eps, n_iter=20)
    optimum = eps * (w.flatten(1).abs().sum(1) if norm == "linf" else w.flatten(1).norm(dim=1))
    assert (attacked.loss > random_only.loss).all()
    assert torch.allclose(attacked.loss, optimum, rtol=1e-3)


def test_apgd_minimises_when_asked():
    x = torch.rand(2, 3, 8, 8) * 0.5 + 0.25
    result = apgd(DistanceObjective(x.clone()), x, eps=8 / 255, n_iter=20, maximize=False)
    assert result.loss.max() < 1e-3


def test_apgd_is_deterministic_for_a_seed_and_independent_of_batch_composition():
    model = create_model("ssim")
    x = torch.rand(4, 3, 16, 16)
    x0, x1 = (x + 0.05 * torch.randn_like(x)).clamp(0, 1), (x + 0.2 * torch.randn_like(x)).clamp(0, 1)
    objective = TwoAFCObjective(model, x0, x1, torch.zeros(4, dtype=torch.long))
    first = apgd(objective, x, eps=4 / 255, n_iter=5, seed=3)
    again = apgd(objective, x, eps=4 / 255, n_iter=5, seed=3)
    assert torch.equal(first.x_adv, again.x_adv)
    half = apgd(lambda z, i: objective(z, i + 2), x[2:], eps=4 / 255, n_iter=5, seed=3, sample_ids=[2, 3])
    assert torch.allclose(half.x_adv, first.x_adv[2:], atol=1e-6)


def test_huge_eps_drives_random_clip_convnext_2afc_score_to_zero(hard_label_batch):
    """At Linf eps 1 the reference can become anything: every unanimous triplet must flip."""
    batch, positions = hard_label_batch
    torch.manual_seed(0)
    model = create_model("clip-convnext", pretrained=False)
    outcomes = TwoAFCTask().evaluate_batch(model, batch, AttackConfig("apgd-ce", "linf", 1.0, "1", n_iter=10), "cpu", positions)
    assert [o.robust_score for o in outcomes] == [0.0] * len(outcomes)


@pytest.mark.parametrize("name", ["ssim", "pixel-l2"])
def test_huge_eps_breaks_pairwise_metrics(name, hard_label_batch):
    batch, positions = hard_label_batch
    outcomes = TwoAFCTask().evaluate_batch(
        create_model(name), batch, AttackConfig("apgd-ce", "linf", 1.0, "1", n_iter=20), "cpu", positions
    )
    assert all(o.robust_score == 0.0 for o in outcomes)
