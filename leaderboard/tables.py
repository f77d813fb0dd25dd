"""Leaderboard tables: one per dataset (and split), a row per model, a clean column and one column per threat.

A cell holds what we measured and what the paper reports. Rows are "verified" (both), "measured" (ours only) or
"reported" (paper only). Random-weight smoke runs are kept apart and never ranked or compared with the paper.
Submissions (benchmark/submissions/submission.py) are rows of their own: "submitted" (claimed, not verified), "verified" (re-run
here, in full or on a subset of n) or "flagged" (verification or sanity checks failed; the reasons are on the model
page). A robust cell shows the standard ensemble where it was run, else the strongest single attack, and names it.
Smoke submissions (`bench submit --smoke`, demo only) are listed apart, never ranked beside full ones.
Where several result files claim one cell and disagree in a way attack strength does not explain (another
sample count, or the same attack with another number), the cell is marked as a conflict and the model page
lists every claim: a hand-edited file cannot displace another silently.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from attacks.defaults import STANDARD
from attacks.threat import DEFAULT_EPS, NORMS, parse_eps, split_threat_label, threat_label
from benchmark.results import PAPER_SCORING, EvaluationResult, Scores
from benchmark.results import TWOAFC_SCORING_NAMES as TWOAFC_PROTOCOL_NAMES

from .checks import failed_checks
from .collect import SkippedResultWarning
from .ranks import assign_rank_groups
from .reported import ReportedScore
from .table_types import CERTIFIED, CLEAN, Cell, Claim, LeaderboardRow, LeaderboardTable

HEADLINE_THREATS = tuple(threat_label(norm, DEFAULT_EPS[norm]) for norm in NORMS)  # the paper's radii; others: model pages


def paper_protocol(dataset: str) -> str:
    """The scoring protocol the paper's numbers for `dataset` were computed under ("" where its task has one)."""
    return PAPER_SCORING.get(dataset, "")


def score_protocol(result: EvaluationResult) -> str:
    """The scoring protocol a result was computed under, as its task recorded it (`protocol["scoring"]`, any task).

    2AFC results written before that was recorded: from their `labels`; those written before protocols were
    recorded scored BAPPS and the demo with the soft score unless asked for binary labels; NIGHTS labels were always hard.
    """
    recorded = (result.protocol or {}).get("scoring")
    if isinstance(recorded, str):
        return recorded
    if result.task != "2afc":
        return ""
    labels = (result.protocol or {}).get("labels")
    if labels is None:
        option = (result.config.get("dataset_options") or {}).get("labels")
        labels = "hard" if option in ("binary", "hard") or result.dataset == "nights" else "soft"
    return TWOAFC_PROTOCOL_NAMES.get(labels, labels)


def threat_sort_key(threat: str) -> tuple[int, float, str]:
    """Columns in order: Linf before L2 (attacks/threat.py's NORMS), then by radius."""
    norm, eps = split_threat_label(threat)
    try:
        radius = float(parse_eps(eps))
    except (ValueError, TypeError):
        radius = math.inf
    return (NORMS.index(norm) if norm in NORMS else len(NORMS), radius, threat)


def canonical_split(result: EvaluationResult) -> str | None:
    """The split a result evaluated: as named, else the default the runner resolved and recorded.

    Read from the file alone (results written before the runner recorded it keep None), so a run
    with the default split lands in the same table as one that named it.
    """
    return result.split if result.split is not None else (result.protocol or {}).get("split")


def _score(result: EvaluationResult, key: str) -> float | None:
    """The clean or robust score of a result, None when it has none."""
    return result.scores.score(key)


def _attack_text(result: EvaluationResult) -> str:
    attack = result.attack
    if attack is None:
        return "no attack"
    if attack.name == STANDARD:
        return f"standard: APGD-CE {attack.n_iter} it, APGD-margin {attack.n_iter} it x 2, Square {attack.square_queries} queries"
    return f"{attack.name} {attack.n_iter} it x {attack.n_restarts}"


def _claim(path: Path, result: EvaluationResult, kind: str) -> Claim:
    return Claim(str(path), _score(result, kind) or 0.0, result.scores.n, _attack_text(result))


def _disputed(claims: list[tuple[Path, EvaluationResult]], chosen: EvaluationResult, kind: str) -> list[Claim]:
    """Every claim of a cell when one disagrees with the chosen result in a way attack strength does not explain.

    A weaker attack on the same samples rightly scores higher (the strongest wins, no conflict); another sample
    count, the same attack with another number, or (clean) any other number is a conflict.
    """
    value = _score(chosen, kind)
    disagreeing = [
        result
        for _, result in claims
        if (other := _score(result, kind)) is not None
        and value is not None
        and not math.isclose(other, value, abs_tol=1e-9)
        and (kind == CLEAN or result.scores.n != chosen.scores.n or result.attack == chosen.attack)
    ]
    if not disagreeing:
        return []
    return [_claim(path, result, kind) for path, result in claims if _score(result, kind) is not None]


