"""Plotly charts for the HTML release: each plots the published numbers (`value_num`) of the
table printed beside it, with a fixed div id so the page is byte-identical on every build."""

from __future__ import annotations

import html

import plotly.io as pio
from plotly.offline import get_plotlyjs

from pipelines.release.model import STATUS_WORDS, is_number_text
from pipelines.release.tables import ChartData

FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif'
TEXT = "#0b0c0c"
GRID = "#d9d9d9"
# Analysis Function categorical palette (accessible in this order), backed by marker
# shapes, line dashes and bar patterns so colour is never the only signal.
PALETTE = ["#12436D", "#28A197", "#801650", "#F46A25", "#3D3D3D", "#A285D1"]
MARKERS = ["circle", "square", "diamond", "triangle-up", "x", "star"]
DASHES = ["solid", "dash", "dot", "dashdot", "longdash", "longdashdot"]
PATTERNS = ["", "/", ".", "x", "-", "+"]
TYPE_WORDS = {"line": "Line chart", "bar": "Bar chart", "hbar": "Horizontal bar chart"}


def plotly_js() -> str:
    """plotly.js, shipped once beside the page (no CDN)."""
    return get_plotlyjs()


def _label(text: str) -> str:
    # Plotly reads a few HTML tags in text; show any angle brackets as typed.
    return html.escape(text, quote=False)


def _shown(text: str, unit: str) -> str:
    """A published value with its unit sign, for labels and descriptions."""
    return f"{text}%" if unit == "%" and is_number_text(text.replace(",", "")) else text


def describe(chart: ChartData, table_number: int) -> tuple[str, str]:
    """Alt text (short) and description (the chart's message in words, from published values)."""
    kind = TYPE_WORDS[chart.spec.type]
    u = chart.unit
    alt = f"{kind}: {chart.title}."
    parts: list[str] = []
    for trace in chart.traces:
        name = f"{trace.name}: " if len(chart.traces) > 1 else ""
        shown = [p for p in trace.points if p.num is not None]
        hidden = [p for p in trace.points if p.num is None]
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


def chart_figure(chart: ChartData) -> dict:
    """The chart as a plotly figure dict: what `plotly.graph_objects` builds from the same
    settings (see the tests), keys in the same order, without building and validating
    plotly objects (which took most of the page's time)."""
    ctype = chart.spec.type
    n_traces = len(chart.traces)
    n_cats = max(len(t.points) for t in chart.traces)
    # Line labels: above the higher of two lines and below the lower, so they do not collide.
    positions = [["top center"] * len(t.points) for t in chart.traces]
    if ctype == "line" and n_traces == 2:
        for j, (a, b) in enumerate(zip(chart.traces[0].points, chart.traces[1].points)):
            if a.num is not None and b.num is not None and a.num < b.num:
                positions[0][j] = "bottom center"
            elif a.num is not None and b.num is not None:
                positions[1][j] = "bottom center"
    text_font = {"color": TEXT, "size": 13}
    data = []
    for i, trace in enumerate(chart.traces):
        cats = [_label(p.category) for p in trace.points]
        nums = [p.num for p in trace.points]
        texts = [_shown(p.text, chart.unit) if p.num is not None else "" for p in trace.points]
        hover = [_shown(p.text, chart.unit) for p in trace.points]
        colour = PALETTE[i % len(PALETTE)]
        name = _label(trace.name)
        # Trace properties in plotly's order: alphabetical, then the type.
        if ctype == "line":
            data.append({
                "cliponaxis": False, "connectgaps": False, "customdata": hover,
                "hovertemplate": "%{x}: %{customdata}<extra>%{fullData.name}</extra>",
                "line": {"color": colour, "dash": DASHES[i % len(DASHES)], "width": 3},
                "marker": {"color": colour, "size": 9, "symbol": MARKERS[i % len(MARKERS)]},
                "mode": "lines+markers+text" if n_traces <= 2 else "lines+markers",
                "name": name, "text": texts, "textfont": dict(text_font), "textposition": positions[i],
                "x": cats, "y": nums, "type": "scatter",
            })
        else:
            horizontal = ctype == "hbar"
            data.append({
                "cliponaxis": False, "customdata": hover,
                "hovertemplate": ("%{y}" if horizontal else "%{x}") + ": %{customdata}<extra>%{fullData.name}</extra>",
                "marker": {"color": colour, "line": {"color": TEXT, "width": 0.5},
                           "pattern": {"fgcolor": "#ffffff", "shape": PATTERNS[i % len(PATTERNS)], "size": 8}},
                "name": name, "orientation": "h" if horizontal else "v",
                "text": texts, "textfont": dict(text_font), "textposition": "outside",
                "x": nums if horizontal else cats, "y": cats if horizontal else nums, "type": "bar",
            })
    # Layout: plotly sets nested settings before plain values, each in the order given.
    value_axis: dict = {}
    if chart.axis_title:
        value_axis["title"] = {"text": _label(chart.axis_title)}
    value_axis.update({
        "rangemode": "tozero", "gridcolor": GRID, "zerolinecolor": TEXT, "zerolinewidth": 1,
        "tickformat": ",", "ticksuffix": "%" if chart.unit == "%" else "", "automargin": True,
    })
    category_axis = {"type": "category", "automargin": True, "showgrid": False,
                     "linecolor": TEXT, "ticks": "outside"}
    if ctype == "hbar":
        height = max(260, 30 * n_cats * n_traces + 30 * n_cats + 110)
        xaxis, yaxis = value_axis, {**category_axis, "autorange": "reversed"}
    else:
        height = 380
        xaxis, yaxis = category_axis, value_axis
    layout = {
        "template": {"data": {"scatter": [{"type": "scatter"}]}},  # plotly's "none" template
        "margin": {"l": 10, "r": 50, "t": 20 if n_traces == 1 else 50, "b": 10},
        "font": {"family": FONT, "size": 14, "color": TEXT},
        "legend": {"font": {"size": 14}, "orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
        "xaxis": xaxis, "yaxis": yaxis,
        "hoverlabel": {"font": {"family": FONT, "size": 14}},
        "height": height,
        "paper_bgcolor": "#ffffff", "plot_bgcolor": "#ffffff",
        "showlegend": n_traces > 1,
        "barmode": "group", "bargap": 0.25,
    }
    # A value hidden behind a symbol shows its symbol, never an empty bar that reads as 0.
    annotations = []
    if ctype in ("bar", "hbar"):
        for trace in chart.traces:
            for p in trace.points:
                if p.num is None:
                    pos = {"x": 0, "xanchor": "left", "y": _label(p.category)} if ctype == "hbar" else \
                          {"x": _label(p.category), "y": 0, "yanchor": "bottom"}
                    annotations.append({"font": {"color": TEXT, "size": 13}, "showarrow": False,
                                        "text": p.text, **pos})
    if annotations:
        layout["annotations"] = annotations
    return {"data": data, "layout": layout}


def chart_html(chart: ChartData) -> str:
    """The chart's div and the script that draws it (plotly.js is loaded once by the page)."""
    fig = chart_figure(chart)
    return pio.to_html(
        fig,
        full_html=False,
        include_plotlyjs=False,
        div_id=f"{chart.id}-plot",
        default_height=f"{fig['layout']['height']}px",
        default_width="100%",
        config={"displayModeBar": False, "responsive": True},
        validate=False,
    )
