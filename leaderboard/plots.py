"""Every chart the benchmark draws: sweep line charts (PNG next to sweep results, inline SVG on model pages) and the
clean-vs-robust scatter on the index page.

matplotlib's object API (`Figure`, no pyplot state). SVG output is made to inline into a page that opens from disk:
no XML prolog or DOCTYPE, no metadata (no date), text kept as text, ids from a fixed salt per chart, so a rebuild
gives identical bytes; each point carries a <title> tooltip naming it.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from html import escape
from typing import Any

import matplotlib
from matplotlib.figure import Figure

STATUS_MARKERS = {  # status -> (marker, colour); statuses are LeaderboardRow.status values of ranked rows
    "verified": ("o", "#1a7f37"),
    "measured": ("s", "#1f5fbf"),
    "reported": ("^", "#8a8a8a"),
    "submitted": ("D", "#d97706"),
    "flagged": ("X", "#c62828"),
}
LABELLED_POINTS = 12  # up to this many points are also labelled with their names; more get only tooltips
_STYLE: dict[Any, Any] = {  # matplotlib's stubs want literal rc keys
    "font.size": 9,
    "svg.fonttype": "none",
    "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica"],
    "axes.spines.top": False,
    "axes.spines.right": False,
}


@dataclass
class ScatterPoint:
    """One model in a clean-against-robust scatter plot."""

    label: str  # the model's name
    x: float  # score in [0, 1]
    y: float
    status: str


def _percent(value: float) -> str:
    return f"{100 * value:.1f}%"


def _number(value: float) -> str:
    return f"{value:g}" if abs(value) >= 0.01 or value == 0 else f"{value:.2g}"


def _save(figure: Figure, fmt: str, salt: str) -> bytes:
    buffer = io.BytesIO()
    metadata = {"Software": None} if fmt == "png" else {"Creator": None, "Date": None, "Format": None, "Type": None}
    with matplotlib.rc_context({**_STYLE, "svg.hashsalt": salt}):
        figure.savefig(buffer, format=fmt, dpi=100, metadata=metadata)
    return buffer.getvalue()


def _inline_svg(figure: Figure, css_class: str, title: str, chart_id: str, tooltips: dict[str, str]) -> str:
    """The <svg> element alone, labelled for screen readers, with a <title> inside each point's group."""
    text = _save(figure, "svg", chart_id).decode("utf-8")
    text = text[text.index("<svg") :]
    text = text.replace("<svg ", f'<svg class="{css_class}" role="img" aria-label="{escape(title)}" ', 1)
    # matplotlib names every group (figure_1, axes_1, ...); two charts on a page would repeat those ids, and nothing
    # refers to them, so only the points' groups keep theirs, with a tooltip.
    text = re.sub(r'<g id="([^"]*)">', lambda match: _group(match.group(1), tooltips), text)
    return re.sub(r"\n\s+", "\n", text).strip()  # indentation only: no text content spans lines


MIN_SPAN = 10.0  # percentage points: points that all score 100 still get an axis, not a 98-100 sliver
EDGE = 1.0  # the axis runs 1 point past 0 and 100, so a score of 100 sits inside the plot, not on its frame


def _limits(values: list[float]) -> tuple[float, float]:
    """Axis limits in % around the scores, with a margin, at least MIN_SPAN wide, within -EDGE to 100 + EDGE."""
    low, high = min(values), max(values)
    margin = max(2.0, 0.08 * (high - low))
    span = max(MIN_SPAN, high - low + 2 * margin)
    centre = (low + high) / 2
    lower, upper = centre - span / 2, centre + span / 2
    if upper > 100 + EDGE:
        lower, upper = lower - (upper - 100 - EDGE), 100 + EDGE
    if lower < -EDGE:
        lower, upper = -EDGE, min(100 + EDGE, upper + (-EDGE - lower))
    return lower, upper


def _group(gid: str, tooltips: dict[str, str]) -> str:
    return f'<g id="{gid}">\n<title>{escape(tooltips[gid])}</title>' if gid in tooltips else "<g>"


def _point(ax, x: float, y: float, gid: str, **style) -> None:
    """One point as its own artist, so the SVG has a group per point to hold its tooltip."""
    ax.plot([x], [y], linestyle="none", gid=gid, clip_on=False, **style)  # a point on the 0 or 100 line shows whole


