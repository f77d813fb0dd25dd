"""Submitting a metric: a folder with its card, checks, standard-ensemble results and environment; and verifying it.

Layout of `submissions/NAME/`:
```
submission.json     card, checks, datasets, threats, environment, result files (SubmissionRecord)
results/<dataset>/  result files of `bench evaluate --attack standard` (+ per-sample sidecars): the claim
verification.json   written by `bench verify-submission`: a signed statement (benchmark/submissions/verification.py)
verification/       the re-run's own result files
```
The files are validated by the models of benchmark/submissions/schema.py; the metric is loaded only the
way its card declares (benchmark/submissions/submitted_metric.py).
A submission is checked before anything is evaluated (`submission_checks`): card complete, weights
downloadable and matching the sha256 the card records, `sim` deterministic (or its class declared randomised), `sim(x, x)` the
maximum, gradients reach the input. A metric without useful gradients is accepted but flagged
"gradient-free: black-box attacks only".

Verification re-runs a seeded random subset (default 200 samples per result file, i.e. per dataset
and threat) and accepts a claimed score when it lies inside the 99% Wilson score interval of the
re-run's score over the subset (`wilson_interval`); a re-run of the whole set must agree too. It re-runs
exactly what each result displays (model, dataset, split, threat, eps, attack), refuses a result whose
copies of those fields disagree, and recomputes the checks the standard ensemble records.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import tempfile
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path, PurePosixPath
from typing import Any

import torch

from attacks.defaults import BATCH_SIZE, STANDARD, BatchSize
from attacks.ensemble import MemberRecord, summarise_members
from attacks.threat import NORMS
from model_zoo import PerceptualModel, WeightsSource, WeightsUnavailableError, create_model, get_model_card
from model_zoo.download import fetch_weights, sha256_of
from model_zoo.eot import ExpectationOverTransformation

from .. import __version__
from ..results import EvaluationResult, Scores, read_outcomes, read_result, read_samples, samples_path
from ..runtime.atomic import atomic_write_text
from ..runtime.environment import environment, package_versions
from ..sanity import ensemble_checks, needs_large_radius
from ..statistics import wilson_interval  # the one Wilson interval (benchmark/statistics.py)
from .schema import (
    CARD_FIELDS,
    CLASS_FIELDS,
    RESULTS_DIR,
    SUBMISSION_FILE,
    VERIFICATION_DIR,
    VERIFICATION_FILE,
    CheckOutcome,
    SubmissionCard,
    SubmissionRecord,
    contained,
    find_submissions,
    read_json,
    read_submission,
)
from .submitted_metric import check_metric_loader, describe_loader
from .verification import (
    CheckRecord,
    ClaimCheck,
    SubmissionStatus,
    SubsetRecord,
    VerificationStatement,
    file_digests,
    sign_statement,
    submission_status,
    write_statement,
)

__all__ = [
    "CARD_FIELDS",
    "RESULTS_DIR",
    "SUBMISSION_FILE",
    "VERIFICATION_DIR",
    "VERIFICATION_FILE",
    "CheckOutcome",
    "SubmissionCard",
    "SubmissionRecord",
    "SubmissionRejected",
    "SubmissionStatus",
    "create_submission",
    "find_submissions",
    "read_submission",
    "submission_status",
    "verify_submission",
    "wilson_interval",
]

REQUIRED_DATASETS = ("nights", "bapps")  # NIGHTS test and BAPPS (its six validation splits)
SMOKE_DATASETS = ("demo",)
DEFAULT_THREATS = NORMS  # every threat model (`bench submit --threat` shows the same)
DEFAULT_VERIFY_SAMPLES = 200
CONFIDENCE = 0.99  # of the Wilson score interval a claim must fall in
GRADIENT_FREE = "gradient-free: black-box attacks only"
SHA256 = re.compile(r"^[0-9a-f]{64}$")


class SubmissionRejected(ValueError):
    """A check that a submission must pass failed; the message lists every failure and its fix."""


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


def loading_card(name: str, model_kwargs: dict[str, Any]) -> SubmissionCard:
    """The part of a card that says how its metric is loaded, checked before anything is built (benchmark/submissions/submitted_metric.py)."""
    loader, package = describe_loader(name)
    card = SubmissionCard.from_dict({"name": name, "loader": loader, "package": package, "model_kwargs": model_kwargs}, "--model-kwarg")
    check_metric_loader(card)
    return card


def build_card(loading: SubmissionCard, model: PerceptualModel, card_file: str | Path | None = None) -> SubmissionCard:
    """The registry's card (license, paper, weights, preprocessing) completed by the author's `card_file` (JSON).

    How the metric is loaded (`loading`: name, loader, package, model_kwargs) is what `bench submit` ran, never the file's.
    """
    name = loading.name
    registry_card = get_model_card(name)
    extra = registry_card.extra or {}
    card: dict[str, Any] = {
        "authors": list(extra.get("authors", [])),
        "link": str(extra.get("code") or registry_card.paper or ""),
        "license": "" if registry_card.license == "unknown" else registry_card.license,
        "weights": _weights_from_registry(name),
    }
    where = "card"
    if card_file is not None:
        path = Path(card_file)
        if not path.is_file():
            raise FileNotFoundError(f"card file {path} does not exist; write a JSON object with {', '.join(CARD_FIELDS)}")
        given, where = read_json(path), str(path)
        if not isinstance(given, dict):
            raise ValueError(f"{path}: expected a JSON object, got {type(given).__name__}")
        card.update(_without_class_facts(given, model, where))
    card.update({key: getattr(loading, key) for key in ("name", "loader", "package", "model_kwargs")})
    return SubmissionCard.from_dict(card, where)


def _without_class_facts(given: dict[str, Any], model: PerceptualModel, where: str) -> dict[str, Any]:
    """The author's card less `randomised` and `preprocessing`, which the metric's class says (schema 3).

    A card written for schema 2 may still state them: agreeing with the class, they are accepted and dropped;
    disagreeing, they are refused, since the class alone decides whether the metric is wrapped in expectation over
    transformation and how it preprocesses (a card saying "randomised" used to be reported EOT without being so).
    """
    owner = type(model).__name__
    if "randomised" in given and given["randomised"] is not bool(model.is_randomised):
        stated = json.dumps(given["randomised"])
        raise ValueError(
            f'{where}: the card says "randomised": {stated} but {owner}.is_randomised is {bool(model.is_randomised)}; '
            f"the class decides (it chooses expectation over transformation): set `is_randomised = {given['randomised'] is True}` "
            f'on {owner} or delete "randomised" from the card'
        )
    if "preprocessing" in given:
        own = json.loads(json.dumps(model.input_preprocessing.to_dict()))
        stated_preprocessing = given["preprocessing"]
        differing = (
            sorted(key for key in stated_preprocessing if stated_preprocessing[key] != own.get(key))
            if isinstance(stated_preprocessing, dict)
            else ["(the whole field)"]
        )
        if differing:
            key = differing[0]
            stated, actual = (stated_preprocessing, own) if key.startswith("(") else (stated_preprocessing[key], own.get(key))
            raise ValueError(
                f'{where}: the card says "preprocessing" {key} is {json.dumps(stated)[:80]} but {owner}.input_preprocessing '
                f"has {json.dumps(actual)[:80]}; the model decides (it resizes and normalises inside itself): change its "
                'ImagePreprocess or delete "preprocessing" from the card'
            )
    return {key: value for key, value in given.items() if key not in CLASS_FIELDS}


# -- the checks --------------------------------------------------------------------------------------


def _outcome(name: str, passed: bool, message: str, blocking: bool = True) -> CheckOutcome:
    return CheckOutcome(name=name, passed=passed, message=message, blocking=blocking)


def check_card(card: SubmissionCard) -> CheckOutcome:
    """Authors, link, license and weights are all given (the class says the rest)."""
    missing = [name for name in ("authors", "link", "license", "weights") if not getattr(card, name)]
    if missing:
        return _outcome(
            "card_complete",
            False,
            f"card incomplete: missing {', '.join(missing)}; give them in --card card.json (fields: {', '.join(CARD_FIELDS)})",
        )
    return _outcome("card_complete", True, "card complete")


def check_weights(card: SubmissionCard, model: PerceptualModel) -> CheckOutcome:
    """Weights downloadable and matching the sha256 the card records.

    URL and hub weights are fetched into the weights cache (`model_zoo.download`, the same path the
    registry uses), so a re-run finds them there; a local or file:// URL is hashed where it is.
    """
    weights: Any = card.weights or {}
    kind = weights.get("kind")
    n_parameters = sum(p.numel() for p in model.parameters())
    if kind == "none":
        if n_parameters:
            return _outcome(
                "weights",
                False,
                f"the card names no weights but the model has {n_parameters} parameters; "
                'give weights {"kind": "url", "url": ..., "sha256": ...} or {"kind": "package", "package": ...}',
            )
        return _outcome("weights", True, "no weights (the metric has no parameters)")
    if kind == "package":
        package = str(weights.get("package") or "")
        try:
            return _outcome("weights", True, f"weights ship in the pip package {package}=={version(package)}")
        except PackageNotFoundError:
            return _outcome("weights", False, f"weights package '{package}' is not installed here; pip install {package}")
    if kind in ("url", "hub"):
        sha = str(weights.get("sha256") or "").lower()
        if not SHA256.match(sha):
            return _outcome("weights", False, f"weights sha256 '{sha}' is not 64 hex digits; record it: sha256sum <file>")
        if kind == "hub":
            hub_id, filename = str(weights.get("hub_id") or ""), str(weights.get("filename") or "")
            if not hub_id or not filename:
                return _outcome("weights", False, 'hub weights need both "hub_id" and "filename" on the card')
            source, where = WeightsSource(hub_id=hub_id, filename=filename, sha256=sha), f"{hub_id}/{filename}"
        else:
            url = str(weights.get("url") or "")
            local = Path(url.removeprefix("file://")) if url.startswith("file://") or "://" not in url else None
            if local is not None:
                if not local.is_file():
                    return _outcome("weights", False, f"weights file {local} does not exist")
                actual = sha256_of(local)
                if actual != sha:
                    return _outcome("weights", False, f"weights {local} have sha256 {actual}, the card records {sha}")
                return _outcome("weights", True, f"weights {local} match the recorded sha256")
            source, where = WeightsSource(url=url, sha256=sha), url
        try:
            path = fetch_weights(source, what=f"submission '{card.name}'")
        except WeightsUnavailableError as error:  # unreachable, not downloadable, or a sha256 other than the card's
            return _outcome(
                "weights",
                False,
                f"weights {where}: {error} (a submission's weights must download from the card's address and match its sha256)",
            )
        return _outcome("weights", True, f"weights {where} downloaded to {path}; sha256 matches the card")
    return _outcome("weights", False, "the card does not say where the weights come from; give weights with kind none, package, url or hub")


def _probe_images(seed: int = 0, size: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand(4, 3, size, size, generator=generator)
    y = torch.rand(4, 3, size, size, generator=generator)
    return x, y


def check_determinism(model: PerceptualModel, device="cpu") -> CheckOutcome:
    """sim gives the same output twice for the same input, unless its class declares it randomised (`is_randomised`).

    The class, not the card, decides: it is what wraps the metric in expectation over transformation everywhere.
    """
    x, y = (t.to(device) for t in _probe_images())
    with torch.no_grad():
        first, second = model.sim(x, y), model.sim(x, y)
    same = torch.equal(first, second)
    if same and model.is_randomised:
        return _outcome(
            "deterministic",
            True,
            "declared randomised (is_randomised), but sim gave the same output twice; "
            "evaluated with expectation over transformation all the same",
        )
    if same:
        return _outcome("deterministic", True, "sim is deterministic (same input twice, same output)")
    if model.is_randomised:
        return _outcome("deterministic", True, "randomised, as its class declares: evaluated with expectation over transformation")
    gap = float((first - second).abs().max())
    return _outcome(
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
        return _outcome(
            "self_similarity_max",
            False,
            f"sim(x, x) is not the maximum: another image scores {excess:.3g} higher; "
            "a similarity must be largest for identical images (higher = more similar)",
        )
    return _outcome("self_similarity_max", True, "sim(x, x) is the maximum")


def check_gradients(model: PerceptualModel, device="cpu") -> CheckOutcome:
    """Gradients of sim reach the input, finite and not all zero; otherwise the metric is flagged (non-blocking)."""
    x, y = (t.to(device) for t in _probe_images(3))
    points = x.clone().requires_grad_(True)
    with torch.enable_grad():
        similarity = model.sim(points, y)
        if not similarity.requires_grad:
            return _outcome("gradients", False, f"{GRADIENT_FREE} (sim has no gradient with respect to its input)", blocking=False)
        (grad,) = torch.autograd.grad(similarity.sum(), points, allow_unused=True)
    if grad is None or not bool(torch.isfinite(grad).all()) or float(grad.abs().max()) == 0.0:
        return _outcome("gradients", False, f"{GRADIENT_FREE} (the gradient of sim is missing, zero or not finite)", blocking=False)
    return _outcome("gradients", True, "gradients reach the input")


def submission_checks(name: str, model: PerceptualModel, card: SubmissionCard, device="cpu") -> list[CheckOutcome]:
    """Every check a submission must pass, in order; a randomised metric is checked under expectation over transformation."""
    evaluated = ExpectationOverTransformation(model) if model.is_randomised else model
    return [
        check_card(card),
        check_weights(card, model),
        check_determinism(model, device),
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
    from ..runner import EvaluationConfig, run_evaluation

    out_dir = Path(out_dir)
    if (out_dir / SUBMISSION_FILE).exists():
        raise FileExistsError(f"{out_dir / SUBMISSION_FILE} exists already; choose another --output-dir or remove it")
    loading = loading_card(model, evaluation_options.get("model_kwargs", {}))
    built = create_model(model, device=device, **dict[str, Any](loading.model_kwargs))
    card = build_card(loading, built, card_file)
    checks = submission_checks(model, built, card, device)
    for check in checks:
        echo(f"check {check.name}: {'passed' if check.passed else 'FAILED' if check.blocking else 'FLAGGED'} ({check.message})")
    _reject_on_failures(checks)
    datasets = list(SMOKE_DATASETS if smoke else REQUIRED_DATASETS)
    configs = [
        EvaluationConfig(
            model=model, dataset=dataset, threat=threat, attack=STANDARD, device=device, data_root=data_root, **evaluation_options
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
        paths.append(path.relative_to(out_dir).as_posix())
    record = SubmissionRecord(
        card=card,
        checks=checks,
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


# -- verify ------------------------------------------------------------------------------------------


def _own_samples_agree(path: Path, result: EvaluationResult) -> str | None:
    """A reason when the claimed scores do not follow from the file's own per-sample outcomes (None when they do)."""
    try:
        samples = read_outcomes(path)
    except OSError:
        return f"{path.name}: its per-sample outcomes are missing"
    except (ValueError, KeyError) as error:
        return f"{path.name}: its per-sample outcomes are malformed ({error})"
    if not samples:
        return f"{path.name}: its per-sample outcomes are empty"
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


