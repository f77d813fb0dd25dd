"""The leaderboard is a pure function of a results folder."""
from .collect import collect_results
from .render import build_site, render_html, render_markdown
from .tables import LeaderboardRow, LeaderboardTable, build_tables

__all__ = ["LeaderboardRow", "LeaderboardTable", "build_site", "build_tables", "collect_results", "render_html", "render_markdown"]
