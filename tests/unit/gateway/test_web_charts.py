"""The web pages' SVG charts: well-formed, proportional, escaped, accessible, with every figure
in their table, and clear about bad input."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import Markup

from services.gateway.web import charts
from services.gateway.web.charts import (
    bars_against_targets,
    format_count_short,
    format_pence,
    format_pence_short,
    format_percent,
    funnel,
    line_chart,
    stacked_bars,
)

SVG = "{http://www.w3.org/2000/svg}"
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "charts"


def parse(figure: Markup) -> ET.Element:
    return ET.fromstring(str(figure))


def svg_of(figure: ET.Element) -> ET.Element:
    svg = figure.find(f"{SVG}svg")
    assert svg is not None
    return svg


def table_rows(figure: ET.Element) -> list[list[str]]:
    """The body rows of the chart's table, as the text of each cell."""
    rows = figure.findall(".//table/tbody/tr")
    return [["".join(cell.itertext()) for cell in row] for row in rows]


def table_header(figure: ET.Element) -> list[str]:
    return ["".join(cell.itertext()) for cell in figure.findall(".//table/thead/tr/th")]


def pence(text: str) -> int:
    match = re.fullmatch(r"(-?)£([\d,]+)\.(\d\d)", text)
    assert match, f"{text!r} is not an amount of money"
    sign, pounds, pennies = match.groups()
    return (-1 if sign else 1) * (int(pounds.replace(",", "")) * 100 + int(pennies))


def count(text: str) -> int:
    return int(text.replace(",", ""))


def segment_rects(svg: ET.Element, chart_id: str, index: int) -> list[ET.Element]:
    fill = f"url(#{chart_id}-fill-{index})"
    return [
        rect
        for rect in svg.iter(f"{SVG}rect")
        if rect.get("fill") == fill and rect.find(f"{SVG}title") is not None
    ]


def contrast_against_white(colour: str) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    red, green, blue = (channel(int(colour[i : i + 2], 16)) for i in (1, 3, 5))
    luminance = 0.2126 * red + 0.7152 * green + 0.0722 * blue
    return 1.05 / (luminance + 0.05)


POT_SERIES = [("Paid", [30_000, 10_000]), ("Reserved", [10_000, 0]), ("Available", [20_000, 5_000])]


def pot_chart() -> Markup:
    return stacked_bars("pot", "Pot by stream", ["Employment", "Housing"], POT_SERIES)


# --- formatting -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (123_456_789, "£1,234,567.89"),
        (0, "£0.00"),
        (5, "£0.05"),
        (-1_234, "−£12.34"),
        (10**12, "£10,000,000,000.00"),
    ],
)
def test_money_is_pounds_and_pence_with_thousands_separators(amount: int, text: str) -> None:
    assert format_pence(amount) == text


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (123_456_789, "£1.23m"),
        (120_000_000, "£1.2m"),
        (12_000_000, "£120k"),
        (99_999_999, "£1m"),
        (10**12, "£10bn"),
        (50_000, "£500"),
        (50, "£0.50"),
        (0, "£0"),
        (-2_000_000, "−£20k"),
    ],
)
def test_axis_labels_abbreviate_money(amount: int, text: str) -> None:
    assert format_pence_short(amount) == text


def test_counts_abbreviate_and_percentages_round_to_one_place() -> None:
    assert format_count_short(1_234_567) == "1.23m"
    assert format_count_short(950) == "950"
    assert format_percent(1, 3) == "33.3%"
    assert format_percent(5, 10) == "50%"
    assert format_percent(5, 0) == "n/a"


@pytest.mark.parametrize(
    ("values", "ticks"),
    [
        ([0, 1_234], (0, 500, 1_000, 1_500)),
        ([10**12], tuple(range(0, 10**12 + 1, 2 * 10**11))),
        ([-150, 400], (-200, 0, 200, 400)),
        ([0, 0], (0,)),
        ([7], (0, 2, 4, 6, 8)),
    ],
)
def test_the_scale_has_round_ticks_from_zero_covering_every_value(
    values: list[int], ticks: tuple[int, ...]
) -> None:
    assert charts._Scale.covering(values).ticks == ticks


