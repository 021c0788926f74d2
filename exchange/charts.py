"""Small inline SVG charts for the operator's pages: no JavaScript library, no CDN.

    bar_chart([("deposits", [1, 0, 3], "#3b82f6")], labels=["00", "01", "02"])

Each returns markup safe to put in a template: every text is escaped and every number
is formatted here."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 560, 150
LEFT, RIGHT, TOP, BOTTOM = 44, 44, 10, 22
Series = tuple[str, Sequence[float | int | Decimal], str]  # name, values, colour
# A line may have gaps (None: no value that hour).
LineSeries = tuple[str, Sequence[float | int | Decimal | None], str]


def _f(value: float) -> str:
    return f"{value:.1f}"


def _short(value: float | Decimal) -> str:
    """An axis label: 1234567 -> 1.23M, 0.000123 -> 0.000123."""
    value = float(value)
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.3g}{suffix}"
    return f"{value:.3g}"


def _text(value) -> str:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return str(value)


def _frame(title: str, inner: list[str], legend: list[tuple[str, str]]) -> SafeString:
    keys = "".join(
        f'<span class="chart-key"><i style="background:{escape(colour)}"></i>{escape(name)}</span>'
        for name, colour in legend
    )
    svg = (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" '
        f'aria-label="{escape(title)}" preserveAspectRatio="none">' + "".join(inner) + "</svg>"
    )
    return mark_safe(
        f'<figure class="chart-box"><figcaption>{escape(title)}{keys}</figcaption>{svg}</figure>'
    )


def _axes(labels: Sequence[str], top_left: str, top_right: str = "") -> list[str]:
    plot_bottom = HEIGHT - BOTTOM
    parts = [
        f'<line x1="{LEFT}" y1="{plot_bottom}" x2="{WIDTH - RIGHT}" y2="{plot_bottom}" '
        'stroke="#cbd5e1"/>',
        f'<text x="{LEFT - 4}" y="{TOP + 8}" text-anchor="end" class="axis">{escape(top_left)}</text>',
        f'<text x="{LEFT - 4}" y="{plot_bottom}" text-anchor="end" class="axis">0</text>',
    ]
    if top_right:
        parts.append(
            f'<text x="{WIDTH - RIGHT + 4}" y="{TOP + 8}" class="axis">{escape(top_right)}</text>'
        )
    count = len(labels)
    step = max(1, count // 6)
    width = (WIDTH - LEFT - RIGHT) / max(count, 1)
    for index in range(0, count, step):
        x = LEFT + width * (index + 0.5)
        parts.append(
            f'<text x="{_f(x)}" y="{HEIGHT - 6}" text-anchor="middle" class="axis">'
            f"{escape(labels[index])}</text>"
        )
    return parts


def bar_chart(
    series: Sequence[Series],
    *,
    labels: Sequence[str],
    title: str,
    line: LineSeries | None = None,
) -> SafeString:
    """Bars of each series side by side per label; `line` drawn over them on its own
    scale (its maximum on the right axis), gaps where its value is None."""
    count = len(labels)
    top = max((float(v) for _, values, _ in series for v in values), default=0) or 1
    plot_height = HEIGHT - TOP - BOTTOM
    slot = (WIDTH - LEFT - RIGHT) / max(count, 1)
    bar = max(slot * 0.8 / max(len(series), 1), 1)
    inner = []
    line_top = ""
    if line is not None:
        known = [float(v) for v in line[1] if v is not None]
        line_top = _short(max(known)) if known else ""
    inner += _axes(labels, _short(top), line_top)
    for number, (name, values, colour) in enumerate(series):
        for index, value in enumerate(values):
            if not value:
                continue
            height = plot_height * float(value) / top
            x = LEFT + slot * index + slot * 0.1 + bar * number
            inner.append(
                f'<rect x="{_f(x)}" y="{_f(TOP + plot_height - height)}" width="{_f(bar)}" '
                f'height="{_f(height)}" fill="{escape(colour)}"><title>{escape(name)} '
                f"{escape(labels[index])}: {escape(_text(value))}</title></rect>"
            )
    legend = [(name, colour) for name, _, colour in series]
    if line is not None:
        line_name, line_values, line_colour = line
        known = [float(v) for v in line_values if v is not None]
        if known:
            high, low = max(known), min(known)
            span = (high - low) or high or 1
            points: list[str] = []
            runs: list[list[str]] = []
            for index, point in enumerate(line_values):
                if point is None:
                    if points:
                        runs.append(points)
                    points = []
                    continue
                x = LEFT + slot * (index + 0.5)
                y = TOP + plot_height * (1 - (float(point) - low) / span * 0.9 - 0.05)
                points.append(f"{_f(x)},{_f(y)}")
            if points:
                runs.append(points)
            for run in runs:
                inner.append(
                    f'<polyline points="{" ".join(run)}" fill="none" stroke="{escape(line_colour)}" '
                    'stroke-width="2"/>'
                )
                if len(run) == 1:
                    cx, cy = run[0].split(",")
                    inner.append(
                        f'<circle cx="{cx}" cy="{cy}" r="3" fill="{escape(line_colour)}"/>'
                    )
        legend.append((line_name, line_colour))
    if not any(float(v) for _, values, _ in series for v in values) and not (
        line and any(v is not None for v in line[1])
    ):
        inner.append(
            f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" class="axis">'
            "nothing in this window</text>"
        )
    return _frame(title, inner, legend)