def _disagree(relative: str, what: str, shown: Any, other: str, value: Any) -> SubmissionRejected:
    return SubmissionRejected(f"{relative}: {what} is {shown!r} but {other} says {value!r}; a result's copies must agree (submit it again)")


def _displayed_run(relative: str, claimed: EvaluationResult, record: SubmissionRecord) -> dict[str, Any]:
    """The EvaluationConfig fields of what `claimed` displays, after checking the copies outside the result file agree.

    Displayed: model, dataset, split, threat and eps, attack (with its budget), and the submission's
    smoke flag. The copies inside the result file (its `config`, its attack's own threat, its protocol)
    were checked by the one result schema when `read_result` read it (benchmark/schema.py, `_disagreements`);
    here only the card and submission.json, which that schema does not see, and the rules of a submission.
    """
    config, card, attack = claimed.config, record.card, claimed.attack
    if not isinstance(config, dict):
        raise SubmissionRejected(f"{relative}: field config must be a JSON object, got {type(config).__name__}")
    if claimed.model != card.name:
        raise _disagree(relative, "model", claimed.model, "the card", card.name)
    if attack is None:
        raise SubmissionRejected(f"{relative}: attack is none; a submission's results are evaluated with --attack standard")
    if card.model_kwargs != (config.get("model_kwargs") or {}):
        raise _disagree(relative, "card model_kwargs", card.model_kwargs, "config.model_kwargs", config.get("model_kwargs") or {})
    if config.get("pretrained") is not True:
        raise _disagree(relative, "weights", "pretrained weights", "config.pretrained", config.get("pretrained"))
    smoke = claimed.dataset in SMOKE_DATASETS
    if record.smoke != smoke or claimed.dataset not in record.datasets:
        raise _disagree(relative, "dataset", claimed.dataset, "submission.json (smoke, datasets)", (record.smoke, record.datasets))
    if set(record.datasets) != set(SMOKE_DATASETS if record.smoke else REQUIRED_DATASETS):
        raise _disagree(relative, "submission.json datasets", record.datasets, "its smoke flag", record.smoke)
    if claimed.threat.norm not in record.threats:
        raise _disagree(relative, "threat", claimed.threat.norm, "submission.json threats", record.threats)
    if claimed.weights == "random":
        raise SubmissionRejected(f"{relative}: weights are random; a submission is evaluated with its own weights")
    options = config.get("dataset_options") or {}
    sizes = {key: config.get(key) for key in ("n_ex", "n_ex_per_split")}
    if not isinstance(options, dict) or not all(isinstance(v, (str, int, float, bool)) for v in options.values()):
        raise SubmissionRejected(f"{relative}: config.dataset_options must be an object of JSON scalars, got {options!r}")
    for key, size in sizes.items():
        if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 1):
            raise SubmissionRejected(f"{relative}: config.{key} must be a whole number >= 1 or null, got {size!r}")
    if config.get("random_subset") is not None:
        raise SubmissionRejected(f"{relative}: config.random_subset is set; a claim covers its whole set, not a random subset")
    return {
        "model": card.name,
        "dataset": claimed.dataset,
        "split": claimed.split,
        "threat": claimed.threat.norm,
        "eps": claimed.threat.eps_text,
        "attack": attack.name,
        "n_iter": attack.n_iter,
        "n_restarts": attack.n_restarts,
        "seed": attack.seed,
        "square_queries": attack.square_queries,
        "model_kwargs": dict(card.model_kwargs),
        "dataset_options": dict(options),
        **sizes,
    }


