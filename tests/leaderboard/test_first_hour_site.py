"""The site as a new user reads it (issue 24): no bold lone score, a legend for every mark, one robust-training text,
no "demo (demo)" heading, result paths relative to the results folder, readable stable page names, a scatter axis
that shows points at 100 inside the plot."""

from __future__ import annotations

import csv
import io

import pytest

from leaderboard import build_site
from leaderboard.model_pages import model_slug
from leaderboard.plots import _limits
from leaderboard.render import robust_training_text


@pytest.fixture(scope="module")
def one_result_site(tmp_path_factory, isolated_cache):
    import benchmark

    root = tmp_path_factory.mktemp("site")
    benchmark.evaluate("pixel-l2", dataset="demo", attack="apgd-ce", n_ex=4, n_iter=2, output_dir=root / "results")
    build_site(root / "results", root / "site", include_reported=False)
    return root


def test_a_lone_score_is_not_bolded_and_the_heading_names_the_demo_once(one_result_site):
    index = (one_result_site / "site" / "index.html").read_text()
    assert 'class="score best' not in index
    assert "demo (demo)" not in index and "<h2>demo, hard labels</h2>" in index
    assert "**" not in (one_result_site / "site" / "LEADERBOARD.md").read_text()


def test_the_legend_explains_every_mark_the_cells_use(one_result_site):
    index = (one_result_site / "site" / "index.html").read_text()
    legend = index.split('<dl class="legend"', 1)[1].split("</dl>", 1)[0]
    for mark in ('class="conflict">!<', 'class="diff up"', 'class="attack-name"', 'class="claim-conflict"', "badge-failed", "smoke"):
        assert mark in legend, mark


def test_leaderboard_csv_stores_result_files_relative_to_the_results_folder(one_result_site):
    rows = list(csv.DictReader(io.StringIO((one_result_site / "site" / "leaderboard.csv").read_text())))
    assert rows and all(row["result_file"].startswith("demo/pixel-l2__demo__") for row in rows), rows[0]["result_file"]
    assert (one_result_site / "results" / rows[0]["result_file"]).is_file()


def test_robust_training_reads_the_same_everywhere():
    assert robust_training_text({"robust_training": "FARE", "robust_eps": "4/255"}) == "FARE 4/255"
    assert robust_training_text({"robust_training": "none"}) == "none"


def test_model_pages_have_readable_stable_names_one_per_model():
    assert model_slug("r-clip-f-convnext") == "r-clip-f-convnext"
    assert model_slug("acme_metrics:mean_absolute") == "acme_metrics~3amean_absolute"  # no hash: the same on every build
    names = ["a/b", "a-b", "a b", "a~2fb", "..", ".hidden", "é"]
    slugs = [model_slug(name) for name in names]
    assert len(set(slugs)) == len(names) and not any(slug.startswith(".") or "/" in slug for slug in slugs)


def test_the_scatter_axis_keeps_points_at_the_bounds_inside_the_plot():
    low, high = _limits([100.0, 100.0, 99.5])
    assert high > 100 and high - low >= 10
    low, high = _limits([0.0, 0.4])
    assert low < 0 and high - low >= 10
    assert _limits([40.0, 60.0]) == pytest.approx((38.0, 62.0))
