"""Render the leaderboard: LEADERBOARD.md (tabulate), index.html and a page per model (jinja2, autoescaped), a CSV."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape
from tabulate import tabulate

from benchmark.gallery import GALLERY_SUFFIX
from benchmark.results import Scores
from benchmark.runtime.atomic import atomic_write_text
from benchmark.schema import is_link
from benchmark.statistics import Interval

from .collect import collect_results
from .csv_export import render_csv
from .escape import markdown_cell
from .families import family_group
from .frame import collect_entries
from .gallery import collect_galleries
from .model_pages import ModelPage, build_model_pages, model_slug
from .plots import ScatterPoint, scatter_svg
from .reported import load_paper_model_cards, load_reported
from .sweeps import find_sweeps
from .table_types import CLEAN, Cell, LeaderboardRow, LeaderboardTable
from .tables import build_tables

ASSETS_DIR = Path(__file__).resolve().parent / "assets"
ASSET_FILES = ("style.css", "leaderboard.js")


def robust_training_text(card: dict) -> str:
    """'FARE 4/255' on the site and in LEADERBOARD.md alike: the training with its radius, where the card gives one."""
    training, eps = card.get("robust_training", ""), card.get("robust_eps")
    return f"{training} {eps}" if training and eps else training


def _format(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def _with_interval(value: float | None, interval: Interval | None) -> str:
    """`74.3 ± 1.9`: the value and its interval's half-width in %; the value alone where it has no interval."""
    text = _format(value)
    return text if interval is None or value is None else f"{text} ± {100 * interval.half_width:.1f}"


def _format_with_interval(cell: Cell) -> str:
    """A table cell's value with the interval of the measured number (the paper's numbers have none)."""
    return _with_interval(cell.value, cell.shown_interval)


def _format_score(scores: Scores, kind: str) -> str:
    """A result's clean or robust score with its interval (model pages)."""
    return _with_interval(scores.score(kind), scores.intervals.get(kind))


def _format_difference(value: float | None) -> str:
    return "" if value is None else f"{100 * value:+.1f}"


def _markdown_cell(table: LeaderboardTable, row: LeaderboardRow, column: str) -> str:
    cell = row.cells.get(column) or Cell()
    text = _format_with_interval(cell)
    if cell.difference is not None:
        text += f" ({_format_difference(cell.difference)} vs paper)"
    text = f"**{text}**" if row.ranked and table.is_best(row, column) else text
    if column != CLEAN and cell.measured is not None and cell.attack_name:
        text += f" [{cell.attack_name}]"  # which attack the number comes from
    if cell.disputed:
        text += f" [conflict: {len(cell.disputed)} result files disagree]"
    return text


def _markdown_text(text: object) -> str:
    """Text from result files renders as text in GitHub Markdown too: no HTML, no stray pipes, no new rows."""
    return markdown_cell(text)


def _markdown_rows(table: LeaderboardTable, rows: list[LeaderboardRow]) -> list[list[str]]:
    return [
        [
            _markdown_text(text)
            for text in (
                row.model,
                row.submission_label or row.status,
                row.card.get("backbone", ""),
                robust_training_text(row.card),
                row.card.get("finetuning", ""),
            )
        ]
        + [_markdown_cell(table, row, column) for column in table.columns]
        for row in rows
    ]


def render_markdown(tables: list[LeaderboardTable]) -> str:
    """The tables as LEADERBOARD.md: readable on GitHub without the site."""
    lines = [
        "# perceptbench leaderboard",
        "",
        "Scores in %; a 2AFC column names its scoring rule (hard labels: accuracy against the human majority, as the paper; soft score: LPIPS's).",
        "Robust columns: the standard ensemble (APGD-CE, APGD-margin, Square) where it was run, else the strongest attack we ran",
        "at that radius; the attack is named in brackets.",
        "Status: `verified` = re-evaluated here and reported in the paper (difference shown), or a submission re-run here",
        "(full, or a subset of n samples); `measured` = ours only; `reported` = the paper's number, not re-evaluated;",
        "`submitted` = a submission's claim, not yet verified; `flagged` = verification or sanity checks failed (reasons",
        "on the model page). The best value in each column is in bold. `74.3 ± 1.9`: a measured score and the half-width",
        "of its 95% interval (Wilson for accuracies, a seeded bootstrap for soft scores, mean of split means and mAP;",
        "leaderboard.csv gives the exact bounds); a number without ± is the paper's, or from a file written before intervals.",
        "",
    ]
    for table in tables:
        headers = ["model", "status", "backbone", "robust training", "fine-tuning"]
        headers += [_markdown_text(table.column_header(column)) for column in table.columns]
        lines += [f"## {_markdown_text(table.title)}", ""]
        if table.rows:
            lines += [tabulate(_markdown_rows(table, table.rows), headers=headers, tablefmt="github", disable_numparse=True), ""]
        if table.unranked:
            lines += ["Random-weight smoke runs (not ranked, not real results):", ""]
            lines += [tabulate(_markdown_rows(table, table.unranked), headers=headers, tablefmt="github", disable_numparse=True), ""]
        if table.smoke:
            lines += ["Smoke submissions (demo only; not ranked beside full submissions):", ""]
            lines += [tabulate(_markdown_rows(table, table.smoke), headers=headers, tablefmt="github", disable_numparse=True), ""]
    return "\n".join(lines)