def _measured_cells(results: list[tuple[Path, EvaluationResult]]) -> tuple[dict[str, Cell], list[str]]:
    """Per column: among the results with the most samples, the standard ensemble's robust score where it was run,
    else the lowest robust score (the strongest attack wins); claims that disagree otherwise mark the cell disputed."""
    cells: dict[str, Cell] = {}
    by_threat: dict[str, list[tuple[Path, EvaluationResult]]] = {}
    for path, result in results:
        if result.attack is not None:  # clean-only runs (`--attack none`) have no robust score
            by_threat.setdefault(result.threat.label, []).append((path, result))
    clean_choice = max(results, key=lambda item: (item[1].scores.n or 0, item[1].created_at))
    clean = _score(clean_choice[1], "clean")
    if clean is not None:
        cells[CLEAN] = Cell(
            measured=clean,
            result_file=str(clean_choice[0]),
            n=clean_choice[1].scores.n,
            disputed=_disputed(results, clean_choice[1], CLEAN),
            interval=clean_choice[1].scores.intervals.get(CLEAN),
        )
    for threat, group in by_threat.items():
        most = max(result.scores.n or 0 for _, result in group)
        candidates = [(path, result) for path, result in group if (result.scores.n or 0) == most and _score(result, "robust") is not None]
        if not candidates:
            continue
        standard = [(path, result) for path, result in candidates if result.attack is not None and result.attack.name == STANDARD]
        path, result = min(standard or candidates, key=lambda item: (_score(item[1], "robust"), item[1].created_at))
        cells[threat] = Cell(
            measured=_score(result, "robust"),
            result_file=str(path),
            attack=_attack_text(result),
            attack_name=result.attack.name if result.attack is not None else None,
            n=most,
            disputed=_disputed(group, result, "robust"),
            interval=result.scores.intervals.get("robust"),
        )
    cells.update(_certified_cells(results))
    return cells, [str(path) for path, _ in results]


def certified_column(radius_text: str) -> str:
    """The column of certified accuracy at an L2 radius."""
    return f"{CERTIFIED} (L2 {radius_text})"


def _certified_cells(results: list[tuple[Path, EvaluationResult]]) -> dict[str, Cell]:
    """Certified accuracy at each run's radius (`--certify`); per radius the result with the most certified samples, then the newest."""
    found: dict[str, tuple[Path, EvaluationResult]] = {}
    for path, result in results:
        certified = result.certified
        if certified is None or certified.at_run is None:
            continue
        column = certified_column(certified.at_run.eps_text)
        best = found.get(column)
        if best is None or (certified.n, result.created_at) > (best[1].certified.n, best[1].created_at):  # type: ignore[union-attr]
            found[column] = (path, result)
    cells = {}
    for column, (path, result) in found.items():
        certified = result.certified
        assert certified is not None and certified.at_run is not None
        covers = f", covering {certified.at_run.covers}" if certified.at_run.covers else ""
        cells[column] = Cell(
            measured=certified.at_run.accuracy,
            result_file=str(path),
            attack=f"{certified.method} certificate on {certified.n} samples{covers}",
            attack_name=certified.method,
            n=certified.n,
        )
    return cells


def expand_per_split(results: list[tuple[Path, EvaluationResult]]) -> list[tuple[Path, EvaluationResult]]:
    """A run over several splits (e.g. all of BAPPS) also fills each split's table from its `scores.per_split`."""
    expanded = list(results)
    for path, result in results:
        per_split = result.scores.per_split
        if len(per_split) < 2:
            continue
        for split, scores in per_split.items():
            if split != result.split:
                expanded.append((path, replace(result, split=split, scores=scores)))
    return expanded


def expand_retrieval_protocols(results: list[tuple[Path, EvaluationResult]]) -> list[tuple[Path, EvaluationResult]]:
    """A retrieval run (revisited Oxford/Paris) fills one table per protocol its scores record (medium, hard), as Table IX."""
    expanded = []
    for path, result in results:
        expanded.append((path, result))
        if result.task != "retrieval" or result.split is not None:
            continue
        for protocol, scores in result.scores.protocols.items():
            if scores.clean is not None:
                headline = Scores(clean=scores.clean, robust=scores.robust, n=result.scores.n, intervals=dict(scores.intervals))
                expanded.append((path, replace(result, split=protocol, scores=headline)))
    return expanded


def _headline_threats(dataset_rows: list[LeaderboardRow], reported_threats: set[str]) -> list[str]:
    """The paper's radii plus, for a norm with no such column, the radius most rows were measured at."""
    present: dict[str, int] = {}
    for row in dataset_rows:
        for threat in row.cells:
            if threat != CLEAN and not threat.startswith(CERTIFIED):
                present[threat] = present.get(threat, 0) + 1
    chosen = set(reported_threats) | {threat for threat in HEADLINE_THREATS if threat in present}
    for norm in sorted({threat.partition(" ")[0] for threat in present}):
        if not any(threat.partition(" ")[0] == norm for threat in chosen):
            chosen.add(max((t for t in present if t.partition(" ")[0] == norm), key=lambda t: (present[t], t)))
    return sorted(chosen, key=threat_sort_key)


