"""Charts for the HTML release, drawn without scripts: each plots the published numbers
(`num`) of the table printed beside it, and reads the same with JavaScript off.

- Bar charts (`bar`, `hbar`) are HTML and CSS: a row (or column) per category, the bar's length
  a share of the longest, the published value written beside it. Labels wrap and the chart
  fits any width, a phone's included.
- Line charts are inline SVG, in two drawings of the same data: one for wide screens and one
  for narrow ones (the style sheet shows one), so the text stays readable at 320 px.

Colour is never the only signal: lines differ by dash and marker shape, bars by pattern, and
every value is written on the chart. England, when it is drawn with its regions, is the
reference: a dark hatched bar labelled "England", and a dashed line at its value across the
regions' bars (or a thick dashed black line among the regions' lines). Everything is text in
a fixed order, so the page is byte-identical on every build.
"""

from __future__ import annotations

import math

from markupsafe import Markup, escape

from pipelines.release.model import STATUS_WORDS, is_number_text
from pipelines.release.tables import ChartData, ChartPoint, ChartTrace

TEXT = "#0b0c0c"
SECONDARY = "#484949"
GRID = "#d9d9d9"
ENGLAND_COLOUR = "#0b0c0c"
# Analysis Function categorical palette (accessible in this order), backed by marker
# shapes, line dashes and bar patterns (reports/static/release.css: .s0 to .s5).
PALETTE = ["#12436D", "#28A197", "#801650", "#F46A25", "#3D3D3D", "#A285D1"]
MARKERS = ["circle", "square", "diamond", "triangle", "cross", "circle-open"]
DASHES = ["", "9 5", "2 5", "9 4 2 4", "14 5", "14 4 2 4"]
TYPE_WORDS = {"line": "Line chart", "bar": "Bar chart", "hbar": "Horizontal bar chart"}
BAR_ROOM = 78.0  # the longest bar fills this % of its track, leaving room for its value


def _shown(text: str, unit: str) -> str:
    """A published value with its unit sign, for labels and descriptions."""
    return f"{text}%" if unit == "%" and is_number_text(text.replace(",", "")) else text


def _england(chart: ChartData) -> ChartPoint | None:
    """England's point when it is drawn among regions (one trace of bars)."""
    if len(chart.traces) != 1:
        return None
    return next((p for p in chart.traces[0].points if p.is_total), None)


def describe(chart: ChartData, table_number: int) -> tuple[str, str]:
    """Alt text (short) and description (the chart's message in words, from published values)."""
    kind = TYPE_WORDS[chart.spec.type]
    u = chart.unit
    alt = f"{kind}: {chart.title}."
    parts: list[str] = []
    england = _england(chart)
    if england is not None:
        parts.append(f"England, the reference drawn as a dark hatched bar and a dashed line across the other bars: "
                     f"{_shown(england.text, u)}.")
    for trace in chart.traces:
        name = f"{trace.name}: " if len(chart.traces) > 1 else ""
        if trace.is_total:
            name = f"{trace.name} (thick dashed black line): "
        points = [p for p in trace.points if not p.is_total]
        shown = [p for p in points if p.num is not None]
        hidden = [p for p in points if p.num is None]
        if chart.spec.type == "line" and shown:
            first, last = shown[0], shown[-1]
            if first is last:
                parts.append(f"{name}{_shown(last.text, u)} in {last.category}.")
            else:
                parts.append(f"{name}{_shown(first.text, u)} in {first.category} and "
                             f"{_shown(last.text, u)} in {last.category}.")
        elif shown:
            hi = max(shown, key=lambda p: p.num or 0.0)  # shown: num is set
            lo = min(shown, key=lambda p: p.num or 0.0)
            if hi is lo:
                parts.append(f"{name}{hi.category}: {_shown(hi.text, u)}.")
            else:
                parts.append(f"{name}{'highest' if name else 'Highest'} {hi.category} ({_shown(hi.text, u)}), "
                             f"lowest {lo.category} ({_shown(lo.text, u)}).")
        for p in hidden:
            words = STATUS_WORDS.get(p.status, "no figure")
            parts.append(f"{name}{p.category} is not plotted: {p.text} ({words}).")
    parts.append(f"Every number is in table {table_number}, with this chart.")
    return alt, " ".join(parts)