def _counted(member: MemberRecord, success_based: bool) -> tuple[Any, ...]:
    """What of an ensemble member's record the per-sample outcomes determine (its seconds are measured, not counted)."""
    return (success_based, member.name, member.count, member.skipped_on, member.n_iter, member.n_restarts, member.seed)


def _ensemble_reasons(relative: str, path: Path, claimed: EvaluationResult) -> list[str]:
    """The standard ensemble's record and cheap checks recomputed from the per-sample outcomes, against the claim."""
    assert claimed.attack is not None
    try:
        rows, outcomes = read_samples(path), read_outcomes(path)
    except (OSError, ValueError, KeyError):
        return []  # _own_samples_agree names the missing or malformed sidecar
    recomputed = summarise_members(claimed.attack, rows)
    members = [_counted(m, recomputed.success_based) for m in recomputed.members]
    claimed_members = [] if claimed.ensemble is None else [_counted(m, claimed.ensemble.success_based) for m in claimed.ensemble.members]
    reasons = []
    if members != claimed_members:
        reasons.append(f"{relative}: its ensemble record does not match its per-sample outcomes")
    checks = ensemble_checks(recomputed)
    required = set(checks) | ({"large_radius"} if needs_large_radius(outcomes, checks) else set())
    missing = sorted(required - set(claimed.checks))
    if missing:
        reasons.append(f"{relative}: a standard-ensemble claim without its sanity checks (missing {', '.join(missing)})")
    for name, check in checks.items():
        given = claimed.checks.get(name)
        if given is not None and given.passed is not check.passed:
            reasons.append(f"{relative}: claims sanity check {name} passed={given.passed}, its own outcomes give {check.passed}")
        elif check.passed is False and name != "gradients":
            reasons.append(f"{relative}: sanity check {name} failed ({check.detail})")
    large = claimed.checks.get("large_radius")
    if large is not None and large.passed is not True:
        reasons.append(f"{relative}: sanity check large_radius failed")
    return reasons


