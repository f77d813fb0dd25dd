"""Sanity checks that tell whether a robust score can be trusted (run with `bench evaluate --checks`).

Each check re-attacks the evaluated samples and returns a `CheckResult` (passed, a sentence, the
numbers), recorded in the result file's `checks` field; the leaderboard flags failures.
- `large_radius`: at a radius covering the whole pixel range every attacked sample must flip.
- `more_iterations`: twice the iterations must not raise robust accuracy.
- `square_on_apgd_robust`: Square (queries only) must find nothing on the samples APGD left robust.
`--attack standard` runs its own cheap variant (`standard_checks`) without being asked: it reads
Square's findings off the ensemble and re-attacks only a few samples at the large radius.
`--certify` adds `certificate_checks`: certified robustness must never exceed what the attack leaves.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch.utils.data import default_collate

from attacks.config import AttackConfig
from attacks.defaults import BATCH_SIZE, SQUARE_QUERIES
from attacks.ensemble import EnsembleRecord
from model_zoo.base import PerceptualModel

from .results import CertifiedScores, CheckResult, SampleOutcome
from .tasks import Task


@dataclass(frozen=True)
class SanityConfig:
    """How hard the `--checks` re-attacks push: the iteration multiplier, Square's budget, the tolerance on a rise."""

    iteration_factor: int = 2
    square_queries: int = SQUARE_QUERIES  # as in the paper
    tolerance: float = 0.0  # how much robust accuracy may rise with more iterations before the check fails


DEFAULT_SANITY = SanityConfig()


def _has_labels(outcomes: list[SampleOutcome]) -> bool:
    """Whether the task's outcomes carry labels and robust predictions (2AFC's do), which the checks compare."""
    return bool(outcomes) and outcomes[0].label is not None and outcomes[0].robust_prediction is not None


def _attack_positions(
    model: PerceptualModel,
    dataset: Any,
    task: Task,
    attack: AttackConfig,
    positions: list[int],
    device: torch.device | str,
    batch_size: int,
) -> list[bool]:
    """Re-run the task's attack on the samples at `positions`; True where a sample is still correct."""
    correct: list[bool] = []
    for start in range(0, len(positions), batch_size):
        chunk = positions[start : start + batch_size]
        batch = default_collate([dataset[p] for p in chunk])
        correct += [outcome.still_correct for outcome in task.evaluate_batch(model, batch, attack, device, sample_ids=chunk)]
    return correct


def large_radius_eps(norm: str, image_numel: int) -> float:
    """A radius that reaches every image in [0, 1]: 1 in Linf, the cube's diagonal in L2."""
    return 1.0 if norm == "linf" else math.sqrt(image_numel)


def run_sanity_checks(
    model: PerceptualModel,
    dataset: Any,
    task: Task,
    attack: AttackConfig,
    outcomes: list[SampleOutcome],
    device: torch.device | str,
    batch_size: int = BATCH_SIZE,
    config: SanityConfig | None = None,
) -> dict[str, CheckResult]:
    """Run the three checks on the samples of an evaluation (`outcomes`, from the runner)."""
    config = config or DEFAULT_SANITY
    robust = [outcome.still_correct for outcome in outcomes]
    positions = [_position(outcome) for outcome in outcomes]
    attacked = [_position(outcome) for outcome in outcomes if outcome.attacked]
    robust_positions = [p for p, ok in zip(positions, robust) if ok]
    n = len(outcomes)
    checks: dict[str, CheckResult] = {}
    started = time.perf_counter()

    image_numel = int(dataset[positions[0]]["reference"].numel()) if positions else 0
    large = replace(attack, eps=large_radius_eps(attack.norm, image_numel), eps_text="large")
    survivors = sum(_attack_positions(model, dataset, task, large, attacked, device, batch_size))
    checks["large_radius"] = CheckResult(
        "large_radius",
        survivors == 0,
        f"{survivors} of {len(attacked)} attacked samples stay correct at {attack.norm} eps {large.eps:.4g} (should be 0)",
        {"eps": large.eps, "still_correct": survivors, "seconds": time.perf_counter() - started},
    )
    started = time.perf_counter()

    more = replace(attack, n_iter=attack.n_iter * config.iteration_factor)
    robust_more = sum(_attack_positions(model, dataset, task, more, attacked, device, batch_size))
    robust_now = sum(robust)
    rise = (robust_more - robust_now) / max(n, 1)
    checks["more_iterations"] = CheckResult(
        "more_iterations",
        rise <= config.tolerance,
        f"robust accuracy {robust_now / max(n, 1):.4f} at {attack.n_iter} iterations, {robust_more / max(n, 1):.4f} at {more.n_iter}",
        {
            "n_iter": more.n_iter,
            "robust_accuracy": robust_now / max(n, 1),
            "robust_accuracy_more_iterations": robust_more / max(n, 1),
            "seconds": time.perf_counter() - started,
        },
    )
    started = time.perf_counter()

    square = replace(attack, name="square", n_iter=config.square_queries, n_restarts=1)
    broken = len(robust_positions) - sum(_attack_positions(model, dataset, task, square, robust_positions, device, batch_size))
    checks["square_on_apgd_robust"] = CheckResult(
        "square_on_apgd_robust",
        broken == 0,
        f"Square ({config.square_queries} queries) broke {broken} of the {len(robust_positions)} samples {attack.name} left robust (should be 0)",
        {"queries": config.square_queries, "broken": broken, "seconds": time.perf_counter() - started},
    )
    return checks


