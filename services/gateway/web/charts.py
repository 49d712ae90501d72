"""Accessible inline SVG charts for the server-rendered pages, each with its figures as a table.

Every chart is a pure function returning one ``<figure class="sp-chart">``: an SVG with
``role="img"``, a ``<title>`` and a ``<desc>`` stating the key figures in words, a
``<figcaption>``, and the same figures as a GOV.UK table inside a ``<details>`` so that
screen-reader and no-SVG users get everything. Series are told apart by colour (GOV.UK palette,
each at least 4.4:1 against white) *and* by a fill pattern or line dash and marker, and always
named in a legend. Money arrives as integer pence. Empty data gives a "No figures yet" paragraph
instead of an SVG. Bad arguments raise ``ValueError`` naming the argument and the rule.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from contracts.money import MINUS_SIGN, format_pounds

# The viewBox is narrow and the CSS caps the width at 560 px, so 15-unit text renders at 19 px
# (GOV.UK body size) on a desktop and 11 px on a 320 px phone; the table has every figure.
SVG_WIDTH = 440
FONT_SIZE = 15
SMALL_FONT_SIZE = 13
# Average glyph width as a share of the font size, for Arial; used only to truncate labels.
GLYPH_WIDTH_RATIO = 0.6
LABEL_CHARACTERS_MAX = 48
TICK_COUNT_TARGET = 5

TEXT_COLOUR = "#0b0c0c"  # GOV.UK black, 19.6:1 on white
SECONDARY_TEXT_COLOUR = "#484949"  # black tint-25, 9.0:1 on white
GRID_COLOUR = "#cecece"  # black tint-80; gridlines are decoration, not information
TARGET_COLOUR = "#0b0c0c"
CAP_COLOUR = "#ca3535"  # GOV.UK red, 5.2:1 on white

# GOV.UK Frontend 6 palette, ordered so neighbouring stacked segments differ most. Orange is its
# 25% shade because the primary orange is only 2.8:1 against white.
SERIES_COLOURS: tuple[str, ...] = (
    "#1d70b8",  # blue
    "#b7592a",  # orange shade-25
    "#0f7a52",  # green
    "#ca357c",  # magenta
    "#54319f",  # purple
    "#158187",  # teal
    "#99704a",  # brown
    "#484949",  # black tint-25
)

# White marks over the series colour, so that series differ by more than colour alone.
_PATTERN_MARKS: tuple[str, ...] = (
    "",
    '<path d="M-2 2L2 -2M0 8L8 0M6 10L10 6" stroke="#ffffff" stroke-width="1.5"/>',
    '<circle cx="4" cy="4" r="1.5" fill="#ffffff"/>',
    '<path d="M0 4H8" stroke="#ffffff" stroke-width="1.5"/>',
    '<path d="M0 0L8 8M8 0L0 8" stroke="#ffffff" stroke-width="1"/>',
    '<path d="M4 0V8" stroke="#ffffff" stroke-width="1.5"/>',
)
_LINE_DASHES: tuple[str, ...] = ("", "8 4", "2 4", "12 4 2 4")
_MARKER_SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "diamond")

CHART_CSS = """
.sp-chart { margin: 0 0 30px; }
.sp-chart__svg { display: block; width: 100%; max-width: 560px; height: auto;
  font-family: inherit; }
