"""Certificates (attacks/certify.py) against answers known in closed form and against a brute-force attack."""

from __future__ import annotations

import pytest
import torch

from attacks import TwoAFCObjective, apgd, twoafc_predictions
from attacks.certify import (
    Certificate,
    SmoothedAttackConfig,
    SmoothedAttackOutcome,
    SmoothingConfig,
    attack_smoothed,
    certified_accuracy,
    clopper_pearson_lower,
    clopper_pearson_upper,
    lipschitz_certificates,
    smoothing_certificates,
)
from model_zoo import create_model


def _linear_case(n: int = 12, seed: int = 0, size: int = 6):
    """pixel-l2's 2AFC decision is linear in the reference: x1 is preferred iff 2 r.(x1 - x0) > |x1|^2 - |x0|^2."""
    g = torch.Generator().manual_seed(seed)
    x0, x1 = torch.rand(n, 3, size, size, generator=g), torch.rand(n, 3, size, size, generator=g)
    midpoint = (x0 + x1) / 2
    direction = (x1 - x0) / (x1 - x0).flatten(1).norm(dim=1).view(-1, 1, 1, 1)
    distances = torch.linspace(-0.6, 0.6, n)  # signed distance of each reference from the decision hyperplane
    reference = midpoint + distances.view(-1, 1, 1, 1) * direction
    return reference, x0, x1, distances


def test_smoothing_recovers_the_exact_radius_of_a_linear_decision():
    """For a linear base decision the smoothed decision is the same and its exact certified radius is the distance to the hyperplane."""
    reference, x0, x1, distances = _linear_case()
    config = SmoothingConfig(sigma=0.25, n0=100, n=10_000, alpha=0.001, batch_size=5000)
    certificates = smoothing_certificates(create_model("pixel-l2"), reference, x0, x1, list(range(len(reference))), config)
    for certificate, distance in zip(certificates, distances.tolist()):
        exact = abs(distance)
        if certificate.prediction is None:
            assert exact < 0.1  # abstains only close to the boundary
            continue
        assert certificate.prediction == int(distance > 0)
        assert certificate.radius <= exact + 1e-6  # a certificate never claims more than is true
        if exact < 3 * config.sigma:  # below the cap that n draws allow
            assert certificate.radius >= exact - 0.06
    assert sum(c.prediction is not None for c in certificates) >= 9


def test_smoothing_does_not_depend_on_the_batch():
    reference, x0, x1, _ = _linear_case(n=4)
    model = create_model("pixel-l2")
    config = SmoothingConfig(n0=20, n=400, batch_size=64)
    together = smoothing_certificates(model, reference, x0, x1, [10, 11, 12, 13], config)
    alone = [smoothing_certificates(model, reference[i : i + 1], x0[i : i + 1], x1[i : i + 1], [10 + i], config)[0] for i in range(4)]
    assert together == alone


def test_clopper_pearson_is_a_lower_bound():
    assert clopper_pearson_lower(0, 100, 0.001) == 0.0
    assert 0.9 < clopper_pearson_lower(990, 1000, 0.001) < 0.99


@pytest.fixture(scope="module")
def lipsim_case():
    torch.manual_seed(0)
    model = create_model("lipsim-pretrained", pretrained=False, reduced=True).eval()
    g = torch.Generator().manual_seed(1)

    # Smooth random images (upsampled noise) far enough apart that the random network separates them.
    def images(n: int) -> torch.Tensor:
        return torch.nn.functional.interpolate(torch.rand(n, 3, 4, 4, generator=g), size=64, mode="bilinear")

    reference, x0, x1 = images(16), images(16), images(16)
    return model, reference, x0, x1


def test_reduced_lipsim_embedding_is_1_lipschitz(lipsim_case):
    model, reference, x0, _ = lipsim_case
    with torch.no_grad():
        ratio = (model.embed(reference) - model.embed(x0)).norm(dim=1) / (reference - x0).flatten(1).norm(dim=1)
    assert float(ratio.max()) <= 1.0 + 1e-5