def table_scatter(table: LeaderboardTable) -> str:
    """Clean against the first robust column, one point per ranked model with both; '' when fewer than two have both."""
    if not table.threat_columns:
        return ""
    column = table.threat_columns[0]
    points = [
        ScatterPoint(row.model, clean, robust, row.status)
        for row in table.rows
        if (clean := row.clean) is not None and (robust := row.value(column)) is not None
    ]
    if len(points) < 2:
        return ""
    return scatter_svg(
        f"{table.title}: clean vs robust ({column})",
        table.column_header(CLEAN) + " (%)",
        "robust, " + table.column_header(column) + " (%)",
        points,
        chart_id=f"{table.anchor}-scatter",
    )


def _template_environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("leaderboard", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.globals.update(
        format=_format,
        format_with_interval=_format_with_interval,
        format_score=_format_score,
        format_difference=_format_difference,
        model_slug=model_slug,
        robust_training_text=robust_training_text,
        CLEAN=CLEAN,
        scatter=table_scatter,
        is_link=is_link,
    )
    return environment


def _families(tables: list[LeaderboardTable]) -> dict[str, list[str]]:
    """The card families on the site, under the kind of metric each is (the filter's option groups)."""
    grouped: dict[str, list[str]] = {}
    for family in sorted({row.family for table in tables for row in table.every_row}):
        grouped.setdefault(family_group(family), []).append(family)
    return dict(sorted(grouped.items()))


def render_html(tables: list[LeaderboardTable], generated_at: str | None = None, examples: dict | None = None) -> str:
    """The site's index page: every table, filterable by model family, and one adversarial example per model that has one."""
    return (
        _template_environment()
        .get_template("index.html.j2")
        .render(
            tables=tables,
            families=_families(tables),
            generated_at=generated_at or _now(),
            examples=examples or {},
        )
    )


def render_model_page(page: ModelPage, generated_at: str | None = None) -> str:
    """One model's page: card, results with their checks, the paper's numbers and sweeps."""
    return _template_environment().get_template("model.html.j2").render(page=page, generated_at=generated_at or _now())


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _card_lookup():
    """The stored card of a model the paper reports (rows with results carry their own card)."""
    return load_paper_model_cards().get


def _copy_plots(results_dir: Path, out_dir: Path) -> list[str]:
    """PNG plots written next to results (e.g. by sweeps) are copied to SITE/plots/ for the model pages."""
    copied = []
    for source in sorted(results_dir.rglob("*.png")):
        relative = source.relative_to(results_dir)
        if any(part.endswith(GALLERY_SUFFIX) for part in relative.parts[:-1]):
            continue  # adversarial examples go to SITE/gallery/ (leaderboard/gallery.py)
        name = "__".join(relative.parts)
        target = out_dir / "plots" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        copied.append(f"plots/{name}")
    return copied


def build_site(
    results_dir: str | Path,
    out_dir: str | Path,
    include_reported: bool = True,
    submissions_dir: str | Path | None = None,
    trusted_keys: Iterable[str | Path] = (),
) -> dict[str, Path]:
    """Write index.html, a page per model, LEADERBOARD.md, leaderboard.csv and assets; return the main paths.

    `submissions_dir` adds every submission folder under it (benchmark/submissions/submission.py) with its status;
    `trusted_keys` are public-key files whose signed verifications are believed (beside this machine's key).
    """
    results_dir, out_dir = Path(results_dir), Path(out_dir)
    results = collect_results(results_dir)
    submissions = [entry for entry in collect_entries(None, submissions_dir, trusted_keys)] if submissions_dir is not None else []
    reported = load_reported() if include_reported else []
    tables = build_tables(results, reported, _card_lookup(), submissions)
    generated_at = _now()
    for asset in ASSET_FILES:
        atomic_write_text(out_dir / "assets" / asset, (ASSETS_DIR / asset).read_text(encoding="utf-8"))
    plots = _copy_plots(results_dir, out_dir)
    pages = build_model_pages(
        tables, results + [(e.path, e.result) for e in submissions], results_dir, reported, find_sweeps(results), plots
    )
    galleries = collect_galleries(results + [(e.path, e.result) for e in submissions], out_dir)
    for model, model_galleries in galleries.items():
        if model in pages:
            pages[model].galleries = model_galleries
    for page in pages.values():
        atomic_write_text(out_dir / "models" / f"{page.slug}.html", render_model_page(page, generated_at))
    examples = {model: found[0].examples[0] for model, found in sorted(galleries.items()) if model in pages}
    return {
        "markdown": atomic_write_text(out_dir / "LEADERBOARD.md", render_markdown(tables)),
        "csv": atomic_write_text(out_dir / "leaderboard.csv", render_csv(tables, relative_to=results_dir)),
        "html": atomic_write_text(out_dir / "index.html", render_html(tables, generated_at, examples)),
        "model pages": out_dir / "models",
    }