# --- structure and accessibility ------------------------------------------------------------


def every_chart() -> dict[str, Markup]:
    return {
        "stacked": pot_chart(),
        "line": line_chart("spend", "Spend", ["Apr", "May"], [("Jobs", [100, 250])]),
        "targets": bars_against_targets("outcomes", "Outcomes", [("Jobs", 5, 8, 10)], money=False),
        "funnel": funnel("journey", "Journey", ["referred", "paid"], [("All", [10, 4])]),
    }


@pytest.mark.parametrize("kind", ["stacked", "line", "targets", "funnel"])
def test_every_chart_is_a_labelled_figure_with_an_svg_caption_and_table(kind: str) -> None:
    figure = parse(every_chart()[kind])
    svg = svg_of(figure)
    assert figure.tag == "figure" and figure.get("class") == "sp-chart"
    assert svg.get("role") == "img" and svg.get("width") == "100%" and svg.get("viewBox")
    title_id, description_id = svg.get("aria-labelledby", "").split()
    assert svg.find(f"{SVG}title[@id='{title_id}']") is not None
    description = svg.find(f"{SVG}desc[@id='{description_id}']")
    assert description is not None and description.text
    assert figure.find("figcaption") is not None
    details = figure.find("details")
    assert details is not None and details.get("class") == "govuk-details"
    assert "Show the figures as a table" in "".join(details.itertext())
    assert details.find(".//table[@class='govuk-table']") is not None


def test_every_id_in_a_chart_is_derived_from_its_chart_id() -> None:
    for figure in map(parse, every_chart().values()):
        chart_id = figure.get("id", "")
        ids = [element.get("id", "") for element in figure.iter() if element.get("id")]
        assert len(ids) == len(set(ids))
        assert all(identifier.startswith(chart_id) for identifier in ids)


def test_the_description_states_the_key_figures_in_words() -> None:
    description = svg_of(parse(pot_chart())).find(f"{SVG}desc")
    assert description is not None and description.text is not None
    assert "Employment: £600.00 in total (Paid £300.00, Reserved £100.00" in description.text
    line = line_chart("spend", "Spend", ["Apr", "May", "Jun"], [("Jobs", [100, 900, 400])])
    line_description = svg_of(parse(line)).find(f"{SVG}desc")
    assert line_description is not None and line_description.text is not None
    assert "Jobs: from £1.00 in Apr to £4.00 in Jun, highest £9.00 in May." in line_description.text


def test_every_series_colour_and_marker_has_at_least_three_to_one_contrast_with_white() -> None:
    for colour in (*charts.SERIES_COLOURS, charts.CAP_COLOUR, charts.TARGET_COLOUR):
        assert contrast_against_white(colour) >= 3, colour


def test_text_colours_have_at_least_four_and_a_half_to_one_contrast_with_white() -> None:
    for colour in (charts.TEXT_COLOUR, charts.SECONDARY_TEXT_COLOUR):
        assert contrast_against_white(colour) >= 4.5, colour


def test_series_differ_by_pattern_as_well_as_colour_and_are_named_in_the_legend() -> None:
    names = [f"Series {index}" for index in range(6)]
    series = [(name, [index + 1]) for index, name in enumerate(names)]
    svg = svg_of(parse(stacked_bars("many", "Many", ["Only"], series)))
    patterns = svg.findall(f"{SVG}defs/{SVG}pattern")
    marks = [ET.tostring(pattern[1]) if len(pattern) > 1 else b"" for pattern in patterns]
    assert len(set(marks)) == len(names)
    texts = {text.text for text in svg.iter(f"{SVG}text")}
    assert set(names) <= texts


