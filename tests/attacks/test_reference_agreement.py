"""Our APGD and Square against AutoAttack's (pyautoattack), same settings, >= 200 samples each.

(a) a small random-init 2AFC metric wrapped as a 2-class classifier; (b) a small MLP trained in the
test on scikit-learn's bundled digits. Robust accuracies must agree within 2 points.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from attacks import AttackConfig, ObjectiveOutput, apgd, run_attack
from attacks.losses import ClassifierObjective, TwoAFCObjective
from attacks.reference import REFERENCE_NORMS
from attacks.square import square
from model_zoo.base import EmbeddingModel

pytest.importorskip("pyautoattack")

TOLERANCE = 0.02


@pytest.fixture(scope="module")
def twoafc_problem():
    """200 random triplets on a random conv embedding; labels are the clean predictions (all attackable)."""
    generator = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    encoder = nn.Sequential(
        nn.Conv2d(3, 8, 3, stride=2, padding=1),
        nn.GELU(),
        nn.Conv2d(8, 16, 3, stride=2, padding=1),
        nn.GELU(),
        nn.Flatten(),
        nn.Linear(16 * 4 * 4, 32),
    )
    model = EmbeddingModel(encoder, nn.Identity()).eval()
    n = 200
    x = torch.rand(n, 3, 16, 16, generator=generator)
    x0 = (x + 0.15 * torch.randn(x.shape, generator=generator)).clamp(0, 1)
    x1 = (x + 0.15 * torch.randn(x.shape, generator=generator)).clamp(0, 1)
    with torch.no_grad():
        logits = TwoAFCObjective(model, x0, x1, torch.zeros(n, dtype=torch.long)).logits(x)
    labels = (logits[:, 1] > logits[:, 0]).long()
    return x, lambda loss: TwoAFCObjective(model, x0, x1, labels, loss=loss)


@pytest.fixture(scope="module")
def digits_problem():
    """An MLP trained for a few seconds on sklearn's 8x8 digits; attacked on held-out digits it gets right."""
    datasets = pytest.importorskip("sklearn.datasets")
    digits = datasets.load_digits()
    images = torch.tensor(digits.data, dtype=torch.float32).view(-1, 1, 8, 8) / 16.0
    targets = torch.tensor(digits.target)
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    optimiser = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(150):
        optimiser.zero_grad()
        nn.functional.cross_entropy(net(images[:1200]), targets[:1200]).backward()
        optimiser.step()
    net.eval()
    with torch.no_grad():
        correct = net(images[1200:]).argmax(dim=1) == targets[1200:]
    assert correct.float().mean() > 0.85, "the digits MLP did not train"
    x, labels = images[1200:][correct][:200], targets[1200:][correct][:200]
    return x, lambda loss: ClassifierObjective(net, labels, loss=loss)


def _robust_accuracy(name: str, problem, norm: str, eps: float, n_iter: int) -> float:
    x, make_objective = problem
    config = AttackConfig(name, norm, eps, str(eps), n_iter=n_iter, seed=0)
    result = run_attack(config, make_objective(config.loss), x, list(range(len(x))))
    return 1.0 - result.success.float().mean().item()


def _compare(ours: str, reference: str, problem, norm: str, eps: float, n_iter: int) -> tuple[float, float]:
    assert len(problem[0]) >= 200
    mine = _robust_accuracy(ours, problem, norm, eps, n_iter)
    theirs = _robust_accuracy(reference, problem, norm, eps, n_iter)
    print(f"\n{ours} vs {reference} {norm} eps={eps:.4f} n={len(problem[0])}: ours {mine:.3f} reference {theirs:.3f}")
    return mine, theirs


@pytest.mark.parametrize(
    "problem_name,norm,eps",
    [
        ("twoafc_problem", "linf", 1 / 255),
        ("twoafc_problem", "l2", 0.1),
        ("digits_problem", "linf", 0.1),
        ("digits_problem", "l2", 0.5),
    ],
)
def test_apgd_ce_agrees_with_reference(problem_name, norm, eps, request):
    problem = request.getfixturevalue(problem_name)
    mine, theirs = _compare("apgd-ce", "apgd-ce-reference", problem, norm, eps, n_iter=25)
    assert 0.05 < theirs < 0.95, "pick an eps where the attack is neither trivial nor hopeless"
    assert abs(mine - theirs) <= TOLERANCE


@pytest.mark.parametrize("problem_name,eps", [("twoafc_problem", 2 / 255), ("digits_problem", 0.1)])
def test_square_agrees_with_reference(problem_name, eps, request, monkeypatch):
    """Like for like: our Square with AutoAttack's window-corner convention matches it within 2 points,
    and our default (corners anywhere) is at least as strong."""
    problem, norm, queries = request.getfixturevalue(problem_name), "linf", 1000
    default, theirs = _compare("square", "square-reference", problem, norm, eps, n_iter=queries)

    import importlib

    square_module = importlib.import_module("attacks.square")  # `attacks.square` itself names the function
    monkeypatch.setattr(square_module, "square", lambda *args, **kwargs: square(*args, reference_windows=True, **kwargs))
    like_for_like = _robust_accuracy("square", problem, norm, eps, queries)
    print(f"square with reference windows: {like_for_like:.3f}")
    assert 0.05 < theirs < 0.95
    assert abs(like_for_like - theirs) <= TOLERANCE
    assert default <= theirs + TOLERANCE