.sp-chart__caption { margin-top: 10px; }
.sp-chart__table { overflow-x: auto; }
""".strip()

NO_FIGURES_TEXT = "No figures yet"
TABLE_SUMMARY_TEXT = "Show the figures as a table"

_CHART_ID_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")
# Characters XML 1.0 forbids; a user-supplied label containing one would break the page.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

Series = Sequence[tuple[str, Sequence[int]]]


# --- formatting -----------------------------------------------------------------------------


format_pence = format_pounds
"""Pence as pounds for people (the one formatter, from contracts): 123456789 -> '£1,234,567.89'."""


def format_pence_short(pence: int) -> str:
    """Pence as a short axis label: 123456789 -> '£1.23m', 50000 -> '£500', with the same
    minus sign as the full figures in the table beside the chart."""
    sign = MINUS_SIGN if pence < 0 else ""
    if abs(pence) % 100 and abs(pence) < 100_000:
        return f"{sign}£{abs(pence) / 100:.2f}"
    return f"{sign}£{_abbreviate(abs(pence) / 100)}"


def format_count(count: int) -> str:
    """A count with thousands separators: 1234 -> '1,234'."""
    return f"{count:,}"


def format_count_short(count: int) -> str:
    """A count as a short axis label: 1234567 -> '1.23m'."""
    return ("-" if count < 0 else "") + _abbreviate(abs(count))


def format_percent(part: int, whole: int) -> str:
    """``part`` as a percentage of ``whole`` to one decimal place, or 'n/a' when whole is 0."""
    if whole == 0:
        return "n/a"
    return f"{_trim(part * 100 / whole, 1)}%"


def _abbreviate(amount: float) -> str:
    # Pick the largest unit that still reads as at least 1 once rounded, so 999,999 is "1m".
    for size, suffix in ((10**9, "bn"), (10**6, "m"), (10**3, "k")):
        if round(amount / size, 2) >= 1:
            return f"{_trim(amount / size, 2)}{suffix}"
    return _trim(amount, 2)


def _trim(number: float, places: int) -> str:
    text = f"{number:.{places}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


@dataclass(frozen=True)
class _Units:
    long: Callable[[int], str]
    short: Callable[[int], str]
    noun: str


_MONEY = _Units(format_pence, format_pence_short, "whole number of pence")
_COUNT = _Units(format_count, format_count_short, "whole number")


# --- scale and ticks ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Scale:
    """A linear value axis from ``low`` to ``high`` (always including zero) with round ticks."""

    low: int
    high: int
    ticks: tuple[int, ...]

    @classmethod
    def covering(cls, values: Iterable[int]) -> _Scale:
        values = list(values)
        low, high = min([0, *values]), max([0, *values])
        if low == high:
            return cls(0, 1, (0,))  # all zeros: bars have no length, one tick at zero
        raw_step = -(-(high - low) // TICK_COUNT_TARGET)
        magnitude = 10 ** (len(str(raw_step)) - 1)
        step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw_step)
        low, high = (low // step) * step, -(-high // step) * step
        return cls(low, high, tuple(range(low, high + 1, step)))

    def position(self, value: int, start: float, end: float) -> float:
        return start + (value - self.low) / (self.high - self.low) * (end - start)


# --- validation -----------------------------------------------------------------------------


def _check_chart_id(chart_id: str) -> None:
    if not isinstance(chart_id, str) or not _CHART_ID_PATTERN.fullmatch(chart_id):
        raise ValueError(
            f"chart_id must start with a letter and hold only letters, digits, '-' and '_' "
            f"(at most 64), got {chart_id!r}"
        )


def _check_value(argument: str, where: str, value: object, units: _Units, negative: bool) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{argument} {where} must be a {units.noun}, got {value!r}")
    if value < 0 and not negative:
        raise ValueError(f"{argument} {where} is {value}: this chart needs values of 0 or more")


def _check_series(
    argument: str, series: Series, labels: Sequence[str], label_argument: str, units: _Units
) -> None:
    """Each series needs one value per label; negatives are refused (no chart here nets them)."""
    for index, entry in enumerate(series):
        if not isinstance(entry, tuple | list) or len(entry) != 2:
            raise ValueError(f"{argument}[{index}] must be a (name, values) pair")
        name, values = entry
        if len(values) != len(labels):
            raise ValueError(
                f"{argument} {name!r} has {len(values)} values but {label_argument} has "
                f"{len(labels)}: give one value per entry of {label_argument}"
            )
        for label, value in zip(labels, values, strict=True):
            _check_value(argument, f"{name!r} value for {label!r}", value, units, False)


# --- SVG and HTML pieces --------------------------------------------------------------------


def _clean(label: object) -> str:
    return _XML_INVALID.sub("\ufffd", str(label))


def _escape(label: object) -> str:
    return str(escape(_clean(label)))


def _fit(label: str, width: float, size: int = FONT_SIZE) -> str:
    """The label, shortened with an ellipsis to fit ``width`` units; the table has it whole."""
    characters_max = max(4, min(LABEL_CHARACTERS_MAX, int(width / (size * GLYPH_WIDTH_RATIO))))
    label = _clean(label)
    return label if len(label) <= characters_max else label[: characters_max - 1] + "…"


def _number(value: float) -> str:
    return _trim(value, 1)


def _text(
    x: float,
    y: float,
    content: str,
    *,
    anchor: str = "start",
    size: int = FONT_SIZE,
    colour: str = TEXT_COLOUR,
    halo: bool = False,
) -> str:
    # A white outline painted under the glyphs keeps a label readable where gridlines cross it.
    outline = ' stroke="#ffffff" stroke-width="4" paint-order="stroke"' if halo else ""
    return (
        f'<text x="{_number(x)}" y="{_number(y)}" text-anchor="{anchor}" font-size="{size}" '
        f'fill="{colour}"{outline}>{_escape(content)}</text>'
    )


def _rect(x: float, y: float, width: float, height: float, fill: str, tooltip: str = "") -> str:
    inner = f"<title>{_escape(tooltip)}</title>" if tooltip else ""
    return (
        f'<rect x="{_number(x)}" y="{_number(y)}" width="{_number(max(width, 0))}" '
        f'height="{_number(height)}" fill="{fill}" stroke="#ffffff" stroke-width="1">{inner}</rect>'
    )


def _line(
    x1: float, y1: float, x2: float, y2: float, colour: str, width: float, dash: str = ""
) -> str:
    dashes = f' stroke-dasharray="{dash}"' if dash else ""
    return (
        f'<line x1="{_number(x1)}" y1="{_number(y1)}" x2="{_number(x2)}" y2="{_number(y2)}" '
        f'stroke="{colour}" stroke-width="{_number(width)}"{dashes}/>'
    )


def _fill(chart_id: str, index: int) -> str:
    return f"url(#{chart_id}-fill-{index})"


def _patterns(chart_id: str, count: int) -> str:
    """One ``<pattern>`` per series: its colour with its own white marks on top."""
    patterns = (
        f'<pattern id="{chart_id}-fill-{index}" patternUnits="userSpaceOnUse" width="8" '
        f'height="8"><rect width="8" height="8" fill="{series_colour(index)}"/>'
        f"{_PATTERN_MARKS[index % len(_PATTERN_MARKS)]}</pattern>"
        for index in range(count)
    )
    return f"<defs>{''.join(patterns)}</defs>"


def series_colour(index: int) -> str:
    """The colour of the ``index``-th series (the palette repeats; patterns keep them apart)."""
    return SERIES_COLOURS[index % len(SERIES_COLOURS)]


def _marker(shape: str, x: float, y: float, colour: str) -> str:
    if shape == "circle":
        return f'<circle cx="{_number(x)}" cy="{_number(y)}" r="4" fill="{colour}"/>'
    if shape == "square":
        return _rect(x - 4, y - 4, 8, 8, colour)
    points = {
        "triangle": ((0, -5), (5, 4), (-5, 4)),
        "diamond": ((0, -5), (5, 0), (0, 5), (-5, 0)),
    }[shape]
    corners = " ".join(f"{_number(x + dx)},{_number(y + dy)}" for dx, dy in points)
    return f'<polygon points="{corners}" fill="{colour}"/>'


def _value_axis(
    scale: _Scale, units: _Units, left: float, right: float, top: float, bottom: float
) -> str:
    """Vertical gridlines at each tick with labels underneath; the zero line is darker."""
    parts = []
    for tick in scale.ticks:
        x = scale.position(tick, left, right)
        colour, width = (TEXT_COLOUR, 1.5) if tick == 0 else (GRID_COLOUR, 1.0)
        parts.append(_line(x, top, x, bottom, colour, width))
        parts.append(
            _text(
                x,
                bottom + 16,
                units.short(tick),
                anchor="middle",
                size=SMALL_FONT_SIZE,
                colour=SECONDARY_TEXT_COLOUR,
            )
        )
    return "".join(parts)


def _table(title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GOV.UK table: the first column names the row, the others are numeric."""
    head = "".join(
        f'<th scope="col" class="govuk-table__header'
        f'{" govuk-table__header--numeric" if index else ""}">{_escape(cell)}</th>'
        for index, cell in enumerate(header)
    )
    body = "".join(
        f'<tr class="govuk-table__row"><th scope="row" class="govuk-table__header">'
        f"{_escape(row[0])}</th>"
        + "".join(
            f'<td class="govuk-table__cell govuk-table__cell--numeric">{_escape(cell)}</td>'
            for cell in row[1:]
        )
        + "</tr>"
        for row in rows
    )
    return (
        f'<div class="sp-chart__table"><table class="govuk-table">'
        f'<caption class="govuk-table__caption govuk-table__caption--s">{_escape(title)}</caption>'
        f'<thead class="govuk-table__head"><tr class="govuk-table__row">{head}</tr></thead>'
        f'<tbody class="govuk-table__body">{body}</tbody></table></div>'
    )