def test_lines_differ_by_dash_and_marker_as_well_as_colour() -> None:
    series = [(f"Series {index}", [1, 2]) for index in range(4)]
    svg = svg_of(parse(line_chart("lines", "Lines", ["Apr", "May"], series)))
    polylines = list(svg.iter(f"{SVG}polyline"))
    assert len({line.get("stroke-dasharray", "") for line in polylines}) == 4
    shapes = {element.tag for element in svg.iter() if element.tag.endswith(("circle", "polygon"))}
    assert {f"{SVG}circle", f"{SVG}polygon"} <= shapes


def test_user_supplied_labels_are_escaped_and_read_back_unchanged() -> None:
    hostile = '<script>alert("x")</script> & Sons\x00'
    chart = stacked_bars("evil", hostile, [hostile], [(hostile, [100])], caption=hostile)
    assert "<script>" not in str(chart)
    figure = parse(chart)
    shown = hostile.replace("\x00", "\ufffd")
    assert table_rows(figure)[0][0] == shown
    assert table_header(figure)[1] == shown
    assert "".join(figure.find("figcaption").itertext()) == shown  # type: ignore[union-attr]


def test_a_bad_chart_id_is_refused() -> None:
    with pytest.raises(ValueError, match="chart_id must start with a letter"):
        stacked_bars('pot" onload="x', "Pot", ["A"], [("Paid", [1])])


# --- proportions ----------------------------------------------------------------------------


def test_stacked_segments_are_proportional_to_their_values() -> None:
    svg = svg_of(parse(pot_chart()))
    paid = [float(rect.get("width", "0")) for rect in segment_rects(svg, "pot", 0)]
    available = [float(rect.get("width", "0")) for rect in segment_rects(svg, "pot", 2)]
    assert paid[0] == pytest.approx(3 * paid[1], abs=0.2)
    assert available[0] == pytest.approx(4 * available[1], abs=0.2)
    assert paid[0] == pytest.approx(1.5 * available[0], abs=0.2)


def test_stacked_segments_start_where_the_previous_one_ends() -> None:
    svg = svg_of(parse(pot_chart()))
    paid, reserved = segment_rects(svg, "pot", 0)[0], segment_rects(svg, "pot", 1)[0]
    paid_end = float(paid.get("x", "0")) + float(paid.get("width", "0"))
    assert float(reserved.get("x", "0")) == pytest.approx(paid_end, abs=0.2)


def test_target_and_cap_markers_sit_where_their_values_fall_on_the_bar_scale() -> None:
    chart = bars_against_targets("outcomes", "Outcomes", [("Jobs", 400, 800, 1_000)], money=False)
    svg = svg_of(parse(chart))
    bar = segment_rects(svg, "outcomes", 0)[0]
    start, width = float(bar.get("x", "0")), float(bar.get("width", "0"))
    markers = [line for line in svg.iter(f"{SVG}line") if line.get("stroke-width") == "3"]
    cap, target = (
        float(line.get("x1", "0")) for line in markers if line.get("y1") != line.get("y2")
    )
    assert target - start == pytest.approx(2 * width, abs=0.2)
    assert cap - start == pytest.approx(2.5 * width, abs=0.2)


def test_line_points_are_higher_for_higher_values() -> None:
    svg = svg_of(
        parse(line_chart("spend", "Spend", ["Apr", "May", "Jun"], [("Jobs", [0, 200, 400])]))
    )
    polyline = next(svg.iter(f"{SVG}polyline"))
    heights = [float(point.split(",")[1]) for point in polyline.get("points", "").split()]
    assert heights[0] > heights[1] > heights[2]
    assert heights[0] - heights[1] == pytest.approx(heights[1] - heights[2], abs=0.2)


# --- tables ---------------------------------------------------------------------------------


def test_the_stacked_table_has_every_figure_with_row_and_column_totals() -> None:
    rows = table_rows(parse(pot_chart()))
    assert rows == [
        ["Employment", "£300.00", "£100.00", "£200.00", "£600.00"],
        ["Housing", "£100.00", "£0.00", "£50.00", "£150.00"],
        ["Total", "£400.00", "£100.00", "£250.00", "£750.00"],
    ]


