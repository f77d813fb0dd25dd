"""A small inline SVG line chart, so sweep plots need no plotting library and no external assets."""
from __future__ import annotations

from html import escape

WIDTH, HEIGHT = 420, 260
LEFT, RIGHT, TOP, BOTTOM = 52, 16, 12, 44


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    if high <= low:
        return [low]
    step = (high - low) / (count - 1)
    return [low + i * step for i in range(count)]


def _number(value: float) -> str:
    return f"{value:g}" if abs(value) >= 0.01 or value == 0 else f"{value:.2g}"


def line_chart_svg(title: str, x_label: str, points: list[tuple[float, float]], y_label: str = "robust score (%)") -> str:
    """Points are (x, score in [0, 1]); the y axis always spans 0-100 % so charts compare at a glance."""
    if not points:
        raise ValueError("line_chart_svg needs at least one point")
    xs = [x for x, _ in points]
    x_low, x_high = min(xs), max(xs)
    span = (x_high - x_low) or 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(x: float) -> float:
        return LEFT + (x - x_low) / span * plot_w

    def py(score: float) -> float:
        return TOP + (1.0 - max(0.0, min(1.0, score))) * plot_h

    parts = [
        f'<svg class="sweep-plot" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="#fafafa" stroke="#ccc"/>',
    ]
    for percent in (0, 25, 50, 75, 100):
        y = py(percent / 100)
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + plot_w}" y2="{y:.1f}" stroke="#e4e4e4"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{percent}</text>')
    for tick in sorted(set(xs)) if len(set(xs)) <= 8 else _ticks(x_low, x_high):
        x = px(tick)
        parts.append(f'<line x1="{x:.1f}" y1="{TOP + plot_h}" x2="{x:.1f}" y2="{TOP + plot_h + 4}" stroke="#888"/>')
        parts.append(f'<text x="{x:.1f}" y="{TOP + plot_h + 16}" text-anchor="middle" font-size="11">{_number(tick)}</text>')
    coordinates = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in points)
    parts.append(f'<polyline points="{coordinates}" fill="none" stroke="#1f5fbf" stroke-width="2"/>')
    for x, y in points:
        parts.append(
            f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3.5" fill="#1f5fbf">'
            f"<title>{escape(_number(x))}: {100 * y:.1f}%</title></circle>"
        )
    parts.append(f'<text x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 8}" text-anchor="middle" font-size="12">{escape(x_label)}</text>')
    parts.append(
        f'<text x="14" y="{TOP + plot_h / 2:.1f}" text-anchor="middle" font-size="12" '
        f'transform="rotate(-90 14 {TOP + plot_h / 2:.1f})">{escape(y_label)}</text>'
    )
    parts.append("</svg>")
    return "\n".join(parts)