def _sweep_figure(
    title: str, x_label: str, points: list[tuple[float, float, float | None]], chart_id: str, draw_title: bool
) -> tuple[Figure, dict[str, str]]:
    if not points:
        raise ValueError(f"sweep chart '{title}' has no points; a sweep needs at least one evaluated value")
    with matplotlib.rc_context(_STYLE):
        figure = Figure(figsize=(4.4, 3.0))
        ax = figure.add_subplot()
        xs = [x for x, _, _ in points]
        clean = [(x, c) for x, _, c in points if c is not None]
        if clean:
            ax.plot([x for x, _ in clean], [100 * c for _, c in clean], linestyle="--", color="grey", label="clean")
        ax.plot(xs, [100 * r for _, r, _ in points], color="#1f5fbf", label="robust")
        tooltips = {}
        for index, (x, robust, _) in enumerate(points):
            gid = f"{chart_id}-point-{index}"
            _point(ax, x, 100 * robust, gid, marker="o", markersize=5, color="#1f5fbf")
            tooltips[gid] = f"{_number(x)}: robust {_percent(robust)}"
        if len(set(xs)) <= 8:
            ax.set_xticks(sorted(set(xs)), [_number(x) for x in sorted(set(xs))])
        ax.set_xlabel(x_label)
        ax.set_ylabel("score (%)")
        ax.set_ylim(0, 100)
        if draw_title:
            ax.set_title(title, fontsize=7, parse_math=False)
        ax.legend(loc="best", frameon=False)
        ax.grid(alpha=0.3)
        figure.tight_layout()
    return figure, tooltips


def sweep_svg(title: str, x_label: str, points: list[tuple[float, float, float | None]], chart_id: str = "sweep") -> str:
    """Robust (and, where known, clean) score against the swept value: points are (x, robust, clean or None), scores in
    [0, 1]; the y axis spans 0-100 % so charts compare at a glance. `chart_id` keeps ids unique within a page."""
    figure, tooltips = _sweep_figure(title, x_label, points, chart_id, draw_title=False)  # the page captions it
    return _inline_svg(figure, "sweep-plot", title, chart_id, tooltips)


def sweep_png(title: str, x_label: str, points: list[tuple[float, float, float | None]]) -> bytes:
    """The same chart as `sweep_svg`, as PNG bytes."""
    figure, _ = _sweep_figure(title, x_label, points, "sweep", draw_title=True)
    return _save(figure, "png", "sweep")


def scatter_svg(title: str, x_label: str, y_label: str, points: list[ScatterPoint], chart_id: str) -> str:
    """Clean (x) against robust (y) score, one point per model, marker and colour by status, a tooltip per point
    (and a name beside each point when there are few). `title` labels the SVG for screen readers; the page captions it."""
    if not points:
        raise ValueError(f"scatter '{title}' has no points; it needs models with both a clean and a robust score")
    unknown = sorted({point.status for point in points} - set(STATUS_MARKERS))
    if unknown:
        raise ValueError(f"scatter '{title}': no marker for status {unknown}; known: {', '.join(STATUS_MARKERS)}")
    with matplotlib.rc_context(_STYLE):
        figure = Figure(figsize=(4.4, 3.2))
        ax = figure.add_subplot()
        xs, ys = [100 * point.x for point in points], [100 * point.y for point in points]
        (x_low, x_high), (y_low, y_high) = _limits(xs), _limits(ys)
        diagonal = (max(x_low, y_low), min(x_high, y_high))
        if diagonal[0] < diagonal[1]:  # the line robust = clean crosses the plot
            ax.plot(diagonal, diagonal, linestyle=":", color="#999999", linewidth=1, label="robust = clean")
        tooltips = {}
        for index, point in enumerate(points):
            marker, colour = STATUS_MARKERS[point.status]
            gid = f"{chart_id}-point-{index}"
            _point(
                ax,
                xs[index],
                ys[index],
                gid,
                marker=marker,
                markersize=6,
                color=colour,
                alpha=0.85,
                markeredgecolor="white",
                markeredgewidth=0.5,
            )
            tooltips[gid] = f"{point.label} ({point.status}): clean {_percent(point.x)}, robust {_percent(point.y)}"
            if len(points) <= LABELLED_POINTS:
                ax.annotate(point.label, (xs[index], ys[index]), xytext=(4, 3), textcoords="offset points", fontsize=7, parse_math=False)
        for status, (marker, colour) in STATUS_MARKERS.items():
            if any(point.status == status for point in points):
                ax.plot([], [], linestyle="none", marker=marker, color=colour, label=status)
        ax.set_xlim(x_low, x_high)
        ax.set_ylim(y_low, y_high)
        ax.set_xlabel(x_label, parse_math=False)
        ax.set_ylabel(y_label, parse_math=False)
        ax.legend(loc="best", fontsize=7, framealpha=0.8)
        ax.grid(alpha=0.3)
        figure.tight_layout()
    return _inline_svg(figure, "scatter-plot", title, chart_id, tooltips)