def _position(outcome: SampleOutcome) -> int:
    """The dataset position of an outcome the runner located."""
    if outcome.position is None:
        raise ValueError("sanity checks need located outcomes (the runner's, with their dataset position)")
    return outcome.position


LARGE_RADIUS_SAMPLES = 16  # how many attacked samples the standard ensemble's large-radius check re-attacks


def ensemble_checks(ensemble: EnsembleRecord) -> dict[str, CheckResult]:
    """The checks read off the ensemble's record alone (`square_on_apgd_robust`, `gradients`): a verifier recomputes them."""
    checks: dict[str, CheckResult] = {}
    square_member = ensemble.member("square")
    if ensemble.success_based and square_member is not None:
        checks["square_on_apgd_robust"] = CheckResult(
            "square_on_apgd_robust",
            square_member.count == 0,
            f"Square ({square_member.n_iter} queries) broke {square_member.count} of the samples both APGDs left robust (should be 0)",
            {"broken": square_member.count, "from": "ensemble"},
        )
    skipped = {member.name: member.skipped_on for member in ensemble.members if member.skipped_on}
    checks["gradients"] = CheckResult(
        "gradients",
        not skipped,
        "every gradient-based member ran"
        if not skipped
        else f"gradient-free: black-box attacks only ({', '.join(skipped)} could not run: the loss has no gradient)",
        {"skipped_on": skipped},
    )
    return checks


def needs_large_radius(outcomes: list[SampleOutcome], checks: dict[str, CheckResult]) -> bool:
    """Whether the standard ensemble runs its large-radius check: a task with labels, and gradients for APGD."""
    return _has_labels(outcomes) and checks["gradients"].passed is True


def standard_checks(
    model: PerceptualModel,
    dataset: Any,
    task: Task,
    attack: AttackConfig,
    outcomes: list[SampleOutcome],
    ensemble: EnsembleRecord,
    device: torch.device | str,
    batch_size: int = BATCH_SIZE,
    large_radius_samples: int = LARGE_RADIUS_SAMPLES,
) -> dict[str, CheckResult]:
    """The checks `--attack standard` always runs, cheaply: what the ensemble already computed, plus one short re-attack.

    - `square_on_apgd_robust`: read from the ensemble, whose Square member only attacks what both
      APGDs left robust; any sample it broke means the gradients misled APGD.
    - `gradients`: every gradient-based member ran (a metric without gradients is attacked by Square alone).
    - `large_radius` (2AFC): APGD-CE at a radius covering the whole pixel range flips the first
      `large_radius_samples` attacked samples.
    """
    checks = ensemble_checks(ensemble)
    if needs_large_radius(outcomes, checks):
        started = time.perf_counter()
        attacked = [_position(outcome) for outcome in outcomes if outcome.attacked][:large_radius_samples]
        image_numel = int(dataset[attacked[0]]["reference"].numel()) if attacked else 0
        large = replace(attack, name="apgd-ce", n_restarts=1, eps=large_radius_eps(attack.norm, image_numel), eps_text="large")
        survivors = sum(_attack_positions(model, dataset, task, large, attacked, device, batch_size))
        checks["large_radius"] = CheckResult(
            "large_radius",
            survivors == 0,
            f"{survivors} of {len(attacked)} attacked samples stay correct at {attack.norm} eps {large.eps:.4g} (should be 0)",
            {"eps": large.eps, "samples": len(attacked), "still_correct": survivors, "seconds": time.perf_counter() - started},
        )
    return checks