def _bound_files(folder: Path, results: list[str]) -> list[str]:
    """submission.json, every result file and every per-sample sidecar: what the statement hashes."""
    files = [SUBMISSION_FILE]
    for relative in results:
        files.append(relative)
        sidecar = (PurePosixPath(relative).parent / samples_path(Path(relative)).name).as_posix()
        if (folder / sidecar).is_file():
            contained(folder, sidecar)
            files.append(sidecar)
    return files


def _keep_reruns(folder: Path, scratch: Path) -> None:
    """Replace `folder/verification/` by the re-runs' result files (never resumed from what a submission ships there)."""
    target = folder / VERIFICATION_DIR
    if target.is_symlink() or target.is_file():
        target.unlink()
    elif target.exists():
        shutil.rmtree(target)
    shutil.copytree(scratch, target)


def verify_submission(
    folder: str | Path,
    *,
    n: int = DEFAULT_VERIFY_SAMPLES,
    seed: int = 0,
    confidence: float = CONFIDENCE,
    device: str = "cpu",
    data_root: str | None = None,
    batch_size: BatchSize | None = None,
    progress: bool = True,
    echo=print,
) -> VerificationStatement:
    """Re-run a seeded random subset of every claimed result and sign a statement of which claims the re-run supports.

    Before anything is imported or run, the card's loader and model_kwargs are checked and every
    result's copies of its displayed fields must agree; a refusal raises SubmissionRejected (one line).
    """
    from ..runner import EvaluationConfig, run_evaluation

    folder = Path(folder)
    record = read_submission(folder)
    card = record.card
    check_metric_loader(card)
    if not record.results:
        raise SubmissionRejected(f"{folder / SUBMISSION_FILE}: field results is empty; the submission claims nothing")
    claimed_runs = []
    for relative in record.results:
        path = contained(folder, relative)
        claimed = read_result(path)
        claimed_runs.append((relative, path, claimed, _displayed_run(relative, claimed, record)))
    model = create_model(card.name, device=device, **dict[str, Any](card.model_kwargs))
    checks = submission_checks(card.name, model, card, device)
    reasons = [f"{c.name}: {c.message}" for c in checks if not c.passed]
    claims: list[ClaimCheck] = []
    subsets: list[SubsetRecord] = []
    fewest, full = None, True
    with tempfile.TemporaryDirectory(prefix="perceptbench-verify-") as scratch:
        for relative, path, claimed, displayed in claimed_runs:
            assert claimed.attack is not None
            if claimed.attack.name != STANDARD:
                reasons.append(f"{relative}: not evaluated with --attack standard")
            else:
                reasons += _ensemble_reasons(relative, path, claimed)
            disagreement = _own_samples_agree(path, claimed)
            if disagreement:
                reasons.append(disagreement)
            stored_batch = claimed.config.get("batch_size")
            config = EvaluationConfig(
                **displayed,
                random_subset=n,
                subset_seed=seed,
                device=device,
                data_root=data_root,
                batch_size=batch_size or (stored_batch if isinstance(stored_batch, int) and 0 < stored_batch <= 4096 else BATCH_SIZE),
            )
            rerun, rerun_path = run_evaluation(config, scratch, progress=progress)
            reasons += [
                f"{relative}: re-run sanity check {name} failed ({c.detail})"
                for name, c in rerun.checks.items()
                if c.passed is False and name != "gradients"
            ]
            sample_ids = [o.sample_id if o.sample_id is not None else str(o.position) for o in read_outcomes(rerun_path)]
            subsets.append(SubsetRecord(result_file=relative, seed=seed, sample_ids=sample_ids))
            size = int(rerun.scores.n or 0)
            fewest = size if fewest is None else min(fewest, size)
            full = full and size >= int(claimed.scores.n or 0)
            threat = claimed.threat.label
            for key in ("clean", "robust"):
                observed = float(rerun.scores.score(key) or 0.0)
                interval = wilson_interval(observed * size, size, confidence)
                value = float(claimed.scores.score(key) or 0.0)
                accepted = math.isfinite(value) and interval[0] - 1e-9 <= value <= interval[1] + 1e-9
                claims.append(
                    ClaimCheck(
                        result_file=relative,
                        dataset=claimed.dataset,
                        split=claimed.split,
                        threat=threat,
                        attack=claimed.attack.name,
                        score=key,
                        claimed=value if math.isfinite(value) else None,
                        rerun=observed,
                        n=size,
                        interval=interval,
                        accepted=accepted,
                    )
                )
                echo(
                    f"{claimed.dataset} {threat} {key}: claimed {100 * value:.2f}, re-run {100 * observed:.2f} on {size} samples, "
                    f"{100 * confidence:g}% interval [{100 * interval[0]:.2f}, {100 * interval[1]:.2f}] -> {'accepted' if accepted else 'REJECTED'}"
                )
                if not accepted:
                    reasons.append(
                        f"{claimed.dataset} {threat}: claimed {key} {100 * value:.2f} lies outside the {100 * confidence:g}% "
                        f"Wilson interval [{100 * interval[0]:.2f}, {100 * interval[1]:.2f}] of the re-run on {size} samples"
                    )
        _keep_reruns(folder, Path(scratch))
    statement = VerificationStatement(
        verifier_version=__version__,
        submission=card.name,
        status="flagged" if reasons else "verified",
        reasons=reasons,
        files=file_digests(folder, _bound_files(folder, record.results)),
        subsets=subsets,
        claims=claims,
        checks=[CheckRecord(**c.to_dict()) for c in checks],
        subset_size=n,
        subset_seed=seed,
        confidence=confidence,
        full=full,
        n=fewest or 0,
        environment=environment(device),
        created_at=_now(),
    )
    write_statement(folder, sign_statement(statement))
    return statement
