"""`bench evaluate --certify lipschitz|smoothing`: certified 2AFC robustness beside the attack's empirical robustness.

The certificates themselves are attacks/certify.py's. Here they run inside an evaluation: on the first
`certify_n_ex` samples of the run (smoothing costs n0 + n forward passes per sample, so a subset is the
default), batch by batch, their per-sample radius written with the batch's outcomes (so a killed run
resumes from its checkpoint like any other), and summarised in the result's `certified` block: certified
accuracy at the run's radius and, for the Lipschitz certificate, at the radii LipSim reports.

An L2 certificate at radius r covers an Linf run at eps when the Linf ball fits in the L2 ball,
r >= eps * sqrt(d) (d = pixels x channels of the attacked image); that is the radius an Linf run is certified at.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import torch

from attacks.certify import (
    LIPSIM_RADII,
    NUMERICAL_MARGIN,
    Certificate,
    SmoothedAttackConfig,
    SmoothedAttackOutcome,
    attack_smoothed,
    lipschitz_certificates,
    smoothing_certificates,
)
from attacks.defaults import DEFAULT_CERTIFY_N_EX, SmoothingConfig
from attacks.threat import ThreatModel
from model_zoo.base import PerceptualModel

from .results import CertifiedRadius, CertifiedScores, SampleOutcome

CERTIFY_METHODS = ("lipschitz", "smoothing")
RADIUS_COLUMN, PREDICTION_COLUMN = "certified_radius", "certified_prediction"
# What the attack on the smoothed classifier found (smoothing only): the certified class's votes of how many draws, the distance.
ATTACK_VOTES_COLUMN, ATTACK_DRAWS_COLUMN, ATTACK_DISTANCE_COLUMN = "smoothed_attack_votes", "smoothed_attack_draws", "smoothed_attack_l2"
LIPSIM_RADII_TEXT = ("36/255", "72/255", "108/255")  # attacks/certify.py's LIPSIM_RADII as LipSim writes them


@dataclass(frozen=True)
class CertifyConfig:
    """What `--certify` asks: the method, Cohen et al.'s parameters (defaults in attacks/defaults.py's SmoothingConfig), the subset,
    and the attack on the smoothed classifier that checks each smoothing certificate (SmoothedAttackConfig; n_iter 0: none)."""

    method: str
    smoothing: SmoothingConfig = SmoothingConfig()
    n_ex: int = DEFAULT_CERTIFY_N_EX
    attack: SmoothedAttackConfig = SmoothedAttackConfig()

    def __post_init__(self) -> None:
        if self.method not in CERTIFY_METHODS:
            raise ValueError(f"unknown --certify '{self.method}'; choose one of {', '.join(CERTIFY_METHODS)}")
        if self.n_ex < 1:
            raise ValueError(f"--certify-n-ex must be >= 1, got {self.n_ex}")

    def parameters(self, model: PerceptualModel | None = None) -> dict[str, Any]:
        """The parameters recorded in the result's `certified` block."""
        if self.method == "lipschitz":
            bound = getattr(model, "embedding_lipschitz", None)
            return {"embedding_lipschitz": bound, "numerical_margin": NUMERICAL_MARGIN, "certify_n_ex": self.n_ex}
        smoothing = {f.name: getattr(self.smoothing, f.name) for f in fields(self.smoothing) if f.name != "batch_size"}
        attack = {f"attack_{f.name}": getattr(self.attack, f.name) for f in fields(self.attack)}
        return {**smoothing, "certify_n_ex": self.n_ex, **attack}


def check_certifiable(config: CertifyConfig, model: PerceptualModel, task: str) -> None:
    """Refuse, before any sample is evaluated, what cannot be certified: another task, or Lipschitz without a bound."""
    if task != "2afc":
        raise ValueError(f"--certify certifies 2AFC decisions; the '{task}' task has none: drop --certify")
    if config.method == "lipschitz" and (getattr(model, "embedding_lipschitz", None) is None or not model.has_embedding):
        raise ValueError(f"--certify lipschitz: {model.card.name} declares no Lipschitz bound on its embedding; use --certify smoothing")


