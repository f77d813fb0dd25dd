"""The leaderboard's table types: a cell (ours and the paper's number for one column), a row per model, a table per
dataset, split and protocol.

tables.py builds them from result files and ranks.py groups their rows by significance; both import these types, so
neither imports the other back (tests/test_layers.py).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from benchmark.results import PAPER_SCORING
from benchmark.statistics import Interval

CLEAN = "clean"
CERTIFIED = "certified"  # prefix of the certified columns, e.g. "certified (L2 0.5)" (`bench evaluate --certify`)


@dataclass(frozen=True)
class Claim:
    """One result file's number for a cell, kept where the files of that cell disagree."""

    result_file: str
    value: float
    n: int | None
    attack: str


@dataclass
class Cell:
    """One score of one model in one table: what we measured and what the paper reports, with where each comes from."""

    measured: float | None = None
    reported: float | None = None
    reported_in: list[str] = field(default_factory=list)  # paper tables that give this number
    conflicts: dict[str, float] = field(default_factory=dict)  # table -> a different number for the same cell
    result_file: str | None = None
    attack: str | None = None
    attack_name: str | None = None  # the attack the measured robust number comes from, e.g. "standard"
    n: int | None = None
    disputed: list[Claim] = field(default_factory=list)  # every claim of this cell, where result files disagree
    interval: Interval | None = None  # the measured number's 95% interval (None: a file written before intervals)

    @property
    def shown_interval(self) -> Interval | None:
        """The interval of what the cell shows: only a measured number has one (the paper gives none)."""
        return self.interval if self.measured is not None else None

    @property
    def value(self) -> float | None:
        """What the table shows and sorts by: our measurement when there is one, else the paper's number."""
        return self.measured if self.measured is not None else self.reported

    @property
    def difference(self) -> float | None:
        """Measured minus reported, where both exist."""
        if self.measured is None or self.reported is None:
            return None
        return self.measured - self.reported


@dataclass
class LeaderboardRow:
    """One model (or submission, or paper-only entry) in a table: its card, cells, sources and flags."""

    model: str
    card: dict
    weights: str  # pretrained | random | none | reported
    cells: dict[str, Cell] = field(default_factory=dict)  # column ("clean" or a threat label) -> cell
    sources: list[str] = field(default_factory=list)
    failed_checks: list[str] = field(default_factory=list)
    submission_status: str | None = None  # submitted | verified | flagged, for a submission's row
    submission_label: str = ""  # e.g. "verified (subset, n=200)"
    flag_reasons: list[str] = field(default_factory=list)
    smoke: bool = False  # a smoke submission (demo only): listed apart, never ranked beside full ones
    rank: int | None = None  # rank group (leaderboard/ranks.py): rows not significantly different share one

    @property
    def ranked(self) -> bool:
        """Whether this row competes for a rank: not a random-weight run, not a smoke submission."""
        return self.weights != "random" and not self.smoke

    @property
    def status(self) -> str:
        """verified, measured, reported, random, or a submission's status."""
        if self.submission_status:
            return self.submission_status
        if self.weights == "random":
            return "random"
        measured = any(cell.measured is not None for cell in self.cells.values())
        reported = any(cell.reported is not None for cell in self.cells.values())
        return "verified" if measured and reported else "measured" if measured else "reported"

    @property
    def family(self) -> str:
        """The model family from its card (clip, dino, classical, ...), 'other' when the card does not say."""
        return str(self.card.get("family") or "other")

    @property
    def clean(self) -> float | None:
        """The clean column's value."""
        cell = self.cells.get(CLEAN)
        return cell.value if cell else None

    @property
    def robust(self) -> dict[str, float]:
        """Every threat column's value, by column."""
        return {
            column: cell.value
            for column, cell in self.cells.items()
            if column != CLEAN and not column.startswith(CERTIFIED) and cell.value is not None
        }

    def value(self, column: str) -> float | None:
        """What the table shows in `column` (None for an empty cell)."""
        cell = self.cells.get(column)
        return cell.value if cell else None


@dataclass
class LeaderboardTable:
    """One table of the site: a dataset, split and scoring protocol, ranked rows and unranked smoke runs."""

    dataset: str
    split: str | None
    threat_columns: list[str]
    rows: list[LeaderboardRow]  # ranked entries, best first
    unranked: list[LeaderboardRow]  # random-weight smoke runs: shown, never ranked
    best: dict[str, float] = field(default_factory=dict)  # column -> best value among ranked rows
    protocol: str = ""  # how scores were computed, e.g. "hard labels" for 2AFC (never mixed in one table)
    smoke: list[LeaderboardRow] = field(default_factory=list)  # smoke submissions: shown apart, never ranked
    certified_columns: list[str] = field(default_factory=list)  # certified accuracy at an L2 radius, where it was computed
    rank_note: str = ""  # how the rank groups were decided (leaderboard/ranks.py), shown under the table

    @property
    def every_row(self) -> list[LeaderboardRow]:
        """Ranked rows, random-weight runs, then smoke submissions."""
        return self.rows + self.unranked + self.smoke

    @property
    def title(self) -> str:
        """Dataset, split and protocol, as the table's heading."""
        split = f" ({self.split})" if self.split and self.split != self.dataset else ""  # not "demo (demo)"
        return self.dataset + split + (f", {self.protocol}" if self.protocol else "")

    def column_header(self, column: str) -> str:
        """A score column's header, naming the protocol so no reader compares a soft score with an accuracy."""
        return f"{column} ({self.protocol})" if self.protocol else column

    @property
    def columns(self) -> list[str]:
        """The clean column, the threat columns, then the certified columns."""
        return [CLEAN] + self.threat_columns + self.certified_columns

    @property
    def anchor(self) -> str:
        """Stable link target: dataset and split, plus the protocol where it is not the paper's."""
        name = self.dataset + (f" {self.split}" if self.split else "")
        if self.protocol and self.protocol not in PAPER_SCORING.values():
            name += f" {self.protocol}"
        return "table-" + re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")

    def is_best(self, row: LeaderboardRow, column: str) -> bool:
        """Whether `row` holds the best ranked value of `column` (ties included)."""
        value = row.value(column)
        return value is not None and column in self.best and math.isclose(value, self.best[column], abs_tol=1e-9)
