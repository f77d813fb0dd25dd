"""Certified robustness of a 2AFC decision: lower bounds that sit beside the attacks' upper bounds.

An attack shows that a sample CAN be flipped; a certificate proves that no perturbation of the
reference within L2 radius `eps` flips it. Per sample, certified at eps must imply not broken by
any attack at eps (under the same decision rule), so the two check each other.

- Lipschitz (LipSim, Ghazanfari et al. 2024, and any metric that declares `embedding_lipschitz`):
  with unit embeddings e0, e1 of the candidates and e(x) of the reference, the decision is the
  sign of d1 - d0 = <e(x), e0 - e1> (d = 1 - cos). LipSim's evaluation (SaraGhazanfari/lipsim,
  `lipsim/core/evaluate.py`, `get_certified_accuracy`) certifies radius |d1 - d0| / ||e0 - e1||,
  which holds while normalising the embedding is non-expansive (its norm stays >= 1 in the ball).
  We take the larger of that radius, restricted to the ball where ||f(x')|| >= 1 is guaranteed,
  and one that needs no assumption on the norm: a radius r is safe when the margin exceeds
  r L ||e0 - e1|| / (||f(x)|| - L r), since v -> v/||v|| is 1/m-Lipschitz where ||v|| >= m.
- Randomized smoothing (Cohen, Rosenfeld, Kolter 2019, Algorithm CERTIFY): the smoothed decision is
  the majority of the base decision under Gaussian noise N(0, sigma^2) on the reference; n0 draws
  choose the class, n fresh draws bound its probability from below (one-sided Clopper-Pearson at
  level alpha), and the certified radius is sigma * Phi^-1(p_lower), abstaining when p_lower <= 1/2.
  It certifies the smoothed classifier, not the metric itself; its defaults are Cohen et al.'s
  (sigma 0.25, n0 100, alpha 0.001) except n, 10,000 here instead of their 100,000, which caps the
  radius at sigma * Phi^-1(0.001 ** (1 / 10000)) = 3.1 sigma. `SmoothingConfig` holds them, in attacks/defaults.py.
- Checking a smoothing certificate (`attack_smoothed`): the run's attack judges the metric, not the
  smoothed classifier, so the smoothed classifier gets its own attack, APGD-L2 on Salman et al.
  (2019)'s soft smoothed loss, within each certificate's radius; benchmark/sanity.py's
  `smoothed_certified_not_broken` says when its finding contradicts the certificate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from model_zoo.base import PerceptualModel

from .defaults import SmoothingConfig
from .losses import TwoAFCObjective, twoafc_predictions
from .objective import ObjectiveOutput

# Cosines near 1 carry float32 rounding of about 1e-7; margins are shrunk by this much before certifying.
NUMERICAL_MARGIN = 1e-5

# Radii LipSim reports (its evaluation's `eps_list`: 36, 72, 108 /255).
LIPSIM_RADII = (36 / 255, 72 / 255, 108 / 255)


@dataclass(frozen=True)
class Certificate:
    """One sample's certificate: the decision it certifies (None: abstained) and the L2 radius it holds within."""

    prediction: int | None
    radius: float
    p_lower: float | None = None  # smoothing: the lower confidence bound on the top class's probability

    def certifies(self, label: int, eps: float) -> bool:
        """Correct and provably so for every perturbation of L2 norm up to `eps` (the radius is a strict bound)."""
        return self.prediction == label and self.radius > eps


def certified_accuracy(certificates: Sequence[Certificate], labels: Sequence[int], eps: float) -> float:
    """The fraction of samples whose certified decision is the label within radius `eps`."""
    if len(certificates) != len(labels) or not certificates:
        raise ValueError(f"{len(certificates)} certificates for {len(labels)} labels: give one label per certified sample")
    return sum(c.certifies(int(y), eps) for c, y in zip(certificates, labels)) / len(certificates)


# -- Lipschitz --------------------------------------------------------------------------------------


