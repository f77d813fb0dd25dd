"""Charts from leaderboard/plots.py: sweep SVG and PNG, the index page's clean-vs-robust scatter; valid, one tooltip per
point, identical bytes on a rebuild, nothing fetched from outside the page."""

import re
import warnings
import xml.etree.ElementTree as ElementTree
from html import unescape

import pytest
from test_leaderboard import column, leaderboard_table, parse
from test_leaderboard_fixtures import INJECTED_NAME, write_fixture_results

from leaderboard import build_site
from leaderboard.plots import ScatterPoint, scatter_svg, sweep_png, sweep_svg

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SVG = "{http://www.w3.org/2000/svg}"
SWEEP = [(0.0, 0.9, 0.9), (1.0, 0.6, 0.9), (2.0, 0.3, None), (8.0, 0.0, 0.9)]


def tooltips(svg: str) -> list[str]:
    return [unescape(text) for text in re.findall(r"<title>(.*?)</title>", svg)]


def assert_self_contained(svg: str) -> None:
    """Only in-document references (#id); the namespace URIs are names, never fetched."""
    root = ElementTree.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    for element in root.iter():
        for name, value in element.attrib.items():
            if name.endswith("href"):
                assert value.startswith("#"), f"external reference {value}"
    assert all(target.startswith("#") for target in re.findall(r"url\(([^)]*)\)", svg))
    assert "<image" not in svg and "@import" not in svg and "<!DOCTYPE" not in svg and "<?xml" not in svg


def test_sweep_svg_is_valid_inline_svg_with_a_tooltip_per_point_and_identical_on_repeat():
    svg = sweep_svg("nights (test): robust score vs radius", "eps (x/255)", SWEEP, chart_id="sweep-1")
    assert_self_contained(svg)
    assert svg.startswith('<svg class="sweep-plot"')
    assert tooltips(svg) == ["0: robust 90.0%", "1: robust 60.0%", "2: robust 30.0%", "8: robust 0.0%"]
    assert svg == sweep_svg("nights (test): robust score vs radius", "eps (x/255)", SWEEP, chart_id="sweep-1")
    other = sweep_svg("nights (test): robust score vs radius", "eps (x/255)", SWEEP, chart_id="sweep-2")

    def ids(text):
        return set(re.findall(r'id="([^"]+)"', text))

    assert not ids(svg) & ids(other)  # two charts on one page never share an id


def test_sweep_png_is_a_png_and_identical_on_repeat():
    png = sweep_png("ssim on demo: apgd-ce, 5 iterations", "linf eps (x/255)", SWEEP)
    assert png.startswith(PNG_MAGIC) and len(png) > 5_000
    assert png == sweep_png("ssim on demo: apgd-ce, 5 iterations", "linf eps (x/255)", SWEEP)


def test_scatter_has_a_point_per_model_a_legend_per_status_and_escapes_names():
    points = [
        ScatterPoint("ssim", 0.8, 0.4, "measured"),
        ScatterPoint(INJECTED_NAME, 0.95, 0.9, "verified"),
        ScatterPoint("lpips-$x$", 0.7, 0.1, "reported"),
        ScatterPoint("flagged-one", 0.6, 0.5, "flagged"),
    ]
    svg = scatter_svg("demo: clean vs robust", "clean (%)", "robust, linf 4/255 (%)", points, chart_id="table-demo-scatter")
    assert_self_contained(svg)
    assert [t.split(" (")[0] for t in tooltips(svg)] == [p.label for p in points]
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    text = " ".join(unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg))
    for label in ("measured", "verified", "reported", "flagged", "clean (%)", "robust, linf 4/255 (%)", "lpips-$x$"):
        assert label in text  # legend, axis labels, names beside the few points (no mathtext)
    assert "submitted" not in text  # the legend lists only the statuses present
    with pytest.raises(ValueError, match="no marker for status \\['random'\\]"):
        scatter_svg("t", "x", "y", [ScatterPoint("a", 0.1, 0.1, "random")], chart_id="c")
    with pytest.raises(ValueError, match="has no points"):
        scatter_svg("t", "x", "y", [], chart_id="c")


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory):
    root = tmp_path_factory.mktemp("plots-site")
    write_fixture_results(root / "results")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        build_site(root / "results", root / "first")
        build_site(root / "results", root / "second")
    return root / "first", root / "second"


def charts(html: str, css_class: str) -> list[str]:
    return re.findall(rf'<svg class="{css_class}".*?</svg>', html, flags=re.S)


def section(html: str, anchor: str) -> str:
    return re.search(rf'<section id="{anchor}">.*?</section>', html, flags=re.S).group(0)


def test_index_has_a_scatter_for_each_table_with_two_models_and_only_those(two_builds):
    html = (two_builds[0] / "index.html").read_text(encoding="utf-8")
    nights = section(html, "table-nights-test")
    [scatter] = charts(nights, "scatter-plot")
    assert_self_contained(scatter)
    # One point per ranked row with a clean and a first-robust (linf 4/255) value.
    table = leaderboard_table(parse(two_builds[0] / "index.html"), "nights (test), hard labels")
    clean, robust = column(table, "clean"), column(table, "linf 4/255")
    expected = {
        row["attrs"]["data-model"]
        for row in table["rows"]
        if row["section"] == "ranked" and row["cells"][clean]["attrs"]["data-value"] and row["cells"][robust]["attrs"]["data-value"]
    }
    named = [t.split(" (")[0] for t in tooltips(scatter)]
    assert len(named) == len(expected) > 40 and set(named) == expected
    assert INJECTED_NAME in named and "<script>alert" not in scatter
    assert charts(section(html, "table-demo-demo"), "scatter-plot") == []  # one model only: no scatter
    assert len(charts(html, "scatter-plot")) == html.count('<figure class="scatter">')


def test_charts_are_identical_across_two_builds(two_builds):
    first, second = two_builds
    assert charts((first / "index.html").read_text(), "scatter-plot") == charts((second / "index.html").read_text(), "scatter-plot")
    page = "models/r-clip-f-convnext.html"
    sweeps = charts((first / page).read_text(), "sweep-plot")
    assert len(sweeps) == 2 and sweeps == charts((second / page).read_text(), "sweep-plot")
