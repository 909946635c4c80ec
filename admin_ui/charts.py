"""Server-rendered SVG charts for the console dashboard (issue 5 item 7), without Flask.

The console runs under a strict CSP (``script-src 'self'; style-src 'self'``) on old office
PCs, so charts are plain SVG written on the server: no chart library, no script, no
``style=""`` attribute (blocked without ``'unsafe-inline'``) — only SVG presentation
attributes (``fill=``, ``stroke=``). Each chart is ``role="img"`` with a ``<title>`` and
``<desc>`` (WCAG 2.1 SC 1.1.1), `legend` is HTML beside it (legible at phone width), and
`data_table` gives the same numbers as an HTML table for screen readers, printing and
anyone who wants the exact values.

Every text that reaches the output goes through `markupsafe.escape`; callers pass labels
already translated.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

# Okabe–Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
           "#000000")
WIDTH, HEIGHT = 640, 240
_LEFT, _RIGHT, _TOP, _BOTTOM = 44, 12, 12, 30  # plot margins for the axis labels
_ID = re.compile(r"^[a-z][a-z0-9-]{0,31}$")


@dataclass(frozen=True)
class Series:
    """One named line or bar stack: a value per label (day)."""

    name: str
    values: tuple[int, ...]


def nice_ceiling(value: int) -> int:
    """The smallest 1-2-5 × 10ⁿ at or above ``value`` (at least 1): a readable axis top."""
    top = max(int(value), 1)
    step = 1
    while True:
        for m in (1, 2, 5):
            if m * step >= top:
                return m * step
        step *= 10


def tick_steps(top: int) -> int:
    """Grid intervals for an axis topped by `nice_ceiling`: every tick a whole number."""
    if top <= 5:
        return top
    return 4 if str(top)[0] == "2" else 5


def _check(labels: Sequence[str], series: Sequence[Series]) -> None:
    for s in series:
        if len(s.values) != len(labels):
            raise ValueError(f"series {s.name!r} has {len(s.values)} values for "
                             f"{len(labels)} labels")
        if any(v < 0 for v in s.values):
            raise ValueError(f"series {s.name!r} has a negative value")


def _frame(chart_id: str, title: str, desc: str, body: list[str]) -> Markup:
    if not _ID.match(chart_id):
        raise ValueError("chart ids are short lowercase names (they become element ids)")
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
            f'viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" preserveAspectRatio="xMidYMid meet" '
            f'aria-labelledby="{chart_id}-t {chart_id}-d" font-size="12" '
            f'font-family="system-ui, sans-serif">'
            f'<title id="{chart_id}-t">{escape(title)}</title>'
            f'<desc id="{chart_id}-d">{escape(desc)}</desc>')
    return Markup(head + "".join(body) + "</svg>")


def _axes(top: int, labels: Sequence[str]) -> list[str]:
    """Horizontal grid with values, and every other day label under the plot."""
    plot_h = HEIGHT - _TOP - _BOTTOM
    out = []
    steps = tick_steps(top)
    for i in range(steps + 1):
        value = top * i // steps
        y = _TOP + plot_h - plot_h * i / steps
        out.append(f'<line x1="{_LEFT}" x2="{WIDTH - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
                   f'stroke="#d8dde6" stroke-width="1"/>'
                   f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" '
                   f'fill="#5c6370">{value}</text>')
    slot = (WIDTH - _LEFT - _RIGHT) / max(len(labels), 1)
    every = 1 if len(labels) <= 8 else 2 if len(labels) <= 16 else 3
    last = len(labels) - 1
    for i, label in enumerate(labels):
        if (last - i) % every == 0:  # counted back from today, which is always labelled
            x = _LEFT + slot * (i + 0.5)
            out.append(f'<text x="{x:.1f}" y="{HEIGHT - _BOTTOM + 16}" text-anchor="middle" '
                       f'fill="#5c6370">{escape(label)}</text>')
    return out


def legend(series: Sequence[Series]) -> Markup:
    """The chart's key as HTML (readable at any screen width): swatch, name and total.

    Swatch colours come from the stylesheet classes ``sw-0`` … ``sw-7`` (`PALETTE` order),
    not from ``style=""``, which the CSP forbids.
    """
    items = "".join(f'<li><span class="sw sw-{i % len(PALETTE)}" aria-hidden="true"></span>'
                    f'{escape(s.name)} <span class="muted">({sum(s.values)})</span></li>'
                    for i, s in enumerate(series))
    return Markup(f'<ul class="legend">{items}</ul>')


def _description(labels: Sequence[str], series: Sequence[Series], total_word: str) -> str:
    if not labels:
        return ""
    parts = [f"{s.name} {total_word} {sum(s.values)}" for s in series]
    return f"{labels[0]} – {labels[-1]}: " + "; ".join(parts)


def bar_chart(title: str, labels: Sequence[str], series: Sequence[Series], *,
              chart_id: str, total_word: str = "total") -> Markup:
    """Stacked bars, one per label (day), a segment per series (key: `legend`)."""
    _check(labels, series)
    totals = [sum(s.values[i] for s in series) for i in range(len(labels))]
    top = nice_ceiling(max(totals, default=0))
    plot_h = HEIGHT - _TOP - _BOTTOM
    slot = (WIDTH - _LEFT - _RIGHT) / max(len(labels), 1)
    bar_w = max(slot * 0.7, 1.0)
    body = _axes(top, labels)
    for i, label in enumerate(labels):
        x = _LEFT + slot * i + (slot - bar_w) / 2
        base = float(_TOP + plot_h)
        for k, s in enumerate(series):
            value = s.values[i]
            if not value:
                continue
            h = plot_h * value / top
            base -= h
            body.append(f'<rect x="{x:.1f}" y="{base:.1f}" width="{bar_w:.1f}" '
                        f'height="{h:.1f}" fill="{PALETTE[k % len(PALETTE)]}">'
                        f'<title>{escape(label)} {escape(s.name)}: {value}</title></rect>')
    return _frame(chart_id, title, _description(labels, series, total_word), body)


def line_chart(title: str, labels: Sequence[str], series: Sequence[Series], *,
               chart_id: str, total_word: str = "total") -> Markup:
    """A line per series with a marked point per label (day)."""
    _check(labels, series)
    top = nice_ceiling(max((max(s.values, default=0) for s in series), default=0))
    plot_h = HEIGHT - _TOP - _BOTTOM
    slot = (WIDTH - _LEFT - _RIGHT) / max(len(labels), 1)
    body = _axes(top, labels)
    for k, s in enumerate(series):
        colour = PALETTE[k % len(PALETTE)]
        points = [(_LEFT + slot * (i + 0.5), _TOP + plot_h - plot_h * v / top)
                  for i, v in enumerate(s.values)]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        body.append(f'<polyline points="{path}" fill="none" stroke="{colour}" '
                    f'stroke-width="2"/>')
        for (x, y), label, value in zip(points, labels, s.values, strict=True):
            body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}">'
                        f'<title>{escape(label)} {escape(s.name)}: {value}</title></circle>')
    return _frame(chart_id, title, _description(labels, series, total_word), body)


def data_table(caption: str, labels: Sequence[str], series: Sequence[Series], *,
               first_header: str, total_header: str) -> Markup:
    """The chart's numbers as an accessible HTML table: a row per label, a column per series."""
    _check(labels, series)
    head = "".join(f'<th scope="col">{escape(s.name)}</th>' for s in series)
    rows = []
    for i, label in enumerate(labels):
        cells = "".join(f"<td>{s.values[i]}</td>" for s in series)
        total = sum(s.values[i] for s in series)
        rows.append(f'<tr><th scope="row">{escape(label)}</th>{cells}<td>{total}</td></tr>')
    return Markup(f'<table class="log data"><caption>{escape(caption)}</caption><thead><tr>'
                  f'<th scope="col">{escape(first_header)}</th>{head}'
                  f'<th scope="col">{escape(total_header)}</th></tr></thead>'
                  f'<tbody>{"".join(rows)}</tbody></table>')