def _figure(
    chart_id: str, title: str, description: str, caption: str, body: str, height: float, table: str
) -> Markup:
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="sp-chart__svg" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" '
        f'viewBox="0 0 {SVG_WIDTH} {_number(height)}" width="100%" '
        f'preserveAspectRatio="xMinYMin meet" focusable="false" font-family="arial, sans-serif">'
        f'<title id="{chart_id}-title">{_escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{_escape(description)}</desc>{body}</svg>'
    )
    details = (
        f'<details class="govuk-details"><summary class="govuk-details__summary">'
        f'<span class="govuk-details__summary-text">{TABLE_SUMMARY_TEXT}</span></summary>'
        f'<div class="govuk-details__text">{table}</div></details>'
    )
    return Markup(
        f'<figure class="sp-chart" id="{chart_id}">{svg}'
        f'<figcaption class="govuk-body-s sp-chart__caption">{_escape(caption or title)}'
        f"</figcaption>{details}</figure>"
    )


def _empty(chart_id: str, title: str, caption: str) -> Markup:
    return Markup(
        f'<figure class="sp-chart sp-chart--empty" id="{chart_id}">'
        f'<figcaption class="govuk-body-s sp-chart__caption">{_escape(caption or title)}'
        f'</figcaption><p class="govuk-body">{NO_FIGURES_TEXT}</p></figure>'
    )


