"""Leaderboard tables: one per dataset (and split), a row per model, clean and robust columns."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from benchmark.results import EvaluationResult


@dataclass
class LeaderboardRow:
    model: str
    card: dict
    weights: str
    clean: float | None = None
    robust: dict[str, float] = field(default_factory=dict)  # threat label -> robust score
    sources: list[str] = field(default_factory=list)


@dataclass
class LeaderboardTable:
    dataset: str
    split: str | None
    threat_columns: list[str]
    rows: list[LeaderboardRow]  # ranked entries, best first
    unranked: list[LeaderboardRow]  # random-weight smoke runs: shown, never ranked

    @property
    def title(self) -> str:
        return self.dataset + (f" ({self.split})" if self.split else "")


def threat_label(result: EvaluationResult) -> str:
    return f"{result.threat['norm']} {result.threat['eps_text']}"


def _sort_key(threat: str) -> tuple[int, float]:
    norm, _, eps = threat.partition(" ")
    from attacks.threat import parse_eps

    return (0 if norm == "linf" else 1, parse_eps(eps))


def build_tables(results: list[tuple[Path, EvaluationResult]]) -> list[LeaderboardTable]:
    groups: dict[tuple[str, str | None], dict[tuple[str, str], LeaderboardRow]] = {}
    for path, result in sorted(results, key=lambda item: item[1].created_at):
        rows = groups.setdefault((result.dataset, result.split), {})
        row = rows.setdefault((result.model, result.weights), LeaderboardRow(result.model, result.model_card, result.weights))
        row.clean = result.scores["clean"]  # the newest result wins
        if result.attack is not None:  # clean-only runs (`--attack none`) have no robust score
            row.robust[threat_label(result)] = result.scores["robust"]
        row.sources.append(str(path))
    tables = []
    for (dataset, split), rows in sorted(groups.items(), key=lambda item: (item[0][0], item[0][1] or "")):
        threats = sorted({t for row in rows.values() for t in row.robust}, key=_sort_key)
        ranked = [row for row in rows.values() if row.weights != "random"]
        ranked.sort(key=lambda row: (-(row.robust.get(threats[0], -1.0) if threats else 0.0), -(row.clean or 0.0)))
        unranked = [row for row in rows.values() if row.weights == "random"]
        tables.append(LeaderboardTable(dataset, split, threats, ranked, unranked))
    return tables
