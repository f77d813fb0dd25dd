"""Rank groups: a table's neighbours that are not significantly different share a rank (as Chatbot Arena ranks).

A row's rank is 1 + the number of rows significantly better in the table's ranking column (its first
robust column, else clean; rows without a number there follow, ranked by clean among themselves).
"Significantly better", at 95%: where both results have per-sample files on the same samples and their
outcomes are 0/1, McNemar's exact test on the samples only one gets right (benchmark/statistics.py),
since pairing removes the variance the two share; otherwise, non-overlapping intervals. A number without
an interval (the paper's, or a file written before intervals) counts as exact.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

from benchmark.results import ResultFormatError, read_outcomes, read_result
from benchmark.statistics import CONFIDENCE, mcnemar_exact_p, significance_ranks

from .table_types import CLEAN, Cell, LeaderboardRow, LeaderboardTable

Outcomes = dict[tuple[str, str], float]  # (split, sample id) -> 0/1 outcome


def _paired_outcomes(cell: Cell, column: str, split: str | None, cache: dict[str, list]) -> Outcomes | None:
    """The cell's per-sample 0/1 outcomes by sample, when its per-sample file gives exactly the number shown."""
    if cell.measured is None or cell.result_file is None:
        return None
    path = cell.result_file
    if path not in cache:
        try:
            read_result(path)  # a sidecar is read only beside a valid result
            cache[path] = read_outcomes(Path(path))
        except (OSError, KeyError, ValueError, ResultFormatError):
            cache[path] = []
    rows = cache[path]
    if len({str(o.split) for o in rows}) > 1:  # a run over several splits fills each split's table
        rows = [o for o in rows if str(o.split) == split]
    kind = "clean" if column == CLEAN else "robust"
    outcomes = {(str(o.split), str(o.sample_id if o.sample_id is not None else o.position)): o.score(kind) for o in rows}
    values = list(outcomes.values())
    if not values or len(values) != len(rows) or any(v not in (0.0, 1.0) for v in values):
        return None
    if not math.isclose(sum(values) / len(values), cell.measured, abs_tol=1e-9):
        return None
    return outcomes


def _bounds(cell: Cell) -> tuple[float, float]:
    interval, value = cell.shown_interval, cell.value
    assert value is not None
    return (interval.low, interval.high) if interval is not None else (value, value)


def _significance(
    table: LeaderboardTable, rows: dict[str, LeaderboardRow], column: str, tests: dict[str, int], cache: dict[str, list]
) -> Callable[[str, str], bool]:
    paired = {key: _paired_outcomes(row.cells[column], column, table.split, cache) for key, row in rows.items()}

    def better(a: str, b: str) -> bool:
        cell_a, cell_b = rows[a].cells[column], rows[b].cells[column]
        outcomes_a, outcomes_b = paired[a], paired[b]
        if outcomes_a is not None and outcomes_b is not None and outcomes_a.keys() == outcomes_b.keys():
            tests["mcnemar"] += 1
            a_only = sum(outcomes_a[k] > outcomes_b[k] for k in outcomes_a)
            b_only = sum(outcomes_b[k] > outcomes_a[k] for k in outcomes_a)
            return a_only > b_only and mcnemar_exact_p(a_only, b_only) < 1 - CONFIDENCE
        tests["overlap"] += 1
        return _bounds(cell_a)[0] > _bounds(cell_b)[1]

    return better


def assign_rank_groups(table: LeaderboardTable) -> None:
    """Set `row.rank` of every ranked row and `table.rank_note`, the footnote saying how ranks were decided."""
    column = table.threat_columns[0] if table.threat_columns else CLEAN
    tests = {"mcnemar": 0, "overlap": 0}
    cache: dict[str, list] = {}
    offset = 0
    for ranking_column in dict.fromkeys((column, CLEAN)):
        rows = {str(i): row for i, row in enumerate(table.rows) if row.rank is None and row.value(ranking_column) is not None}
        if not rows:
            continue
        ranks = significance_ranks(list(rows), _significance(table, rows, ranking_column, tests, cache))
        for key, rank in ranks.items():
            rows[key].rank = offset + rank
        offset += len(rows)
    for row in table.rows:  # no number in either column: after everything else, in table order
        if row.rank is None:
            row.rank = offset + 1
    comparisons = tests["mcnemar"] + tests["overlap"]
    if comparisons:
        table.rank_note = (
            f"Rank: 1 + the number of models significantly better (95%) in {table.column_header(column)}; models not "
            f"significantly different share a rank. Tested by McNemar's exact test on per-sample outcomes where two results "
            f"have per-sample files on the same samples ({tests['mcnemar']} of {comparisons} comparisons), else by "
            f"non-overlapping 95% intervals ({tests['overlap']}); a number without an interval (the paper's) counts as exact."
        )
