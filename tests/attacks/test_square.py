import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from attacks import AttackConfig, ObjectiveOutput, TwoAFCObjective, run_attack, square
from attacks.square import l2_window_pattern, p_selection
from benchmark.tasks import TwoAFCTask
from model_zoo import create_model


def _norms(delta: torch.Tensor, norm: str) -> torch.Tensor:
    flat = delta.flatten(1)
    return flat.abs().amax(dim=1) if norm == "linf" else flat.norm(dim=1)


class CountingDistance:
    """Loss = squared distance from the clean image; counts queries and refuses gradients."""

    def __init__(self, anchor):
        self.anchor = anchor
        self.queries = torch.zeros(len(anchor), dtype=torch.long)

    def __call__(self, x, index):
        assert not torch.is_grad_enabled(), "Square must only query, never differentiate"
        self.queries[index] += 1
        return ObjectiveOutput(loss=(x - self.anchor[index]).pow(2).flatten(1).sum(1))


@settings(max_examples=20, deadline=None)
@given(
    norm=st.sampled_from(["linf", "l2"]),
    eps=st.floats(0.0, 2.0),
    shape=st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 12), st.integers(1, 12)),
    seed=st.integers(0, 1000),
)
def test_square_stays_in_ball_and_box(norm, eps, shape, seed):
    x = torch.rand(shape, generator=torch.Generator().manual_seed(seed))
    result = square(CountingDistance(x.clone()), x, norm=norm, eps=eps, n_queries=15, seed=seed)
    assert result.x_adv.min() >= 0 and result.x_adv.max() <= 1
    assert (_norms(result.x_adv - x, norm) <= eps * (1 + 1e-5) + 1e-6).all()


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_square_with_zero_eps_changes_nothing(norm):
    x = torch.rand(2, 3, 8, 8)
    assert torch.equal(square(CountingDistance(x.clone()), x, norm=norm, eps=0.0, n_queries=20).x_adv, x)


class CountingLinear(CountingDistance):
    """Loss = <w, x - anchor>: its maximum over the Linf ball is eps * ||w||_1, over the L2 ball eps * ||w||_2."""

    def __init__(self, anchor, weights):
        super().__init__(anchor)
        self.weights = weights

    def __call__(self, x, index):
        super().__call__(x, index)
        return ObjectiveOutput(loss=((x - self.anchor[index]) * self.weights[index]).flatten(1).sum(1))


@pytest.mark.parametrize("norm,eps", [("linf", 8 / 255), ("l2", 0.5)])
def test_square_spends_its_budget_and_climbs_towards_the_optimum(norm, eps):
    x = torch.rand(3, 3, 12, 12) * 0.5 + 0.25
    w = torch.randn(3, 1, 12, 12).expand(3, 3, 12, 12)  # the same per channel, as Square's updates are
    objective = CountingLinear(x.clone(), w)
    result = square(objective, x, norm=norm, eps=eps, n_queries=300)
    assert objective.queries.tolist() == [300, 300, 300]
    start = square(CountingLinear(x.clone(), w), x, norm=norm, eps=eps, n_queries=1)
    optimum = eps * (w.flatten(1).abs().sum(1) if norm == "linf" else w.flatten(1).norm(dim=1))
    assert (result.loss > start.loss).all()
    assert (result.loss <= optimum * (1 + 1e-4)).all()
    assert (result.loss > 0.3 * optimum).all()  # random stripes start near 0


def test_square_stops_querying_samples_it_broke():
    x = torch.rand(4, 3, 8, 8)

    class FirstIsEasy(CountingDistance):
        def __call__(self, z, index):
            output = super().__call__(z, index)
            return ObjectiveOutput(loss=output.loss, success=index == 0)

    objective = FirstIsEasy(x.clone())
    result = square(objective, x, eps=4 / 255, n_queries=50)
    assert result.success.tolist() == [True, False, False, False]
    assert objective.queries[0] == 1 and (objective.queries[1:] == 50).all()


def test_square_is_deterministic_for_a_seed_and_independent_of_batch_composition():
    x = torch.rand(4, 3, 10, 10)
    first = square(CountingDistance(x.clone()), x, norm="l2", eps=0.5, n_queries=30, seed=5)
    again = square(CountingDistance(x.clone()), x, norm="l2", eps=0.5, n_queries=30, seed=5)
    assert torch.equal(first.x_adv, again.x_adv)
    anchor = x.clone()
    half = square(lambda z, i: CountingDistance(anchor)(z, i + 2), x[2:], norm="l2", eps=0.5, n_queries=30, seed=5, sample_ids=[2, 3])
    assert torch.allclose(half.x_adv, first.x_adv[2:], atol=1e-6)


def test_p_schedule_halves_at_the_papers_fractions():
    assert p_selection(0, 10000, 0.8) == 0.8
    assert p_selection(11, 10000, 0.8) == 0.4
    assert p_selection(201, 10000, 0.8) == 0.1
    assert p_selection(8001, 10000, 0.8) == pytest.approx(0.8 / 512)
    assert p_selection(501, 1000, 0.8) == pytest.approx(0.8 / 128)  # rescaled to the budget


@pytest.mark.parametrize("side", [1, 3, 4, 7])
def test_l2_pattern_has_unit_norm_and_opposite_halves(side):
    pattern = l2_window_pattern(side)
    assert pattern.norm() == pytest.approx(1.0, abs=1e-5)
    if side > 1:
        assert pattern[: side // 2].min() > 0 and pattern[side // 2 :].max() < 0


def test_square_breaks_ssim_at_a_large_radius_through_the_task(hard_label_batch):
    batch, positions = hard_label_batch
    outcomes = TwoAFCTask().evaluate_batch(
        create_model("ssim"), batch, AttackConfig("square", "linf", 1.0, "1", n_iter=100), "cpu", positions
    )
    assert all(o.robust_score == 0.0 for o in outcomes)


def test_apgd_margin_and_square_use_the_margin_loss():
    model = create_model("pixel-l2")
    x = torch.rand(2, 3, 8, 8)
    labels = torch.tensor([0, 1])
    objective = TwoAFCObjective(model, x, (x + 0.3).clamp(0, 1), labels, loss=AttackConfig("square", "linf", 0.1, "0.1").loss)
    logits = objective.logits(x)
    expected = logits.gather(1, (1 - labels)[:, None])[:, 0] - logits.gather(1, labels[:, None])[:, 0]
    assert torch.allclose(objective(x, torch.arange(2)).loss, expected)
    assert AttackConfig("apgd-margin", "linf", 0.1, "0.1").loss == "margin"


def test_reference_attack_refuses_embedding_objectives():
    pytest.importorskip("pyautoattack")
    from attacks import UntargetedEmbeddingObjective

    model = create_model("pixel-l2")
    x = torch.rand(2, 3, 8, 8)
    with pytest.raises(ValueError, match="use apgd-ce or square"):
        run_attack(AttackConfig("apgd-ce-reference", "linf", 0.1, "0.1"), UntargetedEmbeddingObjective(model, x), x, [0, 1])
