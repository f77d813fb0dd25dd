"""Our APGD and Square against AutoAttack's (pyautoattack), same settings, >= 200 samples each.

(a) a small random-init 2AFC metric wrapped as a 2-class classifier; (b) a small MLP trained in the
test on scikit-learn's bundled digits. Robust accuracies must agree within 2 points.
"""
from __future__ import annotations

import pytest
import torch
from torch import nn

from attacks import AttackConfig, run_attack
from attacks.losses import ClassifierObjective, TwoAFCObjective
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
        nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.GELU(), nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.GELU(),
        nn.Flatten(), nn.Linear(16 * 4 * 4, 32),
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


@pytest.mark.parametrize("problem_name,norm,eps", [
    ("twoafc_problem", "linf", 1 / 255), ("twoafc_problem", "l2", 0.1),
    ("digits_problem", "linf", 0.1), ("digits_problem", "l2", 0.5),
])
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

    import attacks.config

    monkeypatch.setattr(attacks.config, "square", lambda *args, **kwargs: square(*args, reference_windows=True, **kwargs))
    like_for_like = _robust_accuracy("square", problem, norm, eps, queries)
    print(f"square with reference windows: {like_for_like:.3f}")
    assert 0.05 < theirs < 0.95
    assert abs(like_for_like - theirs) <= TOLERANCE
    assert default <= theirs + TOLERANCE