def lipschitz_certificates(model: PerceptualModel, reference: Tensor, candidate_0: Tensor, candidate_1: Tensor) -> list[Certificate]:
    """Deterministic certificates for a metric whose embedding declares an L2 Lipschitz bound (`embedding_lipschitz`)."""
    bound = getattr(model, "embedding_lipschitz", None)
    if bound is None or not model.has_embedding:
        raise ValueError(f"{type(model).__name__} declares no Lipschitz bound on its embedding; use randomized smoothing instead")
    input_size = getattr(getattr(model, "preprocess", None), "input_size", None)
    if input_size is not None and tuple(reference.shape[-2:]) != tuple(input_size):
        raise ValueError(
            f"the Lipschitz bound holds at the model's input size {tuple(input_size)}, not {tuple(reference.shape[-2:])}: "
            "resizing changes it; give images at that size"
        )
    with torch.no_grad():
        raw = model.embed(reference).float()
        embedding = F.normalize(raw, dim=-1)
        e0, e1 = model.features(candidate_0).float(), model.features(candidate_1).float()
    difference = e0 - e1
    gap = (embedding * difference).sum(dim=-1)  # d1 - d0 = <e, e0 - e1>
    spread = difference.norm(dim=-1)
    norm = raw.norm(dim=-1)
    # The decision itself is computed in the model's float32: a margin within its rounding certifies nothing.
    margin = (gap.abs() - NUMERICAL_MARGIN).clamp(min=0)
    lipsim_rule = torch.minimum(margin / (bound * spread), (norm - 1).clamp(min=0) / bound)
    any_norm = margin * norm / (bound * (spread + margin))
    radius = torch.where(spread > 0, torch.maximum(lipsim_rule, any_norm), torch.full_like(margin, float("inf")))
    radius = torch.where(margin > 0, radius, torch.zeros_like(radius))
    predictions = twoafc_predictions(torch.stack([(embedding * e0).sum(-1), (embedding * e1).sum(-1)], dim=1))
    return [Certificate(int(p), float(r)) for p, r in zip(predictions.tolist(), radius.tolist())]


# -- randomized smoothing -----------------------------------------------------------------------------


def clopper_pearson_lower(successes: int, n: int, alpha: float) -> float:
    """One-sided (1 - alpha) Clopper-Pearson lower bound of a binomial proportion."""
    if successes <= 0:
        return 0.0
    from scipy.stats import beta

    return float(beta.ppf(alpha, successes, n - successes + 1))


def _noisy_votes(objective: TwoAFCObjective, reference: Tensor, row: int, draws: int, config: SmoothingConfig, generator) -> Tensor:
    """Counts (2,) of the base 2AFC decision over `draws` Gaussian perturbations of one reference."""
    counts = torch.zeros(2, dtype=torch.long)
    done = 0
    while done < draws:
        size = min(config.batch_size, draws - done)
        noise = torch.randn((size, *reference.shape), generator=generator, device="cpu").to(reference.device, reference.dtype)
        index = torch.full((size,), row, dtype=torch.long, device=reference.device)
        with torch.no_grad():
            decisions = twoafc_predictions(objective.logits(reference.unsqueeze(0) + config.sigma * noise, index))
        counts += torch.bincount(decisions.cpu(), minlength=2)
        done += size
    return counts


def smoothing_certificates(
    model: PerceptualModel,
    reference: Tensor,
    candidate_0: Tensor,
    candidate_1: Tensor,
    sample_ids: Sequence[int],
    config: SmoothingConfig = SmoothingConfig(),
) -> list[Certificate]:
    """Cohen et al.'s CERTIFY per sample; each sample's noise comes from its own generator (seed, sample id), so batches do not matter."""
    labels = torch.zeros(len(reference), dtype=torch.long, device=reference.device)  # unused by `logits`
    objective = TwoAFCObjective(model, candidate_0, candidate_1, labels)
    certificates = []
    for row, sample_id in enumerate(sample_ids):
        generator = torch.Generator().manual_seed(config.seed * 1_000_003 + int(sample_id))
        selection = _noisy_votes(objective, reference[row], row, config.n0, config, generator)
        top = int(selection.argmax())
        estimate = _noisy_votes(objective, reference[row], row, config.n, config, generator)
        p_lower = clopper_pearson_lower(int(estimate[top]), config.n, config.alpha)
        if p_lower <= 0.5:
            certificates.append(Certificate(None, 0.0, p_lower))
        else:
            radius = config.sigma * float(torch.distributions.Normal(0.0, 1.0).icdf(torch.tensor(p_lower, dtype=torch.float64)))
            certificates.append(Certificate(top, radius, p_lower))
    return certificates


# -- attacking the smoothed classifier (checks a smoothing certificate) --------------------------------


@dataclass(frozen=True)
class SmoothedAttackConfig:
    """The attack that checks each smoothing certificate; its defaults keep it near a tenth of CERTIFY's own cost.

    Per attacked sample: `n_restarts * (n_iter + 1) * eot_draws` forward and backward passes (the
    gradient steps), then `draws` forward passes to estimate the smoothed decision at the adversarial
    point (defaults: 11 * 8 = 88 passes with gradients, 1,000 without). `n_iter = 0` turns it off.
    """

    n_iter: int = 10
    eot_draws: int = 8  # noise draws averaged per gradient step (Salman et al.'s m; they use 1 to 8)
    draws: int = 1000  # noise draws that estimate the smoothed decision at the adversarial point
    n_restarts: int = 1

    def __post_init__(self) -> None:
        if not (self.n_iter >= 0 and self.eot_draws >= 1 and self.draws >= 1 and self.n_restarts >= 1):
            raise ValueError(f"the smoothed attack needs n_iter >= 0, eot_draws >= 1, draws >= 1 and n_restarts >= 1; got {self}")

    @property
    def enabled(self) -> bool:
        return self.n_iter > 0


