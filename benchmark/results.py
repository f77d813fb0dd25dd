"""One result file per (model, dataset, split, threat, attack configuration), plus a per-sample sidecar."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from .atomic import atomic_write_text

SCHEMA_VERSION = 1
SAMPLES_SUFFIX = ".samples.csv"


class ResultFormatError(ValueError):
    """A file in a results folder is not a perceptbench result."""


@dataclass
class EvaluationResult:
    model: str
    model_card: dict[str, Any]
    weights: str  # pretrained | random | none (a metric without weights)
    dataset: str
    split: str | None
    task: str
    threat: dict[str, Any]  # norm, eps, eps_text
    attack: dict[str, Any] | None
    config: dict[str, Any]
    scores: dict[str, Any]  # clean, robust, n, per_split
    timing: dict[str, float]
    environment: dict[str, Any]
    created_at: str
    samples_file: str | None = None
    checks: dict[str, Any] = field(default_factory=dict)
    # How the dataset was scored and its images prepared: labels and score rule, averaging over
    # splits, the image transform, the model's preprocessing, the resolution the attack acted on.
    protocol: dict[str, Any] = field(default_factory=dict)
    resumed_samples: int = 0  # outcomes taken from the checkpoint of an interrupted run
    # `--attack standard`: per member of the ensemble its configuration, samples broken and seconds (attacks/ensemble.py).
    ensemble: dict[str, Any] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    @property
    def is_ranked(self) -> bool:
        """Random-weight results are smoke runs: never ranked as real entries."""
        return self.weights != "random"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvaluationResult:
        if not isinstance(data, dict) or "schema_version" not in data:
            raise ResultFormatError("not a perceptbench result (no schema_version)")
        if data["schema_version"] != SCHEMA_VERSION:
            raise ResultFormatError(f"schema_version {data['schema_version']} is not supported (expected {SCHEMA_VERSION})")
        required = [f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING]
        missing = [name for name in required if name not in data]
        if missing:
            raise ResultFormatError(f"malformed result: missing fields {', '.join(missing)}")
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.+-]+", "-", text).strip("-")


def result_stem(result: EvaluationResult) -> str:
    config = result.config
    parts = [_slug(result.model), _slug(result.dataset + (f"-{result.split}" if result.split else ""))]
    threat = result.threat
    parts.append(f"{threat['norm']}-{_slug(threat['eps_text'].replace('/', 'over'))}")
    if result.attack:
        attack = result.attack
        parts.append(f"{attack['name']}-{attack['n_iter']}it-{attack['n_restarts']}r-seed{attack['seed']}")
        if attack.get("square_queries") is not None:
            parts.append(f"square{attack['square_queries']}q")
    else:
        parts.append("clean")
    if config.get("n_ex"):
        parts.append(f"n{config['n_ex']}")
    if config.get("n_ex_per_split"):
        parts.append(f"n{config['n_ex_per_split']}-per-split")
    if config.get("random_subset"):
        parts.append(f"random{config['random_subset']}-seed{config.get('subset_seed', 0)}")
    for key, value in sorted((config.get("dataset_options") or {}).items()):
        parts.append(_slug(f"{key}-{value}"))
    if result.weights == "random":
        parts.append("random-weights")
    return "__".join(parts)


def result_path(result: EvaluationResult, output_dir: str | Path) -> Path:
    return Path(output_dir) / result.dataset / f"{result_stem(result)}.json"


def write_result(result: EvaluationResult, records: list[dict[str, Any]], output_dir: str | Path) -> Path:
    """Write the per-sample sidecar, then the result JSON, each atomically; return the JSON path."""
    path = result_path(result, output_dir)
    samples_path = path.with_name(path.stem + SAMPLES_SUFFIX)
    if records:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows(records)
        atomic_write_text(samples_path, buffer.getvalue())
        result.samples_file = samples_path.name
    atomic_write_text(path, json.dumps(result.to_dict(), indent=2, sort_keys=False) + "\n")
    return path


def read_result(path: str | Path) -> EvaluationResult:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ResultFormatError(f"{path}: cannot read JSON ({error})") from error
    try:
        return EvaluationResult.from_dict(data)
    except ResultFormatError as error:
        raise ResultFormatError(f"{path}: {error}") from error


def read_samples(result_file: str | Path) -> list[dict[str, str]]:
    result_file = Path(result_file)
    samples = result_file.with_name(result_file.stem + SAMPLES_SUFFIX)
    with samples.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))