def _words(items: Sequence[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


# --- layout shared by the horizontal bar charts ---------------------------------------------

_PLOT_LEFT = 32.0
_PLOT_RIGHT = SVG_WIDTH - 104.0  # the column to the right holds each row's figure
_ROW_LABEL_HEIGHT = 20.0
_BAR_HEIGHT = 22.0
_THIN_BAR_HEIGHT = 16.0
_ROW_GAP = 14.0
_AXIS_LABEL_HEIGHT = 28.0

LegendItem = tuple[str, Callable[[float, float], str]]


def _bar_key(chart_id: str, index: int) -> Callable[[float, float], str]:
    return lambda x, y: _rect(x, y - 11, 18, 14, _fill(chart_id, index))


def _line_key(colour: str, dash: str) -> Callable[[float, float], str]:
    return lambda x, y: _line(x, y - 4, x + 18, y - 4, colour, 3, dash)


def _legend(items: Sequence[LegendItem], top: float) -> tuple[str, float]:
    """Legend entries laid out left to right, wrapping; returns the SVG and the height used."""
    parts, x, y = [], 8.0, top + 14
    for name, key in items:
        label = _fit(name, SVG_WIDTH / 2)
        width = 26 + len(label) * FONT_SIZE * GLYPH_WIDTH_RATIO + 16
        if x > 8 and x + width > SVG_WIDTH - 8:
            x, y = 8.0, y + 22
        parts.append(key(x, y) + _text(x + 26, y, label))
        x += width
    return "".join(parts), y - top + 14


def _horizontal_chart(
    chart_id: str,
    legend_items: Sequence[LegendItem],
    scale: _Scale,
    units: _Units,
    row_labels: Sequence[str],
    bars_per_row: int,
    draw_row: Callable[[int, float], str],
    pattern_count: int,
) -> tuple[str, float]:
    """Legend, value axis, and one labelled row per entry; ``draw_row(row, y)`` draws its bars."""
    bar_height = _BAR_HEIGHT if bars_per_row == 1 else _THIN_BAR_HEIGHT
    row_height = _ROW_LABEL_HEIGHT + bars_per_row * (bar_height + 3) + _ROW_GAP
    legend, legend_height = _legend(legend_items, 0)
    top = legend_height + 8
    bottom = top + len(row_labels) * row_height
    parts = [
        _patterns(chart_id, pattern_count),
        legend,
        _value_axis(scale, units, _PLOT_LEFT, _PLOT_RIGHT, top, bottom - _ROW_GAP / 2),
    ]
    for row, label in enumerate(row_labels):
        y = top + row * row_height
        parts.append(_text(8, y + 15, _fit(label, SVG_WIDTH - 16), halo=True))
        parts.append(draw_row(row, y + _ROW_LABEL_HEIGHT))
    return "".join(parts), bottom - _ROW_GAP / 2 + _AXIS_LABEL_HEIGHT


def _bar(
    chart_id: str,
    scale: _Scale,
    index: int,
    start: int,
    end: int,
    y: float,
    height: float,
    tooltip: str,
) -> str:
    """A bar segment from value ``start`` to ``end`` in the ``index``-th series' fill."""
    x_start = scale.position(start, _PLOT_LEFT, _PLOT_RIGHT)
    x_end = scale.position(end, _PLOT_LEFT, _PLOT_RIGHT)
    left, width = min(x_start, x_end), abs(x_end - x_start)
    return _rect(left, y, width, height, _fill(chart_id, index), tooltip)


def _row_figure(y: float, height: float, text: str) -> str:
    return _text(_PLOT_RIGHT + 8, y + height / 2 + 5, text)


# --- the charts -----------------------------------------------------------------------------


def stacked_bars(
    chart_id: str,
    title: str,
    categories: Sequence[str],
    series: Series,
    *,
    caption: str = "",
    category_heading: str = "Category",
) -> Markup:
    """Horizontal bars, one per category, each series a segment; the total is written at right.

    Values are pence and must be 0 or more: a stacked bar cannot show a negative part honestly,
    so show recoveries as their own series of positive amounts. All zeros draw empty bars on a
    single £0 tick; huge values abbreviate on the axis (£10bn) and stay exact in the table.
    """
    _check_chart_id(chart_id)
    _check_series("series", series, categories, "categories", _MONEY)
    if not categories or not series:
        return _empty(chart_id, title, caption)
    names = [name for name, _ in series]
    totals = [sum(values[row] for _, values in series) for row in range(len(categories))]
    scale = _Scale.covering(totals)

    def draw_row(row: int, y: float) -> str:
        parts, start = [], 0
        for index, (name, values) in enumerate(series):
            tooltip = f"{categories[row]}, {name}: {format_pence(values[row])}"
            parts.append(
                _bar(chart_id, scale, index, start, start + values[row], y, _BAR_HEIGHT, tooltip)
            )
            start += values[row]
        return "".join(parts) + _row_figure(y, _BAR_HEIGHT, format_pence_short(totals[row]))

    legend = [(name, _bar_key(chart_id, index)) for index, name in enumerate(names)]
    body, height = _horizontal_chart(
        chart_id, legend, scale, _MONEY, categories, 1, draw_row, len(series)
    )
    description = f"Horizontal stacked bar chart of {_words(names)} for each category. " + " ".join(
        f"{category}: {format_pence(totals[row])} in total ("
        + ", ".join(f"{name} {format_pence(values[row])}" for name, values in series)
        + ")."
        for row, category in enumerate(categories)
    )
    table_rows = [
        [category, *(format_pence(values[row]) for _, values in series), format_pence(totals[row])]
        for row, category in enumerate(categories)
    ]
    table_rows.append(
        ["Total", *(format_pence(sum(values)) for _, values in series), format_pence(sum(totals))]
    )
    table = _table(title, [category_heading, *names, "Total"], table_rows)
    return _figure(chart_id, title, description, caption, body, height, table)


def bars_against_targets(
    chart_id: str,
    title: str,
    rows: Sequence[tuple[str, int, int | None, int | None]],
    *,
    caption: str = "",
    money: bool = True,
    row_heading: str = "Measure",
) -> Markup:
    """Per row (label, actual, target, cap): a bar for the actual, a solid black line for the
    target and a dashed red line for the cap (either may be None), named in the legend.

    Negative figures (recoveries) are drawn to the left of a darker zero line.
    """
    _check_chart_id(chart_id)
    units = _MONEY if money else _COUNT
    for index, row in enumerate(rows):
        if not isinstance(row, tuple | list) or len(row) != 4:
            raise ValueError(f"rows[{index}] must be a (label, actual, target, cap) tuple")
        for field, value in zip(("actual", "target", "cap"), row[1:], strict=True):
            if value is not None or field == "actual":
                _check_value(f"rows[{index}]", field, value, units, True)
    if not rows:
        return _empty(chart_id, title, caption)
    scale = _Scale.covering(value for row in rows for value in row[1:] if value is not None)

    def draw_row(index: int, y: float) -> str:
        label, actual, target, cap = rows[index]
        parts = [
            _bar(chart_id, scale, 0, 0, actual, y, _BAR_HEIGHT, f"{label}: {units.long(actual)}")
        ]
        for value, colour, dash, overhang in (
            (cap, CAP_COLOUR, "4 3", 7),
            (target, TARGET_COLOUR, "", 4),
        ):
            if value is not None:
                x = scale.position(value, _PLOT_LEFT, _PLOT_RIGHT)
                parts.append(_line(x, y - overhang, x, y + _BAR_HEIGHT + overhang, colour, 3, dash))
        return "".join(parts) + _row_figure(y, _BAR_HEIGHT, units.short(actual))

    legend: list[LegendItem] = [("Actual", _bar_key(chart_id, 0))]
    if any(row[2] is not None for row in rows):
        legend.append(("Target", _line_key(TARGET_COLOUR, "")))
    if any(row[3] is not None for row in rows):
        legend.append(("Cap", _line_key(CAP_COLOUR, "4 3")))
    labels = [row[0] for row in rows]
    body, height = _horizontal_chart(chart_id, legend, scale, units, labels, 1, draw_row, 1)
    description = "Bar chart of actual figures against targets and caps. " + " ".join(
        _target_sentence(row, units) for row in rows
    )
    header = [row_heading, "Actual", "Target", "Cap", "Actual as % of target", "Within cap"]
    table = _table(title, header, [_target_cells(row, units) for row in rows])
    return _figure(chart_id, title, description, caption, body, height, table)


def _target_sentence(row: tuple[str, int, int | None, int | None], units: _Units) -> str:
    label, actual, target, cap = row
    against = (
        f"against a target of {units.long(target)} ({format_percent(actual, target)} of target)"
        if target is not None
        else "with no target"
    )
    capped = f"cap {units.long(cap)}" if cap is not None else "no cap"
    return f"{label}: {units.long(actual)} {against}, {capped}."


def _target_cells(row: tuple[str, int, int | None, int | None], units: _Units) -> list[str]:
    label, actual, target, cap = row
    return [
        label,
        units.long(actual),
        units.long(target) if target is not None else "None",
        units.long(cap) if cap is not None else "None",
        format_percent(actual, target) if target is not None else "n/a",
        "No cap" if cap is None else ("Yes" if actual <= cap else "No"),
    ]


def funnel(
    chart_id: str,
    title: str,
    stages: Sequence[str],
    segments: Series,
    *,
    caption: str = "",
    segment_heading: str = "Segment",
) -> Markup:
    """Grouped bars: for each segment one bar per stage (e.g. referred, engaged, paid), each
    labelled with its count and its conversion from the stage before. The table gives every
    count, each stage-to-stage conversion and, with three or more stages, first to last.

    Counts are people, not money, and must be 0 or more; a conversion from 0 reads "n/a".
    """
    _check_chart_id(chart_id)
    _check_series("segments", segments, stages, "stages", _COUNT)
    if not stages or not segments:
        return _empty(chart_id, title, caption)
    scale = _Scale.covering(count for _, counts in segments for count in counts)

    def draw_row(row: int, y: float) -> str:
        name, counts = segments[row]
        parts = []
        for index, (stage, count) in enumerate(zip(stages, counts, strict=True)):
            bar_y = y + index * (_THIN_BAR_HEIGHT + 3)
            parts.append(
                _bar(
                    chart_id,
                    scale,
                    index,
                    0,
                    count,
                    bar_y,
                    _THIN_BAR_HEIGHT,
                    f"{name}, {stage}: {format_count(count)}",
                )
            )
            conversion = f" · {format_percent(count, counts[index - 1])}" if index else ""
            parts.append(_row_figure(bar_y, _THIN_BAR_HEIGHT, format_count(count) + conversion))
        return "".join(parts)

    legend = [(stage, _bar_key(chart_id, index)) for index, stage in enumerate(stages)]
    names = [name for name, _ in segments]
    body, height = _horizontal_chart(
        chart_id, legend, scale, _COUNT, names, len(stages), draw_row, len(stages)
    )
    description = f"Grouped bar chart of {_words(list(stages))} for each segment. " + " ".join(
        f"{name}: " + _funnel_words(stages, counts) + "." for name, counts in segments
    )
    conversions = _conversions(len(stages))
    header = [
        segment_heading,
        *stages,
        *(f"{stages[later]} as % of {stages[earlier]}" for earlier, later in conversions),
    ]
    table_rows = [
        [
            name,
            *map(format_count, counts),
            *(format_percent(counts[later], counts[earlier]) for earlier, later in conversions),
        ]
        for name, counts in segments
    ]
    table = _table(title, header, table_rows)
    return _figure(chart_id, title, description, caption, body, height, table)


def _conversions(stage_count: int) -> list[tuple[int, int]]:
    """Stage-to-stage conversions by index, then first to last when there are three or more."""
    pairs = [(index - 1, index) for index in range(1, stage_count)]
    return pairs + [(0, stage_count - 1)] if stage_count >= 3 else pairs


def _funnel_words(stages: Sequence[str], counts: Sequence[int]) -> str:
    words = [f"{stages[0]} {format_count(counts[0])}"]
    for index in range(1, len(stages)):
        words.append(
            f"{stages[index]} {format_count(counts[index])} "
            f"({format_percent(counts[index], counts[index - 1])} of {stages[index - 1]})"
        )
    return ", ".join(words)


_LINE_PLOT_LEFT = 64.0
_LINE_PLOT_RIGHT = SVG_WIDTH - 16.0
_LINE_PLOT_HEIGHT = 200.0
_LINE_INSET = 12.0  # keeps the first and last markers off the axis


def line_chart(
    chart_id: str,
    title: str,
    x_labels: Sequence[str],
    series: Series,
    *,
    caption: str = "",
    money: bool = True,
    x_heading: str = "Period",
) -> Markup:
    """Lines over ``x_labels`` (e.g. cumulative spend by month), one per series, each with its
    own colour, dash and marker shape, named in the legend.

    Negative values (recoveries) extend the axis below a darker zero line. A single point draws
    one marker per series. When labels would crowd, only every n-th is shown on the axis; the
    table always has them all.
    """
    _check_chart_id(chart_id)
    units = _MONEY if money else _COUNT
    _check_series_values(series, x_labels, units)
    if not x_labels or not series:
        return _empty(chart_id, title, caption)
    scale = _Scale.covering(value for _, values in series for value in values)
    legend, legend_height = _legend(
        [(name, _line_series_key(index)) for index, (name, _) in enumerate(series)], 0
    )
    top = legend_height + 16
    bottom = top + _LINE_PLOT_HEIGHT
    xs = _line_positions(len(x_labels))
    parts = [legend, _vertical_value_axis(scale, units, top, bottom)]
    parts.append(_category_axis(x_labels, xs, bottom))
    for index, (_, values) in enumerate(series):
        points = [
            (x, scale.position(value, bottom, top)) for x, value in zip(xs, values, strict=True)
        ]
        parts.append(_series_line(index, points))
    description = (
        f"Line chart of {_words([name for name, _ in series])} from {x_labels[0]}"
        + (f" to {x_labels[-1]}. " if len(x_labels) > 1 else ". ")
        + " ".join(_line_sentence(name, values, x_labels, units) for name, values in series)
    )
    table_rows = [
        [label, *(units.long(values[row]) for _, values in series)]
        for row, label in enumerate(x_labels)
    ]
    table = _table(title, [x_heading, *(name for name, _ in series)], table_rows)
    return _figure(chart_id, title, description, caption, "".join(parts), bottom + 28, table)


def _check_series_values(series: Series, x_labels: Sequence[str], units: _Units) -> None:
    """Like ``_check_series`` but a line may go below zero."""
    for index, entry in enumerate(series):
        if not isinstance(entry, tuple | list) or len(entry) != 2:
            raise ValueError(f"series[{index}] must be a (name, values) pair")
        name, values = entry
        if len(values) != len(x_labels):
            raise ValueError(
                f"series {name!r} has {len(values)} values but x_labels has {len(x_labels)}: "
                f"give one value per entry of x_labels"
            )
        for label, value in zip(x_labels, values, strict=True):
            _check_value("series", f"{name!r} value for {label!r}", value, units, True)


def _line_positions(count: int) -> list[float]:
    left, right = _LINE_PLOT_LEFT + _LINE_INSET, _LINE_PLOT_RIGHT - _LINE_INSET
    if count == 1:
        return [(left + right) / 2]
    return [left + index * (right - left) / (count - 1) for index in range(count)]


def _line_series_key(index: int) -> Callable[[float, float], str]:
    colour = series_colour(index)
    dash = _LINE_DASHES[index % len(_LINE_DASHES)]
    shape = _MARKER_SHAPES[index % len(_MARKER_SHAPES)]
    return lambda x, y: (
        _line(x, y - 4, x + 18, y - 4, colour, 2.5, dash) + _marker(shape, x + 9, y - 4, colour)
    )


def _series_line(index: int, points: Sequence[tuple[float, float]]) -> str:
    colour = series_colour(index)
    dash = _LINE_DASHES[index % len(_LINE_DASHES)]
    dashes = f' stroke-dasharray="{dash}"' if dash else ""
    coordinates = " ".join(f"{_number(x)},{_number(y)}" for x, y in points)
    line = (
        f'<polyline points="{coordinates}" fill="none" stroke="{colour}" stroke-width="2.5"'
        f"{dashes}/>"
    )
    shape = _MARKER_SHAPES[index % len(_MARKER_SHAPES)]
    return line + "".join(_marker(shape, x, y, colour) for x, y in points)


def _vertical_value_axis(scale: _Scale, units: _Units, top: float, bottom: float) -> str:
    """Horizontal gridlines at each tick, labelled at left; the zero line is darker."""
    parts = []
    for tick in scale.ticks:
        y = scale.position(tick, bottom, top)
        colour, width = (TEXT_COLOUR, 1.5) if tick == 0 else (GRID_COLOUR, 1.0)
        parts.append(_line(_LINE_PLOT_LEFT, y, _LINE_PLOT_RIGHT, y, colour, width))
        parts.append(
            _text(
                _LINE_PLOT_LEFT - 6,
                y + 4,
                units.short(tick),
                anchor="end",
                size=SMALL_FONT_SIZE,
                colour=SECONDARY_TEXT_COLOUR,
            )
        )
    return "".join(parts)


def _category_axis(labels: Sequence[str], xs: Sequence[float], bottom: float) -> str:
    """Labels under the plot; every n-th one when they would otherwise overlap."""
    characters = min(12, max(len(_clean(label)) for label in labels))
    label_width = characters * SMALL_FONT_SIZE * GLYPH_WIDTH_RATIO + 8
    every = max(1, -(-int(len(labels) * label_width) // int(_LINE_PLOT_RIGHT - _LINE_PLOT_LEFT)))
    return "".join(
        _text(
            x,
            bottom + 18,
            _fit(label, 12 * SMALL_FONT_SIZE * GLYPH_WIDTH_RATIO, SMALL_FONT_SIZE),
            anchor="middle",
            size=SMALL_FONT_SIZE,
            colour=SECONDARY_TEXT_COLOUR,
        )
        for index, (label, x) in enumerate(zip(labels, xs, strict=True))
        if index % every == 0
    )


def _line_sentence(name: str, values: Sequence[int], x_labels: Sequence[str], units: _Units) -> str:
    if len(values) == 1:
        return f"{name}: {units.long(values[0])} in {x_labels[0]}."
    highest = max(range(len(values)), key=lambda index: values[index])
    return (
        f"{name}: from {units.long(values[0])} in {x_labels[0]} to {units.long(values[-1])} in "
        f"{x_labels[-1]}, highest {units.long(values[highest])} in {x_labels[highest]}."
    )