def _without_success(objective):
    """The same loss with no success signal: APGD then returns each sample's highest-loss point."""

    def loss_only(x, index):
        output = objective(x, index)
        return ObjectiveOutput(loss=output.loss)

    return loss_only


@pytest.mark.parametrize(
    "problem_name,norm,eps",
    [
        ("twoafc_problem", "linf", 1 / 255),
        ("twoafc_problem", "l2", 0.1),
        ("digits_problem", "linf", 0.1),
        ("digits_problem", "l2", 0.5),
    ],
)
def test_apgd_ce_follows_the_reference_trajectory_sample_by_sample(problem_name, norm, eps, request):
    """Random start off: the same samples are broken, and where the reference's run ends with its
    highest-loss point (x_best), ours ends at the same point, to 1e-5, with the same loss."""
    from pyautoattack.autopgd_base import APGDAttack

    x, make_objective = request.getfixturevalue(problem_name)
    objective = make_objective("ce")
    everyone = torch.arange(len(x))
    labels = objective(x, everyone).labels
    n_iter = 25
    reference = APGDAttack(
        lambda z: objective(z, everyone).logits, norm=REFERENCE_NORMS[norm], n_iter=n_iter, eps=eps, loss="ce", device=x.device
    )
    reference.init_hyperparam(x)
    # AutoAttack's random start off: its single run started from x_init = x.
    reference_best, reference_robust, reference_loss, _ = reference.attack_single_run(x.clone(), labels.clone(), x_init=x.clone())

    ours = apgd(objective, x, norm=norm, eps=eps, n_iter=n_iter, random_init=False)
    assert torch.equal(ours.success, ~reference_robust.bool())
    assert 0.05 < ours.success.float().mean() < 0.95, "pick an eps where some samples break and some do not"

    loss_only = apgd(_without_success(objective), x, norm=norm, eps=eps, n_iter=n_iter, random_init=False, early_stop=False)
    assert torch.allclose(loss_only.x_adv, reference_best, atol=1e-5, rtol=0)
    assert torch.allclose(loss_only.loss, reference_loss, atol=1e-5, rtol=1e-5)
    # Samples neither run breaks end at the highest-loss point in both.
    never = ~ours.success
    assert torch.allclose(ours.x_adv[never], reference_best[never], atol=1e-5, rtol=0)


class ScriptedLoss:
    """A 2-class classifier whose cross-entropy follows a script over successive queries (plus a small
    linear term in a new direction at each query, so the points depend on the step size): the first k steps never beat the starting
    loss but rise steadily. AutoAttack then keeps its step size at the first checkpoint (its "reduced
    at the last checkpoint" flags start true); halving it there changes every later point."""

    def __init__(self, weights: torch.Tensor):
        self.weights = weights
        self.calls = 0

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        script = 10.0 if self.calls == 0 else 1.5 * self.calls
        direction = self.weights * torch.randn(x.shape[1:], generator=torch.Generator().manual_seed(self.calls))
        self.calls += 1
        z = script + (x * direction).flatten(1).sum(dim=1)
        return torch.stack([torch.zeros_like(z), z], dim=1)

    def objective(self, x: torch.Tensor, index: torch.Tensor) -> ObjectiveOutput:
        logits = self.logits(x)
        return ObjectiveOutput(loss=torch.nn.functional.cross_entropy(logits, torch.zeros(len(x), dtype=torch.long), reduction="none"))


@pytest.mark.parametrize("norm,eps", [("linf", 8 / 255), ("l2", 0.5)])
def test_apgd_first_checkpoint_keeps_the_step_size_as_the_reference_does(norm, eps):
    from pyautoattack.autopgd_base import APGDAttack

    x = torch.rand(4, 3, 8, 8, generator=torch.Generator().manual_seed(0)) * 0.5 + 0.25
    weights = 1e-3 * torch.randn(x.shape[1:], generator=torch.Generator().manual_seed(1))
    reference_model = ScriptedLoss(weights)
    reference = APGDAttack(reference_model.logits, norm=REFERENCE_NORMS[norm], n_iter=25, eps=eps, loss="ce", device=x.device)
    reference.init_hyperparam(x)
    reference_best, _, _, _ = reference.attack_single_run(x.clone(), torch.zeros(len(x), dtype=torch.long), x_init=x.clone())
    ours = apgd(ScriptedLoss(weights).objective, x, norm=norm, eps=eps, n_iter=25, random_init=False, early_stop=False)
    assert not torch.allclose(reference_best, x), "the script should lead to a new best point after the first checkpoint"
    assert torch.allclose(ours.x_adv, reference_best, atol=1e-6, rtol=0)