def test_the_targets_table_gives_percent_of_target_and_whether_within_cap() -> None:
    rows = [("Jobs", 900, 1_000, 800), ("Homes", 50, None, None), ("Recovered", -10, 0, 100)]
    figure = parse(bars_against_targets("outcomes", "Outcomes", rows))
    assert table_header(figure)[-2:] == ["Actual as % of target", "Within cap"]
    assert table_rows(figure) == [
        ["Jobs", "£9.00", "£10.00", "£8.00", "90%", "No"],
        ["Homes", "£0.50", "None", "None", "n/a", "No cap"],
        ["Recovered", "−£0.10", "£0.00", "£1.00", "n/a", "Yes"],
    ]


def test_the_funnel_table_gives_counts_and_each_conversion() -> None:
    stages = ["referred", "engaged", "paid"]
    figure = parse(
        funnel("journey", "Journey", stages, [("Young", [200, 50, 10]), ("Old", [0, 0, 0])])
    )
    assert table_header(figure) == [
        "Segment",
        *stages,
        "engaged as % of referred",
        "paid as % of engaged",
        "paid as % of referred",
    ]
    assert table_rows(figure) == [
        ["Young", "200", "50", "10", "25%", "20%", "5%"],
        ["Old", "0", "0", "0", "n/a", "n/a", "n/a"],
    ]


def test_the_funnel_labels_each_bar_with_its_conversion_from_the_stage_before() -> None:
    svg = svg_of(parse(funnel("journey", "Journey", ["referred", "paid"], [("All", [8, 2])])))
    assert {"8", "2 · 25%"} <= {text.text for text in svg.iter(f"{SVG}text")}


# --- edge cases -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "chart",
    [
        lambda: stacked_bars("a", "Pot", [], []),
        lambda: stacked_bars("a", "Pot", ["Employment"], []),
        lambda: line_chart("a", "Spend", [], [("Jobs", [])]),
        lambda: bars_against_targets("a", "Outcomes", []),
        lambda: funnel("a", "Journey", ["referred"], []),
    ],
)
def test_no_data_says_no_figures_yet_instead_of_drawing(chart) -> None:  # type: ignore[no-untyped-def]
    figure = parse(chart())
    assert figure.find(f"{SVG}svg") is None
    assert figure.findtext("p") == "No figures yet"


def test_all_zeros_draws_empty_bars_on_a_single_zero_tick() -> None:
    figure = parse(stacked_bars("zero", "Pot", ["A", "B"], [("Paid", [0, 0])]))
    svg = svg_of(figure)
    assert {rect.get("width") for rect in segment_rects(svg, "zero", 0)} == {"0"}
    assert "£0" in {text.text for text in svg.iter(f"{SVG}text")}
    assert table_rows(figure)[-1] == ["Total", "£0.00", "£0.00"]


def test_a_single_category_and_a_single_point_still_draw() -> None:
    bars = svg_of(parse(stacked_bars("one", "Pot", ["Only"], [("Paid", [500])])))
    assert len(segment_rects(bars, "one", 0)) == 1
    line = svg_of(parse(line_chart("point", "Spend", ["Apr"], [("Jobs", [500])])))
    assert len(list(line.iter(f"{SVG}circle"))) == 2  # the point and its legend key


def test_huge_values_abbreviate_on_the_axis_and_stay_exact_in_the_table() -> None:
    figure = parse(stacked_bars("huge", "Pot", ["A"], [("Paid", [10**12 + 1])]))
    assert table_rows(figure)[0][1] == "£10,000,000,000.01"
    assert "£10bn" in {text.text for text in svg_of(figure).iter(f"{SVG}text")}


def test_negative_values_extend_the_line_axis_below_a_darker_zero_line() -> None:
    svg = svg_of(parse(line_chart("net", "Net", ["Apr", "May"], [("Jobs", [-5_000, 10_000])])))
    texts = {text.text for text in svg.iter(f"{SVG}text")}
    assert "−£50" in texts and "£0" in texts
    zero_lines = [
        line for line in svg.iter(f"{SVG}line") if line.get("stroke") == charts.TEXT_COLOUR
    ]
    assert len(zero_lines) == 1


