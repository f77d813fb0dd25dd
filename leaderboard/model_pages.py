"""What a model's page shows: its card, every result with its configuration and versions, check flags, the paper's
numbers for it, and sweep plots."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from benchmark.results import EvaluationResult

from .checks import check_details
from .plots import sweep_svg
from .reported import ReportedScore
from .sweeps import Sweep
from .table_types import Claim, LeaderboardTable

CARD_FIELDS = (
    "family",
    "backbone",
    "robust_training",
    "robust_eps",
    "finetuning",
    "parameters",
    "preprocessing",
    "license",
    "paper",
    "notes",
)


SLUG_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._+-")


def model_slug(name: str) -> str:
    """A model page's file name: the name itself where it is safe, else each other byte as `~XX` (hex).

    Readable and stable (`runs/x` -> `runs~2fx`, never a hash), and one name per slug: `~` is always encoded.
    A leading '.' is encoded too, so no page is hidden or climbs out of `models/`.
    """
    slug = "".join(char if char in SLUG_SAFE else "".join(f"~{byte:02x}" for byte in char.encode("utf-8")) for char in name)
    if slug.startswith("."):
        slug = "~2e" + slug[1:]
    return slug or "~"


@dataclass
class CheckView:
    """A sanity check as a model page shows it: its name, verdict and details."""

    name: str
    passed: bool | None
    details: str


@dataclass
class ResultView:
    """One result file on a model page, with its threat, attack, package versions and checks as text."""

    path: str  # relative to the results folder
    result: EvaluationResult
    threat: str
    attack: str
    versions: str
    checks: list[CheckView]


@dataclass
class ModelPage:
    """Everything the site says about one model: its card, statuses, results, the paper's numbers, sweeps and flags."""

    model: str
    slug: str
    card: dict
    weights_source: str
    statuses: list[str]  # "verified", "measured", "reported", "random", "submitted", "flagged"
    results: list[ResultView] = field(default_factory=list)
    reported: list[ReportedScore] = field(default_factory=list)
    sweeps: list[tuple[str, str]] = field(default_factory=list)  # (caption, inline SVG)
    plot_files: list[str] = field(default_factory=list)  # PNG plots copied into SITE/plots/
    flags: list[str] = field(default_factory=list)  # why a submission was flagged
    submission_labels: list[str] = field(default_factory=list)  # e.g. "verified (subset, n=200)"
    conflicts: list[tuple[str, str, list[Claim]]] = field(default_factory=list)  # (table, column, every claim)
    galleries: list = field(default_factory=list)  # leaderboard/gallery.py's Gallery: saved adversarial examples

    @property
    def card_rows(self) -> list[tuple[str, str]]:
        """The card's filled fields as (label, text) rows, in CARD_FIELDS order."""
        rows = []
        for name in CARD_FIELDS:
            value = self.card.get(name)
            if value in (None, "", {}):
                continue
            if name == "parameters" and isinstance(value, (int, float)):
                shown = f"{value / 1e6:.1f}M"
            elif name == "preprocessing" and isinstance(value, dict):
                shown = str(value.get("description", value))
            else:
                shown = str(value)
            rows.append((name.replace("_", " "), shown))
        return rows


def _versions(result: EvaluationResult) -> str:
    environment = result.environment or {}
    versions = environment.get("versions") or {}
    text = ", ".join(f"{name} {version}" for name, version in versions.items())
    revision = environment.get("git_revision") or environment.get("git")
    device = environment.get("device")
    return "; ".join(part for part in (text, f"git {str(revision)[:10]}" if revision else "", str(device) if device else "") if part)


def _attack(result: EvaluationResult) -> str:
    attack = result.attack
    if attack is None:
        return "none (clean only)"
    return f"{attack.name}, {attack.n_iter} iterations, {attack.n_restarts} restart(s), seed {attack.seed}"


def _weights_source(card: dict) -> str:
    weights = card.get("weights")
    if isinstance(weights, dict):
        return str(
            weights.get("hub_id")
            or weights.get("url")
            or (f"pip:{weights['package']}" if weights.get("package") else "")
            or weights.get("note")
            or ""
        )
    return ""


def build_model_pages(
    tables: list[LeaderboardTable],
    results: list[tuple[Path, EvaluationResult]],
    results_dir: Path,
    reported: list[ReportedScore],
    sweeps: list[Sweep],
    plot_files: list[str],
) -> dict[str, ModelPage]:
    """One page per model that appears in any table or result."""
    pages: dict[str, ModelPage] = {}
    carded_by_result: set[str] = set()  # a result's own card beats the paper's stored description
    for table in tables:
        for row in table.every_row:
            page = pages.setdefault(row.model, ModelPage(row.model, model_slug(row.model), dict(row.card), "", []))
            if row.weights not in ("reported", "random") and (row.model not in carded_by_result or len(row.card) > len(page.card)):
                page.card = dict(row.card)
                carded_by_result.add(row.model)
            if row.status not in page.statuses:
                page.statuses.append(row.status)
            page.flags += [reason for reason in row.flag_reasons if reason not in page.flags]
            if row.submission_label and row.submission_label not in page.submission_labels:
                page.submission_labels.append(row.submission_label)
            page.conflicts += [
                (table.title, table.column_header(column), cell.disputed) for column, cell in row.cells.items() if cell.disputed
            ]
    for path, result in sorted(results, key=lambda item: (item[1].dataset, item[1].split or "", item[1].threat.label, item[1].created_at)):
        page = pages.setdefault(result.model, ModelPage(result.model, model_slug(result.model), dict(result.model_card or {}), "", []))
        try:
            shown = str(path.relative_to(results_dir))
        except ValueError:
            shown = str(path)
        checks = [CheckView(name, check.passed, check_details(check)) for name, check in result.checks.items()]
        page.results.append(ResultView(shown, result, result.threat.label, _attack(result), _versions(result), checks))
    for score in reported:
        if score.model in pages:
            pages[score.model].reported.append(score)
    for sweep in sweeps:
        if sweep.model in pages:
            page = pages[sweep.model]
            title = sweep.title + (" [random weights]" if sweep.weights == "random" else "")
            page.sweeps.append((title, sweep_svg(title, sweep.x_label, sweep.points, chart_id=f"sweep-{len(page.sweeps) + 1}")))
    for page in pages.values():
        page.weights_source = _weights_source(page.card)
        slug_stem = re.sub(r"[^A-Za-z0-9.+-]+", "-", page.model).strip("-")
        # `bench sweep` names its PNGs sweep__<model>__...; the site prefixes the folder they came from.
        page.plot_files = [name for name in plot_files if slug_stem and f"sweep__{slug_stem}__" in Path(name).name]
    return pages