def _f(x: float) -> str:
    """A coordinate, always written the same way."""
    text = f"{x:.1f}"
    return "0.0" if text == "-0.0" else text


def _pct(x: float) -> str:
    return f"{max(0.0, min(100.0, x)):.2f}%"


def _legend_html(chart: ChartData) -> str:
    if len(chart.traces) < 2:
        return ""
    items = "".join(f'<li><span class="swatch s{i % len(PALETTE)}"></span>{escape(t.name)}</li>'
                    for i, t in enumerate(chart.traces))
    return f'<ul class="chart-legend">{items}</ul>'


# --- bars (HTML) -------------------------------------------------------------------------
def _scale(chart: ChartData) -> float:
    nums = [p.num for t in chart.traces for p in t.points if p.num is not None]
    top = max([n for n in nums if n > 0], default=0.0)
    return BAR_ROOM / top if top else 0.0


def _bar(point: ChartPoint, i: int, k: float, unit: str, vertical: bool) -> str:
    cls = f"bar s{i % len(PALETTE)}" + (" england" if point.is_total else "")
    if point.num is None:
        return f'<span class="bar-value symbol">{escape(point.text)}</span>'
    size = _pct((point.num or 0.0) * k)
    style = f"height:{size}" if vertical else f"width:{size}"
    return f'<span class="{cls}" style="{style}"></span><span class="bar-value">{escape(_shown(point.text, unit))}</span>'


def bars_html(chart: ChartData) -> str:
    """A bar chart as HTML: rows of bars (`hbar`), or columns (`bar`)."""
    k = _scale(chart)
    vertical = chart.spec.type == "bar"
    england = _england(chart)
    ref = ""
    key = ""
    if england is not None and england.num is not None and not vertical:
        where = _pct(england.num * k)
        ref = f'<span class="bar-ref" style="left:{where}"></span>'
        key = (f'<p class="chart-key"><span class="ref-key"></span>England: '
               f'{escape(_shown(england.text, chart.unit))} (the dashed line)</p>')
    n_cats = max(len(t.points) for t in chart.traces)
    rows = []
    for j in range(n_cats):
        points = [(i, t.points[j]) for i, t in enumerate(chart.traces) if j < len(t.points)]
        category = points[0][1].category
        total = any(p.is_total for _, p in points)
        tracks = "".join(
            f'<span class="bar-track">{_bar(p, i, k, chart.unit, vertical)}{"" if p.is_total else ref}</span>'
            for i, p in points)
        label = f'<span class="bar-label">{escape(category)}</span>'
        body = f'<span class="bar-tracks">{tracks}</span>'
        rows.append(f'<li class="bar-row{" england" if total else ""}">'
                    + (body + label if vertical else label + body) + "</li>")
    kind = "vbars" if vertical else "hbars"
    return (f'<div class="{kind}">{_legend_html(chart)}{key}'
            f'<ul class="bar-rows">{"".join(rows)}</ul></div>')


