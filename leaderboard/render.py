"""Render leaderboard tables as Markdown (tabulate) and a static HTML page (jinja2, autoescaped)."""
from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape
from tabulate import tabulate

from benchmark.atomic import atomic_write_text

from .collect import collect_results
from .tables import LeaderboardTable, build_tables


def _format(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def _markdown_rows(table: LeaderboardTable, rows) -> list[list[str]]:
    return [
        [row.model, row.card.get("backbone", ""), row.card.get("robust_training", ""), _format(row.clean)]
        + [_format(row.robust.get(t)) for t in table.threat_columns]
        for row in rows
    ]


def render_markdown(tables: list[LeaderboardTable]) -> str:
    lines = ["# perceptbench leaderboard", "", "Scores in % (2AFC score for 2AFC datasets). Robust columns: APGD at the given radius.", ""]
    for table in tables:
        headers = ["model", "backbone", "robust training", "clean"] + table.threat_columns
        lines += [f"## {table.title}", ""]
        if table.rows:
            lines += [tabulate(_markdown_rows(table, table.rows), headers=headers, tablefmt="github"), ""]
        if table.unranked:
            lines += ["Random-weight smoke runs (not ranked, not real results):", ""]
            lines += [tabulate(_markdown_rows(table, table.unranked), headers=headers, tablefmt="github"), ""]
    return "\n".join(lines)


def render_html(tables: list[LeaderboardTable]) -> str:
    environment = Environment(loader=PackageLoader("leaderboard", "templates"), autoescape=select_autoescape(["html", "j2"]))
    return environment.get_template("index.html.j2").render(tables=tables, format=_format)


def build_site(results_dir: str | Path, out_dir: str | Path) -> dict[str, Path]:
    """Write LEADERBOARD.md and index.html for a results folder; return their paths."""
    out_dir = Path(out_dir)
    tables = build_tables(collect_results(results_dir))
    return {
        "markdown": atomic_write_text(out_dir / "LEADERBOARD.md", render_markdown(tables)),
        "html": atomic_write_text(out_dir / "index.html", render_html(tables)),
    }