def test_no_sample_the_lipschitz_certificate_covers_is_broken(lipsim_case):
    model, reference, x0, x1 = lipsim_case
    certificates = lipschitz_certificates(model, reference, x0, x1)
    radii = torch.tensor([c.radius for c in certificates])
    assert float(radii.max()) > 0  # not vacuous
    labels = torch.tensor([c.prediction for c in certificates])
    objective = TwoAFCObjective(model, x0, x1, labels)
    with torch.no_grad():
        assert torch.equal(twoafc_predictions(objective.logits(reference)), labels)
    # A strong L2 attack at 99% of each sample's certified radius (one eps per sample: attack one at a time).
    for i in range(len(reference)):
        sub = TwoAFCObjective(model, x0[i : i + 1], x1[i : i + 1], labels[i : i + 1])
        result = apgd(sub, reference[i : i + 1], norm="l2", eps=0.99 * float(radii[i]), n_iter=50, sample_ids=[i])
        assert not bool(result.success.any()), f"sample {i} certified at {float(radii[i]):.4f} but broken"
    # ... while at 50 x the radius the same attack does break some: the attack is not toothless.
    broken = 0
    for i in range(4):
        sub = TwoAFCObjective(model, x0[i : i + 1], x1[i : i + 1], labels[i : i + 1])
        broken += int(apgd(sub, reference[i : i + 1], norm="l2", eps=50 * float(radii[i]) + 1.0, n_iter=50, sample_ids=[i]).success.sum())
    assert broken >= 1


def test_lipschitz_certificates_refuse_what_they_cannot_bound(lipsim_case):
    model, reference, x0, x1 = lipsim_case
    with pytest.raises(ValueError, match="input size"):
        lipschitz_certificates(model, reference[:, :, :32, :32], x0[:, :, :32, :32], x1[:, :, :32, :32])
    with pytest.raises(ValueError, match="no Lipschitz bound"):
        lipschitz_certificates(create_model("pixel-l2"), reference, x0, x1)


def test_certified_accuracy_counts_correct_and_covered():
    certificates = [Certificate(1, 0.5), Certificate(0, 0.1), Certificate(None, 0.0), Certificate(1, 0.05)]
    assert certified_accuracy(certificates, [1, 0, 1, 0], 0.0) == 0.5
    assert certified_accuracy(certificates, [1, 0, 1, 0], 0.2) == 0.25
    with pytest.raises(ValueError, match="one label per"):
        certified_accuracy(certificates, [1], 0.1)


def test_the_attack_on_the_smoothed_classifier_reaches_the_boundary_of_a_true_certificate_but_not_beyond():
    """Linear decision: the smoothed classifier is the same hyperplane, so within a true radius the attack can only come near it."""
    reference, x0, x1, distances = _linear_case()
    model, ids = create_model("pixel-l2"), list(range(len(reference)))
    config = SmoothingConfig(n0=100, n=2000, batch_size=2000)
    certificates = smoothing_certificates(model, reference, x0, x1, ids, config)
    found = attack_smoothed(model, reference, x0, x1, ids, certificates, config, SmoothedAttackConfig(draws=1000))
    attacked = [(c, f) for c, f in zip(certificates, found) if f is not None]
    assert len(attacked) >= 9 and all(f.distance <= c.radius + 1e-5 for c, f in attacked)
    assert not any(f.broken(config.alpha) for _, f in attacked)
    # the attack does its job: the certified class's vote, near 1 at the clean reference far from the hyperplane, falls near 1/2
    assert max(f.votes / f.draws for _, f in attacked) < 0.75


def test_the_attack_on_the_smoothed_classifier_breaks_a_radius_that_claims_too_much():
    reference, x0, x1, distances = _linear_case()
    model, ids = create_model("pixel-l2"), list(range(len(reference)))
    config = SmoothingConfig(n0=100, n=2000, batch_size=2000)
    true = smoothing_certificates(model, reference, x0, x1, ids, config)
    inflated = [Certificate(c.prediction, 2 * c.radius + 0.2, c.p_lower) for c in true]  # past the hyperplane for every sample
    found = attack_smoothed(model, reference, x0, x1, ids, inflated, config, SmoothedAttackConfig(draws=1000))
    assert all(f is None or f.broken(config.alpha) for f in found) and sum(f is not None for f in found) >= 9


def test_clopper_pearson_upper_mirrors_the_lower_bound():
    assert clopper_pearson_upper(100, 100, 0.001) == 1.0
    assert clopper_pearson_upper(10, 1000, 0.001) == pytest.approx(1 - clopper_pearson_lower(990, 1000, 0.001))
    # 0 of 9 draws cannot show p < 1/2 at alpha 0.001 (0.5 ** 9 > 0.001); 0 of 10 can
    assert not SmoothedAttackOutcome(0, 9, 0.1).broken(0.001) and SmoothedAttackOutcome(0, 10, 0.1).broken(0.001)