def certify_batch(
    config: CertifyConfig,
    model: PerceptualModel,
    batch: dict[str, Any],
    device: torch.device | str,
    positions: Sequence[int],
    chosen: frozenset[int],
) -> dict[int, dict[str, Any]]:
    """Certificates of the batch's samples in `chosen`, as sidecar columns keyed by position."""
    rows = [i for i, p in enumerate(positions) if p in chosen]
    if not rows:
        return {}
    index = torch.tensor(rows)
    reference, x0, x1 = (batch[key][index].to(device) for key in ("reference", "candidate_0", "candidate_1"))
    if config.method == "lipschitz":
        certificates = lipschitz_certificates(model, reference, x0, x1)
        return {positions[i]: certificate_columns(c) for i, c in zip(rows, certificates)}
    ids = [positions[i] for i in rows]
    certificates = smoothing_certificates(model, reference, x0, x1, ids, config.smoothing)
    attacks: list[SmoothedAttackOutcome | None] = [None] * len(rows)
    if config.attack.enabled:
        attacks = attack_smoothed(model, reference, x0, x1, ids, certificates, config.smoothing, config.attack)
    return {positions[i]: certificate_columns(c, a) for i, c, a in zip(rows, certificates, attacks)}


def certificate_columns(certificate: Certificate, attack: SmoothedAttackOutcome | None = None) -> dict[str, Any]:
    """A certificate as sidecar columns: the certified decision (None: abstained), its L2 radius, what attacking it found."""
    columns: dict[str, Any] = {PREDICTION_COLUMN: certificate.prediction, RADIUS_COLUMN: certificate.radius}
    if attack is not None:
        columns |= {ATTACK_VOTES_COLUMN: attack.votes, ATTACK_DRAWS_COLUMN: attack.draws, ATTACK_DISTANCE_COLUMN: attack.distance}
    return columns


def certificate_of(outcome: SampleOutcome) -> Certificate | None:
    """The certificate an outcome carries (typed from a checkpoint or the text of a CSV row); None when not certified."""
    radius = outcome.extra.get(RADIUS_COLUMN)
    if radius in (None, ""):
        return None
    prediction = outcome.extra.get(PREDICTION_COLUMN)
    return Certificate(None if prediction in (None, "") else int(prediction), float(radius))


def smoothed_attack_of(outcome: SampleOutcome) -> SmoothedAttackOutcome | None:
    """What the attack on the smoothed classifier found for an outcome's certificate; None when it was not attacked."""
    votes = outcome.extra.get(ATTACK_VOTES_COLUMN)
    if votes in (None, ""):
        return None
    return SmoothedAttackOutcome(int(votes), int(outcome.extra[ATTACK_DRAWS_COLUMN]), float(outcome.extra[ATTACK_DISTANCE_COLUMN]))


def run_radius(threat: ThreatModel, image_numel: int) -> float:
    """The L2 radius whose certificate covers the run's threat: eps for L2, eps * sqrt(d) for Linf (the ball that holds the cube)."""
    return threat.eps if threat.norm == "l2" else threat.eps * math.sqrt(image_numel)


def summarise(
    config: CertifyConfig, model: PerceptualModel, outcomes: list[SampleOutcome], threat: ThreatModel, image_numel: int, seconds: float
) -> CertifiedScores | None:
    """The `certified` block: certified accuracy over the certified subset at the run's radius (and LipSim's), beside its clean and robust accuracy."""
    certified = [(o, c) for o in outcomes if (c := certificate_of(o)) is not None]
    if not certified:
        return None
    labels = [int(o.label) for o, _ in certified]  # type: ignore[arg-type]  # 2AFC outcomes carry an int label

    def accuracy(radius: float) -> float:
        return sum(c.certifies(y, radius) for (_, c), y in zip(certified, labels)) / len(certified)

    eps = run_radius(threat, image_numel)
    radii = [CertifiedRadius(eps, threat.eps_text if threat.norm == "l2" else f"{eps:.4g}", accuracy(eps), "run", threat.label)]
    if config.method == "lipschitz":
        radii += [CertifiedRadius(r, text, accuracy(r), "lipsim") for r, text in zip(LIPSIM_RADII, LIPSIM_RADII_TEXT)]
    return CertifiedScores(
        method=config.method,
        parameters=config.parameters(model),
        n=len(certified),
        abstained=sum(c.prediction is None for _, c in certified),
        radii=radii,
        clean=sum(o.clean_prediction == y for (o, _), y in zip(certified, labels)) / len(certified),
        robust=sum(o.robust_prediction == y for (o, _), y in zip(certified, labels)) / len(certified),
        seconds=seconds,
    )