def _card_for(model: str, card_lookup) -> dict:
    card = card_lookup(model) if card_lookup else None
    return dict(card) if card else {"name": model}


def build_tables(
    results: list[tuple[Path, EvaluationResult]],
    reported: Sequence[ReportedScore] = (),
    card_lookup: Callable[[str], dict | None] | None = None,
    submissions: Sequence[Any] = (),
) -> list[LeaderboardTable]:
    """Merge measured results, submissions (`frame.Entry` of a submission) and the paper's numbers into one table per (dataset, split)."""
    grouped: dict[tuple[str, str | None, str], dict[tuple[str, str, str], list[tuple[Path, EvaluationResult]]]] = {}
    standing = {str(entry.path): entry for entry in submissions}
    tagged = [(path, result, "results") for path, result in results] + [(e.path, e.result, e.source) for e in submissions]
    for path, result, source in tagged:
        for expanded_path, expanded in expand_retrieval_protocols(expand_per_split([(path, result)])):
            if _score(expanded, "clean") is None and _score(expanded, "robust") is None:
                warnings.warn(
                    f"skipping {expanded_path}: scores have neither a numeric 'clean' nor 'robust'", SkippedResultWarning, stacklevel=2
                )
                continue
            key = (expanded.dataset, canonical_split(expanded), score_protocol(expanded))
            grouped.setdefault(key, {}).setdefault((expanded.model, expanded.weights, source), []).append((expanded_path, expanded))

    tables: dict[tuple[str, str | None, str], dict[tuple[str, str, str], LeaderboardRow]] = {}
    for key, by_model in grouped.items():
        rows = tables.setdefault(key, {})
        for (model, weights, source), model_results in by_model.items():
            newest = max(model_results, key=lambda item: item[1].created_at)[1]
            cells, sources = _measured_cells(model_results)
            row = LeaderboardRow(
                model,
                dict(newest.model_card or {"name": model}),
                weights,
                cells,
                sources,
                sorted({name for _, result in model_results for name in failed_checks(result.checks)}),
            )
            entry = standing.get(str(model_results[0][0]))
            if entry is not None:
                row.submission_status, row.submission_label, row.flag_reasons = entry.status, entry.label, list(entry.reasons)
                row.smoke = bool(getattr(entry, "smoke", False))
            rows[(model, weights, source)] = row

    reported_threats: dict[tuple[str, str | None, str], set[str]] = {}
    for score in reported:
        if score.metric != "score":
            continue
        key = (score.dataset, score.split, paper_protocol(score.dataset))
        rows = tables.setdefault(key, {})
        if score.threat != CLEAN:
            reported_threats.setdefault(key, set()).add(score.threat)
        measured_key = next(((m, w, src) for (m, w, src) in rows if m == score.model and w != "random" and src == "results"), None)
        found = rows.get(measured_key) if measured_key else None
        row = (
            found
            if found is not None
            else rows.setdefault(
                (score.model, "reported", "paper"), LeaderboardRow(score.model, _card_for(score.model, card_lookup), "reported")
            )
        )
        cell = row.cells.setdefault(score.threat, Cell())
        if cell.reported is None:
            cell.reported, cell.reported_in = score.value, [score.table]
        elif math.isclose(cell.reported, score.value, abs_tol=1e-9):
            cell.reported_in.append(score.table)
        else:
            cell.conflicts[score.table] = score.value

    built = []
    for (dataset, split, protocol), rows in sorted(tables.items(), key=lambda item: (item[0][0], item[0][1] or "", item[0][2])):
        all_rows = list(rows.values())
        threats = _headline_threats(all_rows, reported_threats.get((dataset, split, protocol), set()))
        ranked = [row for row in all_rows if row.ranked]
        first = threats[0] if threats else CLEAN

        def rank_key(row: LeaderboardRow, first: str = first) -> tuple:
            primary, clean = row.value(first), row.clean
            return (primary is None, -(primary or 0.0), clean is None, -(clean or 0.0), row.model)

        ranked.sort(key=rank_key)
        unranked = sorted((row for row in all_rows if row.weights == "random"), key=lambda row: row.model)
        smoke = sorted((row for row in all_rows if row.smoke and row.weights != "random"), key=lambda row: row.model)
        certified = sorted(
            {column for row in all_rows for column in row.cells if column.startswith(CERTIFIED)},
            key=lambda column: threat_sort_key(threat_label("l2", column.removeprefix(f"{CERTIFIED} (L2 ").rstrip(")"))),
        )
        best = {}
        for column in [CLEAN] + threats + certified:
            values = [value for value in (row.value(column) for row in ranked) if value is not None]
            if len(values) >= 2:  # a lone number is no one's best: nothing to bold
                best[column] = max(values)
        table = LeaderboardTable(dataset, split, threats, ranked, unranked, best, protocol, smoke, certified)
        assign_rank_groups(table)
        built.append(table)
    # Tables with our own measurements come first; tables holding only the paper's numbers follow.
    built.sort(key=lambda table: not any(row.status != "reported" for row in table.every_row))
    return built
