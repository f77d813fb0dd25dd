"""The leaderboard is a pure function of a results folder and the numbers the paper reports."""

from .collect import collect_results
from .frame import collect_entries, load_results
from .render import build_site, render_html, render_markdown
from .reported import ReportedScore, load_reported
from .table_types import LeaderboardRow, LeaderboardTable
from .tables import build_tables

__all__ = [
    "LeaderboardRow",
    "LeaderboardTable",
    "ReportedScore",
    "build_site",
    "build_tables",
    "collect_entries",
    "collect_results",
    "load_reported",
    "load_results",
    "render_html",
    "render_markdown",
]