@dataclass(frozen=True)
class SmoothedAttackOutcome:
    """What the attack found for one certificate: the certified class's votes at the adversarial point, and its distance."""

    votes: int  # of `draws` noisy copies of the adversarial reference, how many the base decision gave the certified class
    draws: int
    distance: float  # L2 norm of the perturbation (at most the certified radius)

    def broken(self, alpha: float) -> bool:
        """Whether the smoothed decision at the adversarial point is, at confidence 1 - alpha, not the certified class.

        The certified class keeps the smoothed decision while its probability p exceeds 1/2; this says
        p < 1/2 when even the one-sided (1 - alpha) Clopper-Pearson upper bound on p is below 1/2.
        """
        return clopper_pearson_upper(self.votes, self.draws, alpha) < 0.5


def clopper_pearson_upper(successes: int, n: int, alpha: float) -> float:
    """One-sided (1 - alpha) Clopper-Pearson upper bound of a binomial proportion."""
    if successes >= n:
        return 1.0
    from scipy.stats import beta

    return float(beta.ppf(1 - alpha, successes + 1, n - successes))


class SoftSmoothedObjective:
    """The loss of Salman et al. (2019, 'Provably Robust Deep Learning via Adversarially Trained Smoothed
    Classifiers', SmoothAdv): cross-entropy of the soft smoothed classifier, the mean over Gaussian noise
    of the base classifier's probabilities (here softmax of the 2AFC similarities), estimated with
    `eot_draws` fresh draws at every call, whose gradient is the expectation over transformation's.
    The base decision is hard and the smoothed one a probability, so the attack reports no success:
    APGD keeps its highest-loss point and the smoothed decision is judged there afterwards.
    """

    def __init__(self, objective: TwoAFCObjective, row: int, target: int, sigma: float, eot_draws: int, generator: torch.Generator):
        self.objective, self.row, self.target = objective, row, target
        self.sigma, self.eot_draws, self.generator = sigma, eot_draws, generator

    def __call__(self, x: Tensor, index: Tensor) -> ObjectiveOutput:
        noise = torch.randn((len(x), self.eot_draws, *x.shape[1:]), generator=self.generator).to(x.device, x.dtype)
        points = (x.unsqueeze(1) + self.sigma * noise).flatten(0, 1)
        rows = torch.full((len(points),), self.row, dtype=torch.long, device=x.device)
        probabilities = self.objective.logits(points, rows).float().softmax(dim=-1).view(len(x), self.eot_draws, 2).mean(dim=1)
        return ObjectiveOutput(loss=-probabilities[:, self.target].clamp_min(1e-12).log())


def attack_smoothed(
    model: PerceptualModel,
    reference: Tensor,
    candidate_0: Tensor,
    candidate_1: Tensor,
    sample_ids: Sequence[int],
    certificates: Sequence[Certificate],
    smoothing: SmoothingConfig = SmoothingConfig(),
    config: SmoothedAttackConfig = SmoothedAttackConfig(),
) -> list[SmoothedAttackOutcome | None]:
    """APGD-L2 on the soft smoothed classifier within each certificate's own radius (None: abstained, nothing to check).

    Attacking at the sample's radius tests every eps the certificate claims, the run's among them.
    Noise comes from per-sample generators (seed, sample id), apart from CERTIFY's, so batches do not matter.
    """
    from .apgd import apgd

    labels = torch.zeros(len(reference), dtype=torch.long, device=reference.device)
    objective = TwoAFCObjective(model, candidate_0, candidate_1, labels)
    outcomes: list[SmoothedAttackOutcome | None] = []
    for row, (sample_id, certificate) in enumerate(zip(sample_ids, certificates)):
        if certificate.prediction is None or certificate.radius <= 0:
            outcomes.append(None)
            continue
        generator = torch.Generator().manual_seed(smoothing.seed * 1_000_003 + int(sample_id) + 500_009)
        soft = SoftSmoothedObjective(objective, row, certificate.prediction, smoothing.sigma, config.eot_draws, generator)
        x = reference[row : row + 1]
        found = apgd(
            soft,
            x,
            norm="l2",
            eps=certificate.radius,
            n_iter=config.n_iter,
            n_restarts=config.n_restarts,
            seed=smoothing.seed,
            sample_ids=[sample_id],
        ).x_adv
        votes = _noisy_votes(objective, found[0], row, config.draws, smoothing, generator)
        distance = float((found - x).flatten().norm())
        outcomes.append(SmoothedAttackOutcome(int(votes[certificate.prediction]), config.draws, distance))
    return outcomes
