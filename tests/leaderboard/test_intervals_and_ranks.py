"""Intervals on the leaderboard (± in Markdown and HTML, _lo/_hi in the CSVs) and rank groups from known outcomes."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_leaderboard_fixtures import make_result

from benchmark.cli.bench import main
from benchmark.results import SampleOutcome, samples_path, write_result
from benchmark.runner import aggregate_scores
from benchmark.statistics import mcnemar_exact_p, wilson_interval
from benchmark.tasks.twoafc import TwoAFCTask
from leaderboard import build_site, build_tables, collect_results, load_results

N = 100


def _write(folder: Path, model: str, robust_correct: set[int], ids_from: int = 0) -> Path:
    """A hard-label NIGHTS result of N samples: every sample right clean, `robust_correct` right under attack."""
    outcomes = [
        SampleOutcome(1.0, float(i in robust_correct), True, label=0, position=i, sample_id=str(ids_from + i), split="test")
        for i in range(N)
    ]
    result = make_result(model, clean=1.0, robust=len(robust_correct) / N, n=N)
    return write_result(replace(result, scores=aggregate_scores(TwoAFCTask(), outcomes)), outcomes, folder)


@pytest.fixture
def pair(tmp_path):
    """A right on 60 samples under attack, B on 45 of those same samples: McNemar separates them (15 vs 0 discordant),
    their Wilson intervals overlap."""
    folder = tmp_path / "results"
    paths = {"model-a": _write(folder, "model-a", set(range(60))), "model-b": _write(folder, "model-b", set(range(45)))}
    low_a, _ = wilson_interval(60, N)
    _, high_b = wilson_interval(45, N)
    assert low_a < high_b and mcnemar_exact_p(15, 0) < 0.001  # what the test rests on
    return folder, paths


def _ranks(folder: Path) -> dict[str, int | None]:
    (table,) = build_tables(collect_results(folder))
    return {row.model: row.rank for row in table.rows}


def test_mcnemar_on_shared_samples_separates_what_overlapping_intervals_cannot(pair):
    folder, paths = pair
    assert _ranks(folder) == {"model-a": 1, "model-b": 2}
    for path in paths.values():  # without per-sample files only the intervals remain, and they overlap
        samples_path(path).unlink()
    assert _ranks(folder) == {"model-a": 1, "model-b": 1}


def test_other_samples_fall_back_to_interval_overlap(tmp_path):
    folder = tmp_path / "results"
    _write(folder, "model-a", set(range(60)))
    _write(folder, "model-b", set(range(45)), ids_from=1000)  # not the same samples: no pairing
    _write(folder, "model-c", set(range(20)), ids_from=2000)  # far below both: its interval is separate
    assert _ranks(folder) == {"model-a": 1, "model-b": 1, "model-c": 3}


def test_site_markdown_and_csv_show_intervals_and_say_how_ranks_were_made(pair, tmp_path):
    folder, _ = pair
    written = build_site(folder, tmp_path / "site", include_reported=False)
    low, high = wilson_interval(60, N)
    shown = f"60.0 ± {100 * (high - low) / 2:.1f}"
    assert shown in written["markdown"].read_text()
    html = written["html"].read_text()
    assert shown in html and "McNemar" in html and "(2 of 2 comparisons)" in html
    assert 'data-model="model-b">\n<td class="rank" data-value="2">2</td>' in html
    assert shown in (written["model pages"] / "model-a.html").read_text()  # the model page's results too
    rows = list(csv.DictReader(io.StringIO(written["csv"].read_text())))
    cell = next(r for r in rows if r["model"] == "model-a" and r["column"] == "linf 4/255")
    assert float(cell["value_lo"]) == pytest.approx(low, abs=1e-6) and float(cell["value_hi"]) == pytest.approx(high, abs=1e-6)


def test_dataframe_and_bench_results_carry_lo_and_hi(pair):
    folder, _ = pair
    frame = load_results(folder)
    row = frame[frame["model"] == "model-b"].iloc[0]
    assert (row["robust_lo"], row["robust_hi"]) == pytest.approx(wilson_interval(45, N))
    assert row["clean_lo"] < row["clean"] == 1.0 == row["clean_hi"]
    runner = CliRunner()
    as_csv = runner.invoke(main, ["results", "--results", str(folder), "--format", "csv"])
    assert as_csv.exit_code == 0 and "robust_lo,robust_hi" in as_csv.output.splitlines()[0]
    as_json = json.loads(runner.invoke(main, ["results", "--results", str(folder), "--format", "json"]).output)
    assert as_json[0]["robust_lo"] == pytest.approx(row["robust_lo"] if as_json[0]["model"] == "model-b" else wilson_interval(60, N)[0])


def test_a_file_without_intervals_shows_the_point_estimate_only(tmp_path):
    folder = tmp_path / "results"
    write_result(make_result("old-model", clean=0.9, robust=0.5), [], folder)
    written = build_site(folder, tmp_path / "site", include_reported=False)
    markdown = written["markdown"].read_text()
    assert "| 90.0 " in markdown.replace("**", "") and "90.0 ±" not in markdown
    frame = load_results(folder)
    assert frame["robust_lo"].isna().all() and frame["robust"].iloc[0] == 0.5