# --- lines (SVG) -------------------------------------------------------------------------
def nice_ticks(top: float, n: int = 4) -> list[float]:
    """0 and round steps up to at least `top` (axis ticks: not figures)."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    count = math.ceil(top / step - 1e-9)
    return [round(i * step, 10) for i in range(count + 1)]


def _tick_text(v: float, unit: str) -> str:
    text = f"{v:,.0f}" if float(v).is_integer() else f"{v:,.1f}".rstrip("0").rstrip(".")
    return f"{text}%" if unit == "%" else text


def _text_width(text: str, size: float) -> float:
    return len(text) * size * 0.62


def _marker(shape: str, x: float, y: float, colour: str, r: float) -> str:
    if shape == "circle":
        return f'<circle cx="{_f(x)}" cy="{_f(y)}" r="{_f(r)}" fill="{colour}"/>'
    if shape == "circle-open":
        return f'<circle cx="{_f(x)}" cy="{_f(y)}" r="{_f(r)}" fill="#fff" stroke="{colour}" stroke-width="2.5"/>'
    if shape == "square":
        return f'<rect x="{_f(x - r)}" y="{_f(y - r)}" width="{_f(2 * r)}" height="{_f(2 * r)}" fill="{colour}"/>'
    if shape == "diamond":
        d = r * 1.35
        return (f'<path d="M{_f(x)} {_f(y - d)}L{_f(x + d)} {_f(y)}L{_f(x)} {_f(y + d)}L{_f(x - d)} {_f(y)}Z" '
                f'fill="{colour}"/>')
    if shape == "triangle":
        d = r * 1.3
        return (f'<path d="M{_f(x)} {_f(y - d)}L{_f(x + d)} {_f(y + d * 0.8)}L{_f(x - d)} {_f(y + d * 0.8)}Z" '
                f'fill="{colour}"/>')
    return (f'<path d="M{_f(x - r)} {_f(y - r)}L{_f(x + r)} {_f(y + r)}M{_f(x + r)} {_f(y - r)}L{_f(x - r)} {_f(y + r)}" '
            f'stroke="{colour}" stroke-width="3"/>')


def _style(i: int, trace: ChartTrace) -> tuple[str, str, str, float]:
    """(colour, dash, marker, line width) of trace i; England is thick, black and dashed."""
    if trace.is_total:
        return ENGLAND_COLOUR, "10 5", "square", 4.0
    return PALETTE[i % len(PALETTE)], DASHES[i % len(DASHES)], MARKERS[i % len(MARKERS)], 3.0


def line_svg(chart: ChartData, width: int, height: int, size: float, css_class: str) -> str:
    """The line chart as one SVG drawing of `width` by `height` units, text of `size` units."""
    traces = chart.traces
    n_traces = len(traces)
    cats = [p.category for p in max(traces, key=lambda t: len(t.points)).points]
    nums = [p.num for t in traces for p in t.points if p.num is not None]
    ticks = nice_ticks(max([n for n in nums if n > 0], default=0.0))
    top_value = ticks[-1]
    low = min([n for n in nums if n < 0], default=0.0)
    if low < 0:
        ticks = [-t for t in nice_ticks(-low)][:0:-1] + ticks
    bottom_value = ticks[0]
    tick_texts = [_tick_text(t, chart.unit) for t in ticks]
    out: list[str] = []
    # legend: one item a line, above the plot
    y = 4.0
    if n_traces > 1:
        for i, t in enumerate(traces):
            colour, dash, marker, lw = _style(i, t)
            cy = y + size * 0.7
            dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
            out.append(f'<line x1="2" y1="{_f(cy)}" x2="34" y2="{_f(cy)}" stroke="{colour}" stroke-width="{_f(lw)}"'
                       f'{dash_attr}/>')
            out.append(_marker(marker, 18, cy, colour, size * 0.33))
            out.append(f'<text x="42" y="{_f(cy + size * 0.35)}" font-size="{_f(size)}">{escape(t.name)}</text>')
            y += size * 1.5
        y += size * 0.3
    if chart.axis_title:
        out.append(f'<text x="2" y="{_f(y + size)}" font-size="{_f(size * 0.93)}" fill="{SECONDARY}">'
                   f'{escape(chart.axis_title)}</text>')
        y += size * 1.4
    plot_top = y + size * 1.2  # room for a value label above the highest point
    plot_bottom = height - size * 2.2
    left = max(_text_width(t, size * 0.93) for t in tick_texts) + 14
    right = width - max(12.0, _text_width(traces[0].points[-1].text + "%", size) / 2 + 4)
    plot_w = right - left
    span = (top_value - bottom_value) or 1.0

    def y_of(v: float) -> float:
        return plot_bottom - (v - bottom_value) / span * (plot_bottom - plot_top)

    def x_of(j: int) -> float:
        return left + (j + 0.5) * plot_w / len(cats)

    for t, text in zip(ticks, tick_texts):
        ty = y_of(t)
        stroke = TEXT if t == 0 else GRID
        out.append(f'<line x1="{_f(left)}" y1="{_f(ty)}" x2="{_f(right)}" y2="{_f(ty)}" stroke="{stroke}" '
                   f'stroke-width="1"/>')
        out.append(f'<text x="{_f(left - 6)}" y="{_f(ty + size * 0.33)}" font-size="{_f(size * 0.93)}" '
                   f'text-anchor="end" fill="{SECONDARY}">{escape(text)}</text>')
    for j, cat in enumerate(cats):
        out.append(f'<text x="{_f(x_of(j))}" y="{_f(plot_bottom + size * 1.5)}" font-size="{_f(size)}" '
                   f'text-anchor="middle">{escape(cat)}</text>')
    # value labels above the higher of two lines and below the lower, so they do not collide
    below = [[False] * len(t.points) for t in traces]
    if n_traces == 2:
        for j, (a, b) in enumerate(zip(traces[0].points, traces[1].points)):
            if a.num is not None and b.num is not None:
                below[0 if a.num < b.num else 1][j] = True
    for i, trace in enumerate(traces):
        colour, dash, marker, lw = _style(i, trace)
        segments: list[list[tuple[float, float]]] = [[]]
        for j, p in enumerate(trace.points):
            if p.num is None:
                segments.append([])
            else:
                segments[-1].append((x_of(j), y_of(p.num)))
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        for seg in segments:
            if len(seg) > 1:
                d = "M" + "L".join(f"{_f(x)} {_f(yy)}" for x, yy in seg)
                out.append(f'<path d="{d}" fill="none" stroke="{colour}" stroke-width="{_f(lw)}" '
                           f'stroke-linejoin="round"{dash_attr}/>')
        for j, p in enumerate(trace.points):
            x = x_of(j)
            if p.num is None:
                out.append(f'<text x="{_f(x)}" y="{_f(plot_bottom - size * 0.4 - i * size * 1.2)}" '
                           f'font-size="{_f(size * 0.93)}" text-anchor="middle" fill="{SECONDARY}">'
                           f'{escape(p.text)}</text>')
                continue
            yy = y_of(p.num)
            out.append(_marker(marker, x, yy, colour, size * 0.36))
            if n_traces <= 2:
                ly = yy + size * 1.45 if below[i][j] else yy - size * 0.7
                out.append(f'<text x="{_f(x)}" y="{_f(ly)}" font-size="{_f(size)}" text-anchor="middle" '
                           f'font-weight="700" fill="{TEXT}">{escape(_shown(p.text, chart.unit))}</text>')
    return (f'<svg class="{css_class}" viewBox="0 0 {width} {height}" width="100%" aria-hidden="true" '
            f'focusable="false" font-family="inherit" fill="{TEXT}">' + "".join(out) + "</svg>")


def line_html(chart: ChartData) -> str:
    extra = 1.5 * 14 * len(chart.traces) if len(chart.traces) > 1 else 0
    wide = line_svg(chart, 640, int(300 + extra), 14, "chart-wide")
    narrow = line_svg(chart, 340, int(270 + extra), 14, "chart-narrow")
    return wide + narrow


def chart_html(chart: ChartData) -> Markup:
    """The chart's drawing (its figure, caption and description are in the template)."""
    if chart.spec.type == "line":
        return Markup(line_html(chart))
    return Markup(bars_html(chart))