def certificate_checks(method: str, certified: CertifiedScores, outcomes: list[SampleOutcome], attacked: bool) -> dict[str, CheckResult]:
    """Certified and empirical robustness checking each other (`--certify`); a violation is a bug in the attack or the certificate.

    - `certified_not_broken` (Lipschitz): a sample certified at the run's radius must not be broken by the run's
      attack, since both judge the metric's own decision. Smoothing certifies the smoothed classifier, which the
      attack does not attack, so there only the aggregate check applies.
    - `smoothed_certified_not_broken` (smoothing): the attack on the smoothed classifier (`smoothed_certified_not_broken`'s
      docstring) must not confidently flip it within any certified radius.
    - `certified_le_robust_le_clean` (Lipschitz): over the certified samples, certified accuracy <= robust <= clean
      accuracy, a theorem when both judge the metric. Not for smoothing: the smoothed classifier is meant to be more
      robust than the metric (the demo's random-weight LipSim: certified 0.69 at L2 0.25, the metric's robust 0.56),
      so its certified accuracy above the metric's robust accuracy is no contradiction; its numbers go with
      `smoothed_certified_not_broken`.
    """
    from .certification import certificate_of

    run = certified.at_run
    checks: dict[str, CheckResult] = {}
    if run is not None and method == "lipschitz" and attacked:
        broken = [
            o.position
            for o in outcomes
            if (c := certificate_of(o)) is not None and o.label is not None and c.certifies(int(o.label), run.eps) and not o.still_correct
        ]
        checks["certified_not_broken"] = CheckResult(
            "certified_not_broken",
            not broken,
            f"{len(broken)} of the samples certified at L2 {run.eps_text} (covering {run.covers}) were broken by the attack (should be 0)",
            {"eps": run.eps, "broken": len(broken), "positions": broken[:20]},
        )
    certified_accuracy = run.accuracy if run is not None else 0.0
    if method == "smoothing":
        if (smoothed := smoothed_certified_not_broken(certified, outcomes)) is not None:
            checks[smoothed.name] = replace(
                smoothed,
                numbers={**smoothed.numbers, "certified": certified_accuracy, "robust": certified.robust, "clean": certified.clean},
            )
        return checks
    chain = certified_accuracy <= certified.robust + 1e-12 and certified.robust <= certified.clean + 1e-12
    checks["certified_le_robust_le_clean"] = CheckResult(
        "certified_le_robust_le_clean",
        chain,
        f"on the {certified.n} certified samples: certified {certified_accuracy:.4f} <= robust {certified.robust:.4f} "
        f"<= clean {certified.clean:.4f}" + ("" if chain else " does not hold"),
        {"certified": certified_accuracy, "robust": certified.robust, "clean": certified.clean, "n": certified.n},
    )
    return checks


def smoothed_certified_not_broken(certified: CertifiedScores, outcomes: list[SampleOutcome]) -> CheckResult | None:
    """No smoothing certificate may be broken by the attack on the smoothed classifier; None when no certificate was attacked.

    The certificate (Cohen et al. 2019) is about the smoothed classifier g, so the attack is on g:
    APGD-L2 on Salman et al. (2019)'s soft smoothed loss within each certificate's own radius r
    (attacks/certify.py's `attack_smoothed`, which tests every eps < r the certificate claims, the run's
    among them), then g's decision at the adversarial point estimated from fresh noise draws.

    The statistics: a certificate is itself a random claim, wrong with probability at most alpha (its
    lower bound on the top class's probability may be too high), and at the adversarial point g is
    known only through m draws. For a valid certificate that point's top-class probability p exceeds
    1/2, so a check that failed whenever fewer than half the draws voted for the certified class
    would fail valid certificates at random (near the radius p is close to 1/2). A violation is
    recorded only when the one-sided (1 - alpha) Clopper-Pearson upper bound on p, at the
    certificate's own alpha, is below 1/2: under a valid certificate that happens with probability
    at most alpha, so a sound certificate is flagged with probability at most 2 alpha (either of the
    two alpha-level events), and a certificate that really overclaims (as a radius made too large
    does) is flagged once the attack pushes p clearly below 1/2.
    """
    from .certification import certificate_of, smoothed_attack_of

    alpha = float(certified.parameters.get("alpha", 0.001))
    attacked = [(o, c, a) for o in outcomes if (c := certificate_of(o)) is not None and (a := smoothed_attack_of(o)) is not None]
    if not attacked:
        return None
    broken = [o.position for o, _, a in attacked if a.broken(alpha)]
    run = certified.at_run
    at_run = [
        o.position
        for o, c, a in attacked
        if run is not None and o.label is not None and c.certifies(int(o.label), run.eps) and a.broken(alpha)
    ]
    return CheckResult(
        "smoothed_certified_not_broken",
        not broken,
        f"an attack on the smoothed classifier within each certified radius flipped it (at confidence 1 - {alpha:g}) for {len(broken)} "
        f"of the {len(attacked)} smoothing certificates, {len(at_run)} of them certified at the run's radius (should be 0)",
        {
            "alpha": alpha,
            "attacked": len(attacked),
            "broken": len(broken),
            "broken_at_run": len(at_run),
            "positions": broken[:20],
            "lowest_votes": min(a.votes / a.draws for _, _, a in attacked),
        },
    )
