"""Every leaderboard cell as one CSV row, for pandas and spreadsheets."""

from __future__ import annotations

from pathlib import Path

from .escape import csv_text
from .table_types import LeaderboardRow, LeaderboardTable

CSV_COLUMNS = [
    "dataset",
    "split",
    "protocol",
    "model",
    "status",
    "weights",
    "family",
    "backbone",
    "robust_training",
    "finetuning",
    "column",
    "value",
    "value_lo",
    "value_hi",
    "measured",
    "reported",
    "difference",
    "reported_in",
    "conflicting_reports",
    "n",
    "attack",
    "result_file",
    "section",
    "conflicting_results",
]


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.6g}"


def _section(row: LeaderboardRow) -> str:
    """Which list of its table a row is in: only `ranked` rows are ranked against each other."""
    return "random weights" if row.weights == "random" else "smoke" if row.smoke else "ranked"


def _relative(path: str | None, root: Path | None) -> str:
    """A result file as a path relative to the results folder (a CSV moved to another machine still means something)."""
    if not path:
        return ""
    if root is None:
        return path
    try:
        return Path(path).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:  # a submission's file, outside the results folder: kept as given
        return path


def render_csv(tables: list[LeaderboardTable], relative_to: str | Path | None = None) -> str:
    """Scores as fractions in [0, 1]; `value` is what the site shows (measured, else reported), `value_lo`/`value_hi`
    its 95% interval (a measured value only); cells escaped (escape.py).

    `result_file` paths are made relative to `relative_to` (the results folder) where they lie under it.
    """
    root = Path(relative_to) if relative_to is not None else None
    lines = []
    for table in tables:
        for row in table.every_row:
            for column in table.columns:
                cell = row.cells.get(column)
                if cell is None or cell.value is None:
                    continue
                lines.append(
                    [
                        table.dataset,
                        table.split or "",
                        table.protocol,
                        row.model,
                        row.status,
                        row.weights,
                        row.family,
                        row.card.get("backbone", ""),
                        row.card.get("robust_training", ""),
                        row.card.get("finetuning", ""),
                        column,
                        _number(cell.value),
                        _number(interval.low if (interval := cell.shown_interval) else None),
                        _number(interval.high if interval else None),
                        _number(cell.measured),
                        _number(cell.reported),
                        _number(cell.difference),
                        "; ".join(cell.reported_in),
                        "; ".join(f"{table_name}={value:.6g}" for table_name, value in cell.conflicts.items()),
                        cell.n if cell.n is not None else "",
                        cell.attack or "",
                        _relative(cell.result_file, root),
                        _section(row),
                        "; ".join(f"{_relative(claim.result_file, root)}={claim.value:.6g} (n={claim.n})" for claim in cell.disputed),
                    ]
                )
    return csv_text(CSV_COLUMNS, lines)
