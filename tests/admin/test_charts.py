"""Server-side SVG charts (admin_ui.charts): accessible, escaped, CSP-safe, correct scale."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from admin_ui.charts import (
    Series,
    bar_chart,
    data_table,
    legend,
    line_chart,
    nice_ceiling,
    tick_steps,
)

SVG = "{http://www.w3.org/2000/svg}"
DAYS = ["05-01", "05-02", "05-03"]


@pytest.mark.parametrize(("value", "top"), [(0, 1), (1, 1), (3, 5), (7, 10), (11, 20),
                                            (200, 200), (201, 500), (999, 1000)])
def test_nice_ceiling(value, top) -> None:
    assert nice_ceiling(value) == top


@pytest.mark.parametrize("top", [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000])
def test_axis_ticks_are_whole_numbers(top) -> None:
    steps = tick_steps(top)
    assert 1 <= steps <= 5 and top % steps == 0


def test_axis_labels_shown_on_the_chart_are_exact() -> None:
    svg = str(bar_chart("t", DAYS, [Series("a", (1, 0, 1))], chart_id="one"))
    assert re.findall(r'text-anchor="end" fill="#5c6370">(\d+)<', svg) == ["0", "1"]


def test_long_ranges_label_today_and_skip_alternate_days() -> None:
    labels = [f"d{i:02d}" for i in range(30)]
    svg = str(bar_chart("t", labels, [Series("a", tuple(range(30)))], chart_id="month"))
    shown = re.findall(r'text-anchor="middle" fill="#5c6370">(d\d+)<', svg)
    assert shown[-1] == "d29" and "d28" not in shown and len(shown) == 10


@pytest.mark.parametrize("draw", [bar_chart, line_chart])
def test_chart_is_valid_svg_with_title_and_description(draw) -> None:
    svg = draw("每日登录", DAYS, [Series("密码", (1, 2, 3)), Series("短信", (0, 4, 1))],
               chart_id="logins", total_word="合计")
    root = ET.fromstring(str(svg))
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    assert root.get("aria-labelledby") == "logins-t logins-d"
    assert root.find(f"{SVG}title").text == "每日登录"  # type: ignore[union-attr]
    desc = root.find(f"{SVG}desc").text  # type: ignore[union-attr]
    assert desc == "05-01 – 05-03: 密码 合计 6; 短信 合计 5"
    assert "style=" not in str(svg) and "<script" not in str(svg)


def test_stacked_bar_heights_are_proportional() -> None:
    svg = str(bar_chart("t", DAYS, [Series("a", (10, 0, 5)), Series("b", (10, 0, 0))],
                        chart_id="c"))
    heights = [float(h) for h in re.findall(r'<rect x="[^"]+" y="[^"]+" width="[^"]+" '
                                            r'height="([^"]+)"', svg)]
    # axis top is 20: 10 → half the plot, 5 → a quarter; the empty day draws nothing
    plot = 240 - 12 - 30
    assert heights == [pytest.approx(plot / 2, abs=0.1), pytest.approx(plot / 2, abs=0.1),
                       pytest.approx(plot / 4, abs=0.1)]


def test_labels_are_escaped() -> None:
    svg = str(bar_chart("<b>x</b>", ["<i>"], [Series('"&<script>', (1,))], chart_id="e"))
    assert "<script>" not in svg and "<b>" not in svg and "&lt;script&gt;" in svg
    ET.fromstring(svg)  # still well-formed


@pytest.mark.parametrize(("labels", "series", "chart_id"), [
    (DAYS, [Series("a", (1, 2))], "ok"),  # one value short
    (DAYS, [Series("a", (1, -2, 3))], "ok"),  # negative count
    (DAYS, [Series("a", (1, 2, 3))], 'x" onload="alert(1)'),  # id must be a plain name
])
def test_bad_input_is_refused(labels, series, chart_id) -> None:
    with pytest.raises(ValueError):
        bar_chart("t", labels, series, chart_id=chart_id)


def test_no_data_draws_an_empty_chart() -> None:
    root = ET.fromstring(str(line_chart("t", DAYS, [], chart_id="empty")))
    assert root.find(f"{SVG}polyline") is None


def test_data_table_has_a_row_per_day_and_totals() -> None:
    html = str(data_table("登录", DAYS, [Series("密码", (1, 2, 3)), Series("短信", (0, 4, 1))],
                          first_header="日期", total_header="合计"))
    root = ET.fromstring(html)
    rows = root.findall("./tbody/tr")
    assert [r.find("th").text for r in rows] == DAYS  # type: ignore[union-attr]
    assert [td.text for td in rows[1].findall("td")] == ["2", "4", "6"]
    assert root.find("./caption").text == "登录"  # type: ignore[union-attr]


def test_legend_names_series_with_totals_and_css_swatches() -> None:
    html = str(legend([Series("密码", (1, 2)), Series("<短信>", (0, 4))]))
    assert html.count('class="sw sw-') == 2 and "sw-1" in html
    assert "密码 <span class=\"muted\">(3)</span>" in html and "&lt;短信&gt;" in html
    assert "style=" not in html
