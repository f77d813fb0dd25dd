"""One result file per (model, dataset, split, threat, attack configuration), plus a per-sample sidecar.

The result is typed: the threat model, the attack configuration, the scores, the sanity checks and
each sample's outcome are dataclasses with `to_dict`/`from_dict`, so writer and readers share one
definition of every field. Schema 2 adds the metric's behaviour flags (`metric`); schema-1 files
still load (`from_dict` migrates them). Every file is checked against the one schema (benchmark/schema.py)
before it becomes these dataclasses, so their `from_dict`s read data whose types and ranges are known.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from attacks.config import AttackConfig
from attacks.defaults import STANDARD
from attacks.ensemble import EnsembleRecord
from attacks.threat import ThreatModel

from .runtime.atomic import atomic_write_text
from .schema import SchemaError, validate_result
from .statistics import Interval

SCHEMA_VERSION = 2
SUPPORTED_SCHEMAS = (1, 2)
SAMPLES_SUFFIX = ".samples.csv"
SCORE_KINDS = ("clean", "robust")
MAX_RESULT_BYTES = 64 * 2**20  # our largest result files are a few kB; a bigger one is not a result


class ResultFormatError(ValueError):
    """A file in a results folder is not a perceptbench result."""


# -- scores -------------------------------------------------------------------------------------------

# Retrieval's per-protocol mAPs are written flat, as `map_<protocol>_<clean|robust>`, beside the headline.
_PROTOCOL_KEY = re.compile(r"^map_(?P<protocol>[a-z0-9]+)_(?P<kind>clean|robust)$")


# 2AFC's scoring protocols as results record them (protocol["scoring"], written by the task) and the leaderboard shows them.
TWOAFC_SCORING_NAMES = {"hard": "hard labels", "soft": "soft score"}
# The scoring protocol of the paper's reported numbers, per dataset where its task scores several ways: the paper's 2AFC
# numbers (Tables I, II, XIII-XV) are hard-label accuracies. The leaderboard files the paper's numbers under it (a paper
# number has no result file to record it); tests/benchmark/test_dataset_registry.py checks it against the dataset registry.
PAPER_SCORING = {"nights": TWOAFC_SCORING_NAMES["hard"], "bapps": TWOAFC_SCORING_NAMES["hard"]}


@dataclass
class Scores:
    """Headline clean and robust scores over `n` samples, per split, and per scoring protocol where a task has several.

    `protocols` holds retrieval's mAP under each protocol (medium, hard), the only place the
    leaderboard learns which protocols exist; `extra` holds other task-specific numbers
    (detection's buffer class and confusion fractions).
    """

    clean: float | None = None
    robust: float | None = None
    n: int | None = None
    per_split: dict[str, Scores] = field(default_factory=dict)
    protocols: dict[str, Scores] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    # The 95% interval of each score, from the per-sample outcomes (benchmark/score_intervals.py): "clean", "robust".
    intervals: dict[str, Interval] = field(default_factory=dict)

    def score(self, kind: str) -> float | None:
        """The clean or the robust score (`kind` is "clean" or "robust"), None when it has none."""
        if kind not in SCORE_KINDS:
            raise ValueError(f"a score is 'clean' or 'robust', not {kind!r}")
        return self.clean if kind == "clean" else self.robust

    def to_dict(self) -> dict[str, Any]:
        """The JSON layout of schema 1: clean, robust, n, per_split, then `map_<protocol>_<kind>` and extras."""
        data: dict[str, Any] = {
            key: value
            for key, value in (("clean", _finite(self.clean)), ("robust", _finite(self.robust)), ("n", self.n))
            if value is not None
        }
        data["per_split"] = {split: scores.to_dict() for split, scores in self.per_split.items()}
        for protocol, scores in self.protocols.items():  # a protocol with no scorable query has no mAP: null, not NaN
            data[f"map_{protocol}_clean"] = _finite(scores.clean)
            data[f"map_{protocol}_robust"] = _finite(scores.robust)
        intervals = {kind: interval.to_dict() for kind, interval in self.intervals.items()}
        for protocol, scores in self.protocols.items():
            intervals.update({f"map_{protocol}_{kind}": interval.to_dict() for kind, interval in scores.intervals.items()})
        if intervals:
            data["intervals"] = intervals
        data.update(self.extra)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Scores:
        """Read scores as `to_dict` writes them (schema 1 wrote the same keys); types were checked by the schema."""
        protocols: dict[str, Scores] = {}
        extra: dict[str, Any] = {}
        for key, value in data.items():
            if key in ("clean", "robust", "n", "per_split", "intervals"):
                continue
            match = _PROTOCOL_KEY.match(key)
            if match:
                setattr(protocols.setdefault(match["protocol"], cls(n=data.get("n"))), match["kind"], value)
            else:
                extra[key] = value
        scores = cls(
            clean=_float(data.get("clean")),
            robust=_float(data.get("robust")),
            n=data.get("n"),
            per_split={str(split): cls.from_dict(scores) for split, scores in (data.get("per_split") or {}).items()},
            protocols=protocols,
            extra=extra,
        )
        for key, record in (data.get("intervals") or {}).items():  # the schema checked each sits beside its score
            match = _PROTOCOL_KEY.match(key)
            owner, kind = (protocols.get(match["protocol"]), match["kind"]) if match else (scores, key)
            if owner is not None and (estimate := owner.score(kind)) is not None:
                owner.intervals[kind] = Interval.from_dict(record, estimate)
        return scores


def _float(value: float | None) -> float | None:
    return None if value is None else float(value)


def _finite(value: float | None) -> float | None:
    """A score as written: NaN (nothing to average) is no score."""
    return None if value is None or math.isnan(value) else value


# -- sanity checks ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckResult:
    """One sanity check's verdict (benchmark/sanity.py): passed, a sentence for people, and the numbers behind it.

    `passed` is None only for a schema-1 record that did not say (the leaderboard then flags nothing).
    """

    name: str
    passed: bool | None
    detail: str = ""
    numbers: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """`{"passed", "detail", **numbers}`; the name is the key it is stored under."""
        return {"passed": self.passed, "detail": self.detail, **self.numbers}

    @classmethod
    def from_dict(cls, name: str, data: dict[str, Any]) -> CheckResult:
        """Read a check as `to_dict` writes it (types checked by the schema)."""
        numbers = {key: value for key, value in data.items() if key not in ("passed", "detail")}
        return cls(name, data.get("passed"), data.get("detail", ""), numbers)


def checks_from_dict(data: dict[str, Any] | None) -> dict[str, CheckResult]:
    """`{name: record}` as stored in a result file -> `{name: CheckResult}`."""
    return {name: CheckResult.from_dict(name, record) for name, record in (data or {}).items()}


# -- per-sample outcomes ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SampleOutcome:
    """One sample's outcome, clean and under attack: what a task returns per sample and what a `.samples.csv` row holds.

    `position`, `sample_id` and `split` say which sample it is (filled in by the runner);
    `extra` holds the task's own columns (2AFC's judge and similarities, retrieval's APs,
    detection's classes, the standard ensemble's per-member columns).
    """

    clean_score: float
    robust_score: float
    attacked: bool
    label: int | str | None = None
    clean_prediction: int | str | None = None
    robust_prediction: int | str | None = None
    perturbation_norm: float | None = None
    position: int | None = None
    sample_id: str | None = None
    split: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def score(self, kind: str) -> float:
        """This sample's clean or robust score (`kind` is "clean" or "robust")."""
        if kind not in SCORE_KINDS:
            raise ValueError(f"a score is 'clean' or 'robust', not {kind!r}")
        return self.clean_score if kind == "clean" else self.robust_score

    @property
    def still_correct(self) -> bool:
        """The robust prediction is the label (sanity checks ask this of tasks that have labels)."""
        if self.label is None or self.robust_prediction is None:
            raise ValueError("--checks needs per-sample labels and robust predictions (the 2afc task); drop --checks for this task")
        return self.robust_prediction == self.label

    def located(self, position: int, info: dict[str, Any]) -> SampleOutcome:
        """This outcome with the sample's place in the dataset (`dataset.sample_info(position)`)."""
        rest = {key: value for key, value in info.items() if key not in ("sample_id", "split")}
        return replace(self, position=position, sample_id=info.get("sample_id"), split=info.get("split"), extra={**rest, **self.extra})

    def to_dict(self) -> dict[str, Any]:
        """A flat row: where the sample is, the extras, then the outcome columns that apply."""
        place = {"position": self.position, "sample_id": self.sample_id, "split": self.split}
        outcome = {
            "label": self.label,
            "clean_prediction": self.clean_prediction,
            "clean_score": self.clean_score,
            "attacked": self.attacked,
            "robust_prediction": self.robust_prediction,
            "robust_score": self.robust_score,
            "perturbation_norm": self.perturbation_norm,
        }
        return {
            **{k: v for k, v in place.items() if v is not None},
            **self.extra,
            **{k: v for k, v in outcome.items() if v is not None},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SampleOutcome:
        """Read a row as `to_dict` writes it: typed values (a checkpoint) or the text of a CSV row.

        Rows written before `attacked` was recorded for every task (odd-one-out) count as not attacked.
        """
        core = {"position", "sample_id", "split", "label", "clean_prediction", "clean_score", "attacked"}
        core |= {"robust_prediction", "robust_score", "perturbation_norm"}
        return cls(
            clean_score=float(data["clean_score"]),
            robust_score=float(data["robust_score"]),
            attacked=_as_bool(data.get("attacked", False)),
            label=_as_label(data.get("label")),
            clean_prediction=_as_label(data.get("clean_prediction")),
            robust_prediction=_as_label(data.get("robust_prediction")),
            perturbation_norm=None if data.get("perturbation_norm") in (None, "") else float(data["perturbation_norm"]),
            position=None if data.get("position") in (None, "") else int(data["position"]),
            sample_id=None if data.get("sample_id") in (None, "") else str(data["sample_id"]),
            split=None if data.get("split") in (None, "") else str(data["split"]),
            extra={key: value for key, value in data.items() if key not in core},
        )


def _as_bool(value: Any) -> bool:
    """A bool, or its CSV text ('True'/'False', '1'/'0')."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text not in ("true", "false", "1", "0"):
        raise ResultFormatError(f"'attacked' must be True or False, got '{value}'")
    return text in ("true", "1")


def _as_label(value: Any) -> int | str | None:
    """A class index (int, or its CSV text) or a class name; None when absent."""
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value)
    return int(text) if text.lstrip("-").isdigit() else text


# -- certified robustness ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CertifiedRadius:
    """Certified accuracy at one L2 radius: the run's (`source` "run", covering `covers`, the run's threat) or one LipSim reports."""

    eps: float
    eps_text: str
    accuracy: float
    source: str  # run | lipsim
    covers: str | None = None  # the threat this radius certifies, e.g. "linf 4/255" (an L2 ball holding that Linf ball)

    def to_dict(self) -> dict[str, Any]:
        """The radius as plain JSON."""
        return {"eps": self.eps, "eps_text": self.eps_text, "accuracy": self.accuracy, "source": self.source, "covers": self.covers}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CertifiedRadius:
        """Read what `to_dict` wrote (types checked by the schema)."""
        return cls(float(data["eps"]), str(data["eps_text"]), float(data["accuracy"]), str(data["source"]), data.get("covers"))


@dataclass(frozen=True)
class CertifiedScores:
    """`bench evaluate --certify`'s summary (benchmark/certification.py): over the `n` certified samples, certified
    accuracy at each radius beside the same samples' clean and robust accuracy (hard labels), which bound it."""

    method: str  # lipschitz | smoothing
    parameters: dict[str, Any]
    n: int
    abstained: int
    radii: list[CertifiedRadius]
    clean: float
    robust: float
    seconds: float = 0.0  # certifying in this invocation (batches resumed from a checkpoint are not timed again)

    @property
    def at_run(self) -> CertifiedRadius | None:
        """Certified accuracy at the radius that covers the run's threat."""
        return next((r for r in self.radii if r.source == "run"), None)

    def to_dict(self) -> dict[str, Any]:
        """The block as plain JSON."""
        return {
            "method": self.method,
            "parameters": self.parameters,
            "n": self.n,
            "abstained": self.abstained,
            "radii": [radius.to_dict() for radius in self.radii],
            "clean": self.clean,
            "robust": self.robust,
            "seconds": self.seconds,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CertifiedScores:
        """Read what `to_dict` wrote (types checked by the schema)."""
        return cls(
            method=str(data["method"]),
            parameters=dict(data.get("parameters") or {}),
            n=int(data["n"]),
            abstained=int(data.get("abstained", 0)),
            radii=[CertifiedRadius.from_dict(r) for r in data.get("radii") or []],
            clean=float(data["clean"]),
            robust=float(data["robust"]),
            seconds=float(data.get("seconds", 0.0)),
        )


# -- the metric ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricProperties:
    """How the evaluated metric behaves (`PerceptualModel.metric_properties()`): recorded so readers need no registry."""

    has_embedding: bool
    higher_is_better: bool
    is_differentiable: bool
    sim_range: tuple[float | None, float | None]  # None: unbounded on that side (LPIPS's 1 - distance has no floor)
    is_randomised: bool

    def to_dict(self) -> dict[str, Any]:
        """The flags as plain JSON."""
        return {
            "has_embedding": self.has_embedding,
            "higher_is_better": self.higher_is_better,
            "is_differentiable": self.is_differentiable,
            "sim_range": list(self.sim_range),
            "is_randomised": self.is_randomised,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MetricProperties:
        """Read the flags as `to_dict` (or `metric_properties()`) gives them."""
        low, high = data["sim_range"]
        return cls(
            has_embedding=bool(data["has_embedding"]),
            higher_is_better=bool(data["higher_is_better"]),
            is_differentiable=bool(data["is_differentiable"]),
            sim_range=(None if low is None else float(low), None if high is None else float(high)),
            is_randomised=bool(data["is_randomised"]),
        )


# -- the result ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EvaluationResult:
    """Everything one evaluation produced and what is needed to trace it: the unit the leaderboard is built from."""

    model: str
    model_card: dict[str, Any]
    weights: str  # pretrained | random | none (a metric without weights) | unknown
    dataset: str
    split: str | None
    task: str
    threat: ThreatModel
    attack: AttackConfig | None
    config: dict[str, Any]  # the EvaluationConfig as run (benchmark/runner.py)
    scores: Scores
    timing: dict[str, float]
    environment: dict[str, Any]
    created_at: str
    samples_file: str | None = None
    checks: dict[str, CheckResult] = field(default_factory=dict)
    # How the dataset was scored and its images prepared: labels and score rule, averaging over
    # splits, the image transform, the model's preprocessing, the resolution the attack acted on.
    protocol: dict[str, Any] = field(default_factory=dict)
    resumed_samples: int = 0  # outcomes taken from the checkpoint of an interrupted run
    # `--attack standard`: per member of the ensemble its configuration, samples broken and seconds (attacks/ensemble.py).
    ensemble: EnsembleRecord | None = None
    # The metric's behaviour flags; None in files written before schema 2 (their model_card has has_embedding and sim_range).
    metric: MetricProperties | None = None
    # `--certify`: certified accuracy beside the empirical one (benchmark/certification.py); None when not asked.
    certified: CertifiedScores | None = None
    # `--save-adversarial N`: the folder beside the result holding the N worst-case adversarial references (benchmark/gallery.py).
    adversarial_examples: str | None = None
    schema_version: int = SCHEMA_VERSION

    @property
    def is_ranked(self) -> bool:
        """Random-weight results are smoke runs: never ranked as real entries (the schema refuses a file whose
        `weights` contradicts its configuration or card, so `weights` is the one place to ask)."""
        return self.weights != "random"

    @property
    def has_embedding(self) -> bool | None:
        """Whether the metric embeds images: from `metric`, else (schema 1) the card; None when neither says."""
        if self.metric is not None:
            return self.metric.has_embedding
        value = self.model_card.get("has_embedding")
        return value if isinstance(value, bool) else None

    @property
    def sim_range(self) -> tuple[float | None, float | None] | None:
        """The metric's similarity range: from `metric`, else (schema 1) the card; None when neither says."""
        if self.metric is not None:
            return self.metric.sim_range
        value = self.model_card.get("sim_range")
        if not (isinstance(value, (list, tuple)) and len(value) == 2):
            return None
        return (None if value[0] is None else float(value[0]), None if value[1] is None else float(value[1]))

    def to_dict(self) -> dict[str, Any]:
        """The JSON layout of a result file (schema 1's keys, plus `metric`)."""
        return {
            "model": self.model,
            "model_card": self.model_card,
            "weights": self.weights,
            "dataset": self.dataset,
            "split": self.split,
            "task": self.task,
            "threat": self.threat.to_dict(),
            "attack": None if self.attack is None else self.attack.to_dict(),
            "config": self.config,
            "scores": self.scores.to_dict(),
            "timing": self.timing,
            "environment": self.environment,
            "created_at": self.created_at,
            "samples_file": self.samples_file,
            "checks": {name: check.to_dict() for name, check in self.checks.items()},
            "protocol": self.protocol,
            "resumed_samples": self.resumed_samples,
            "ensemble": {} if self.ensemble is None else self.ensemble.to_dict(),
            "metric": None if self.metric is None else self.metric.to_dict(),
            **({"certified": self.certified.to_dict()} if self.certified is not None else {}),
            **({"adversarial_examples": self.adversarial_examples} if self.adversarial_examples is not None else {}),
            "schema_version": self.schema_version,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvaluationResult:
        """Read a result file's JSON, checked against the schema (benchmark/schema.py); schema-1 files are migrated first.

        A `ResultFormatError` names the first bad field.
        """
        if not isinstance(data, dict):
            raise ResultFormatError(f"not a perceptbench result (a JSON {_json_kind(data)}, not an object)")
        version = data.get("schema_version")
        if version is None:
            raise ResultFormatError("not a perceptbench result (no schema_version)")
        if isinstance(version, bool) or version not in SUPPORTED_SCHEMAS:
            supported = ", ".join(str(v) for v in SUPPORTED_SCHEMAS)
            raise ResultFormatError(f"schema_version {str(version)[:20]} is not supported (this version reads {supported})")
        if version == 1:
            data = migrate_schema_1(data)
        try:
            record = validate_result(data)
        except SchemaError as error:
            raise ResultFormatError(f"invalid result: {error}") from None
        return cls(
            model=record.model,
            model_card=data["model_card"],
            weights=record.weights,
            dataset=record.dataset,
            split=record.split,
            task=record.task,
            threat=ThreatModel.from_dict(data["threat"]),
            attack=None if data["attack"] is None else AttackConfig.from_dict(data["attack"]),
            config=data["config"],
            scores=Scores.from_dict(data["scores"]),
            timing=data["timing"],
            environment=data["environment"],
            created_at=record.created_at,
            samples_file=record.samples_file,
            checks=checks_from_dict(data.get("checks")),
            protocol=record.protocol,
            resumed_samples=record.resumed_samples,
            ensemble=_ensemble_record(record.ensemble),
            metric=None if data.get("metric") is None else MetricProperties.from_dict(data["metric"]),
            certified=None if data.get("certified") is None else CertifiedScores.from_dict(data["certified"]),
            adversarial_examples=record.adversarial_examples,
        )


def _ensemble_record(data: dict[str, Any]) -> EnsembleRecord | None:
    """The typed `ensemble` record of a result file ({} where no ensemble ran)."""
    if not data:
        return None
    try:
        return EnsembleRecord.from_dict(data)
    except ValueError as error:
        raise ResultFormatError(f"invalid result: {error}") from None


def _json_kind(data: Any) -> str:
    return {list: "list", str: "string", bool: "boolean", type(None): "null"}.get(type(data), "number")


def migrate_schema_1(data: dict[str, Any]) -> dict[str, Any]:
    """A schema-1 result as schema 2 has it.

    Schema 1 let a check be recorded as a bare bool, and hand-written files left the attack's
    threat fields out (they equal the result's threat). It had no `metric`.
    """
    migrated = dict(data)
    if isinstance(data.get("attack"), dict) and isinstance(data.get("threat"), dict):
        migrated["attack"] = {**{k: data["threat"][k] for k in ("norm", "eps", "eps_text") if k in data["threat"]}, **data["attack"]}
    checks = data.get("checks") or {}
    if isinstance(checks, dict):
        migrated["checks"] = {name: {"passed": record} if isinstance(record, bool) else record for name, record in checks.items()}
    migrated["metric"] = None
    migrated["schema_version"] = SCHEMA_VERSION
    return migrated


# -- files --------------------------------------------------------------------------------------------


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.+-]+", "-", text).strip("-")


def result_file_stem(
    model: str, dataset: str, split: str | None, threat: ThreatModel, attack: AttackConfig | None, config: dict[str, Any], weights: str
) -> str:
    """The file name (without .json) of a result: everything that tells two runs apart, readable."""
    parts = [_slug(model), _slug(dataset + (f"-{split}" if split else ""))]
    parts.append(f"{threat.norm}-{_slug(threat.eps_text.replace('/', 'over'))}")
    if attack is not None:
        parts.append(f"{attack.name}-{attack.n_iter}it-{attack.n_restarts}r-seed{attack.seed}")
        if attack.name == STANDARD:
            parts.append(f"square{attack.square_queries}q")
    else:
        parts.append("clean")
    if config.get("n_ex"):
        parts.append(f"n{config['n_ex']}")
    if config.get("n_ex_per_split"):
        parts.append(f"n{config['n_ex_per_split']}-per-split")
    if config.get("only_splits"):
        parts.append("only-" + "+".join(config["only_splits"]))
    if config.get("random_subset"):
        parts.append(f"random{config['random_subset']}-seed{config.get('subset_seed', 0)}")
    for key, value in sorted((config.get("dataset_options") or {}).items()):
        parts.append(_slug(f"{key}-{value}"))
    if config.get("certify"):
        smoothing = f"-sigma{config.get('certify_sigma')}-n{config.get('certify_n')}" if config["certify"] == "smoothing" else ""
        parts.append(_slug(f"certify-{config['certify']}{smoothing}-first{config.get('certify_n_ex')}"))
    if weights == "random":
        parts.append("random-weights")
    return "__".join(parts)


def result_stem(result: EvaluationResult) -> str:
    """The file name (without .json) of `result`."""
    return result_file_stem(result.model, result.dataset, result.split, result.threat, result.attack, result.config, result.weights)


def result_file_path(output_dir: str | Path, dataset: str, stem: str) -> Path:
    """Where a result named `stem` is written under `output_dir`: one folder per dataset."""
    return Path(output_dir) / dataset / f"{stem}.json"


def result_path(result: EvaluationResult, output_dir: str | Path) -> Path:
    """Where `result` is written under `output_dir`."""
    return result_file_path(output_dir, result.dataset, result_stem(result))


def samples_path(result_file: str | Path) -> Path:
    """The per-sample sidecar beside a result file."""
    result_file = Path(result_file)
    return result_file.with_name(result_file.stem + SAMPLES_SUFFIX)


def write_result(result: EvaluationResult, outcomes: list[SampleOutcome], output_dir: str | Path) -> Path:
    """Write the per-sample sidecar, then the result JSON, each atomically; return the JSON path.

    The JSON names the sidecar written beside it (the runner's result already does; `result` itself is never changed).
    """
    path = result_path(result, output_dir)
    if outcomes and result.samples_file != samples_path(path).name:
        result = replace(result, samples_file=samples_path(path).name)
    if outcomes:
        rows = [outcome.to_dict() for outcome in outcomes]
        columns = list(dict.fromkeys(key for row in rows for key in row))
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_text(samples_path(path), buffer.getvalue())
    atomic_write_text(path, json.dumps(result.to_dict(), indent=2, sort_keys=False) + "\n")
    return path


def read_result(path: str | Path) -> EvaluationResult:
    """Read one result file; a clear `ResultFormatError` naming the file when it is not a result."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_RESULT_BYTES:
            raise ResultFormatError(f"{path}: {path.stat().st_size} bytes is too large for a result file")
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ResultFormatError(f"{path}: cannot read the file ({error.strerror or error})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ResultFormatError(f"{path}: cannot read JSON ({error})") from None
    except RecursionError:
        raise ResultFormatError(f"{path}: cannot read JSON (nested too deeply)") from None
    try:
        return EvaluationResult.from_dict(data)
    except ResultFormatError as error:
        raise ResultFormatError(f"{path}: {error}") from error


def read_samples(result_file: str | Path) -> list[dict[str, str]]:
    """The per-sample sidecar's rows as text, column by column (`read_outcomes` gives them typed)."""
    with samples_path(result_file).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def read_outcomes(result_file: str | Path) -> list[SampleOutcome]:
    """The per-sample sidecar beside `result_file`, as typed outcomes."""
    return [SampleOutcome.from_dict(row) for row in read_samples(result_file)]