def test_a_negative_actual_is_drawn_left_of_the_zero_line() -> None:
    svg = svg_of(
        parse(
            bars_against_targets(
                "net", "Net", [("Recovered", -300, None, None), ("Paid", 300, None, None)]
            )
        )
    )
    recovered, paid = segment_rects(svg, "net", 0)
    zero = next(line for line in svg.iter(f"{SVG}line") if line.get("stroke") == charts.TEXT_COLOUR)
    assert float(recovered.get("x", "0")) + float(recovered.get("width", "0")) == pytest.approx(
        float(zero.get("x1", "0")), abs=0.2
    )
    assert float(paid.get("x", "0")) == pytest.approx(float(zero.get("x1", "0")), abs=0.2)


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("chart", "message"),
    [
        (
            lambda: stacked_bars("a", "Pot", ["A", "B"], [("Paid", [1])]),
            "series 'Paid' has 1 values but categories has 2",
        ),
        (
            lambda: stacked_bars("a", "Pot", ["A"], [("Paid", [-1])]),
            "series 'Paid' value for 'A' is -1: this chart needs values of 0 or more",
        ),
        (
            lambda: stacked_bars("a", "Pot", ["A"], [("Paid", [1.5])]),  # type: ignore[list-item]  # the point of the test
            "series 'Paid' value for 'A' must be a whole number of pence",
        ),
        (
            lambda: stacked_bars("a", "Pot", ["A"], [("Paid", [True])]),
            "must be a whole number of pence",
        ),
        (
            lambda: line_chart("a", "Spend", ["Apr"], [("Jobs", [1, 2])]),
            "series 'Jobs' has 2 values but x_labels has 1",
        ),
        (
            lambda: line_chart("a", "Spend", ["Apr"], [("Jobs",)]),  # type: ignore[list-item]  # the point of the test
            r"series\[0\] must be a \(name, values\) pair",
        ),
        (
            lambda: bars_against_targets("a", "Out", [("Jobs", 1, 2)]),  # type: ignore[list-item]  # the point of the test
            r"rows\[0\] must be a \(label, actual, target, cap\) tuple",
        ),
        (
            lambda: bars_against_targets("a", "Out", [("Jobs", None, 2, 3)]),  # type: ignore[list-item]  # the point of the test
            r"rows\[0\] actual must be a whole number of pence",
        ),
        (
            lambda: bars_against_targets("a", "Out", [("Jobs", 1, 2.5, None)], money=False),  # type: ignore[list-item]  # the point of the test
            r"rows\[0\] target must be a whole number",
        ),
        (
            lambda: funnel("a", "Journey", ["referred", "paid"], [("All", [3])]),
            "segments 'All' has 1 values but stages has 2",
        ),
        (
            lambda: funnel("a", "Journey", ["referred"], [("All", [-3])]),
            "segments 'All' value for 'referred' is -3",
        ),
    ],
)
def test_bad_input_is_refused_naming_the_argument_and_the_rule(chart, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=message):
        chart()


# --- any data -------------------------------------------------------------------------------

labels = st.text(min_size=1, max_size=20)
amounts = st.integers(min_value=0, max_value=10**13)


@st.composite
def stacked_data(draw: st.DrawFn) -> tuple[list[str], list[tuple[str, list[int]]]]:
    categories = draw(st.lists(labels, min_size=1, max_size=6))
    names = draw(st.lists(labels, min_size=1, max_size=5))
    return categories, [
        (name, draw(st.lists(amounts, min_size=len(categories), max_size=len(categories))))
        for name in names
    ]


@settings(max_examples=60, deadline=None)
@given(stacked_data())
def test_any_non_negative_stacked_data_gives_well_formed_svg_and_a_table_that_adds_up(
    data: tuple[list[str], list[tuple[str, list[int]]]],
) -> None:
    categories, series = data
    figure = parse(stacked_bars("any", "Any", categories, series))
    rows = table_rows(figure)
    body = rows[:-1]
    assert [[pence(cell) for cell in row[1:-1]] for row in body] == [
        [values[index] for _, values in series] for index in range(len(categories))
    ]
    assert [pence(row[-1]) for row in body] == [
        sum(values[index] for _, values in series) for index in range(len(categories))
    ]
    assert [pence(cell) for cell in rows[-1][1:]] == [
        *(sum(values) for _, values in series),
        sum(sum(values) for _, values in series),
    ]


@settings(max_examples=40, deadline=None)
@given(
    st.lists(labels, min_size=1, max_size=12).flatmap(
        lambda x_labels: st.tuples(
            st.just(x_labels),
            st.lists(
                st.tuples(
                    labels, st.lists(amounts, min_size=len(x_labels), max_size=len(x_labels))
                ),
                min_size=1,
                max_size=4,
            ),
        )
    )
)
def test_any_non_negative_line_data_gives_well_formed_svg_whose_table_has_every_value(
    data: tuple[list[str], list[tuple[str, list[int]]]],
) -> None:
    x_labels, series = data
    rows = table_rows(parse(line_chart("any", "Any", x_labels, series)))
    assert [[pence(cell) for cell in row[1:]] for row in rows] == [
        [values[index] for _, values in series] for index in range(len(x_labels))
    ]


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(labels, amounts, st.none() | amounts, st.none() | amounts), min_size=1, max_size=8
    )
)
def test_any_non_negative_targets_give_well_formed_svg_whose_table_has_every_actual(
    rows: list[tuple[str, int, int | None, int | None]],
) -> None:
    table = table_rows(parse(bars_against_targets("any", "Any", rows)))
    assert sum(pence(row[1]) for row in table) == sum(row[1] for row in rows)
    assert [row[2] == "None" for row in table] == [row[2] is None for row in rows]


@settings(max_examples=40, deadline=None)
@given(
    st.lists(labels, min_size=1, max_size=4).flatmap(
        lambda stages: st.tuples(
            st.just(stages),
            st.lists(
                st.tuples(
                    labels,
                    st.lists(st.integers(0, 10**9), min_size=len(stages), max_size=len(stages)),
                ),
                min_size=1,
                max_size=5,
            ),
        )
    )
)
def test_any_non_negative_funnel_gives_well_formed_svg_whose_table_adds_up(
    data: tuple[list[str], list[tuple[str, list[int]]]],
) -> None:
    stages, segments = data
    rows = table_rows(parse(funnel("any", "Any", stages, segments)))
    assert [[count(cell) for cell in row[1 : 1 + len(stages)]] for row in rows] == [
        counts for _, counts in segments
    ]


# --- artefacts ------------------------------------------------------------------------------


def test_sample_charts_are_kept_as_artefacts_for_people_to_look_at() -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    samples = {
        **every_chart(),
        "pot-composition": stacked_bars(
            "pot-composition",
            "Pot by stream",
            ["Employment support", "Housing & care", "Early help"],
            [
                ("Paid", [120_000_000, 5_000_000, 0]),
                ("Reserved, unspent", [30_000_000, 2_500_000, 100]),
                ("Available", [50_000_000, 1_000_000, 0]),
            ],
            caption="At 31 March 2026",
        ),
    }
    for name, chart in samples.items():
        page = (
            f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{name}</title>'
            f"<style>{charts.CHART_CSS}</style></head><body>{chart}</body></html>"
        )
        (ARTIFACTS / f"{name}.html").write_text(page, encoding="utf-8")
        svg = svg_of(parse(chart))
        (ARTIFACTS / f"{name}.svg").write_text(
            ET.tostring(svg, encoding="unicode"), encoding="utf-8"
        )
    assert len(list(ARTIFACTS.glob("*.svg"))) >= len(samples)
