"""Tables (and the data of their charts) laid out from the configuration.

A table has four dimensions: measure, breakdown, geography and time period. The
configuration puts some in the rows and some in the columns; the others must have one
value, or they are added to the columns. Cells are published figures, never computed.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from pipelines.release.config import ChartSpec, TableSpec
from pipelines.release.model import (
    LEVEL_LABELS,
    Figure,
    FigureIndex,
    Geography,
    decimals_of,
    with_commas,
)

SOURCE_WORDS = {"authority_returns": "Authority returns", "womens_aid": "Women's Aid", "safelives": "SafeLives",
                "reference": "ONS"}  # a measure's source, in a label
DEFAULT_DIM_LABELS = {"measure": "Measure", "breakdown": "Breakdown", "time_period": "Financial year"}
MISSING_CHANGE = "[z]"  # a change with no previous year to compare with
MISSING = "[x]"  # no figure published for this cell


@dataclass(frozen=True)
class Cell:
    value: str  # as published (a number or a symbol)
    text: str  # for display: thousands separators added to numbers
    num: float | None  # the published number, None for a symbol
    status: str  # value_status, or "missing" when no figure exists for the cell
    figure_id: str  # "" when no figure exists
    decimals: int

    @property
    def is_symbol(self) -> bool:
        return self.num is None


@dataclass(frozen=True)
class HeaderCell:
    label: str
    unit: str | None
    span: int


@dataclass
class Column:
    key: dict[str, str]
    labels: list[str]
    unit: str | None
    measure: str | None  # the column's measure, when a column has one
    flat: str = ""  # one-line heading for CSV and spreadsheets (units included)


@dataclass
class Row:
    key: dict[str, str]
    headers: list[str]  # one per row dimension (units included in a measure label)
    labels: list[str]  # the same without units (for chart legends and categories)
    code: str | None  # geography code when geography is a row dimension
    region: str | None  # region of a local authority row
    cells: list[Cell]
    is_total: bool = False


@dataclass
class Note:
    number: int
    key: tuple[str, ...]
    text: str


@dataclass
class ChartPoint:
    category: str
    num: float | None
    text: str
    status: str
    is_total: bool = False  # England among regions: drawn apart, as the reference


@dataclass
class ChartTrace:
    name: str
    points: list[ChartPoint]
    is_total: bool = False  # a line for England among lines for regions


@dataclass
class ChartData:
    spec: ChartSpec
    number: int
    id: str
    title: str
    category_label: str
    unit: str
    axis_title: str
    traces: list[ChartTrace]
    alt: str = ""
    description: str = ""


@dataclass
class Table:
    spec: TableSpec
    number: int
    title: str
    row_labels: list[str]
    row_dims: list[str]
    level: str
    geography_in_rows: bool
    header_levels: list[list[HeaderCell]]
    columns: list[Column]
    rows: list[Row]
    measures: list[str]
    fixed: dict[str, str]
    note_keys: list[tuple[str, ...]] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    chart: ChartData | None = None
    page: str = "index.html"  # the page of the release that shows it (pipelines/release/context.py)

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def caption(self) -> str:
        return f"Table {self.number}: {self.title}"

    @property
    def geography_position(self) -> int:
        """Position of the geography among the row headings, -1 when it is not a row dimension."""
        return self.row_dims.index("geography") if "geography" in self.row_dims else -1

    def row_head_index(self, i: int) -> int:
        """Column position (from 0) of row heading i, counting the code and region columns."""
        extra = (1 if self.show_code else 0) + (1 if self.show_region else 0)
        return i + (extra if 0 <= self.geography_position < i else 0)

    @property
    def grouped(self) -> bool:
        """Rows grouped under their first heading (one tbody per group)."""
        return len(self.row_dims) > 1 and not self.spec.interactive

    @property
    def group_spans(self) -> list[int]:
        """For each row, the number of rows its first heading spans (0 inside a group)."""
        spans = [0] * len(self.rows)
        start = 0
        for i in range(1, len(self.rows) + 1):
            if i == len(self.rows) or self.rows[i].headers[0] != self.rows[start].headers[0]:
                spans[start] = i - start
                start = i
        return spans

    @property
    def row_noun(self) -> str:
        if self.geography_in_rows:
            return {"local_authority": "authorities", "police_force_area": "police force areas",
                    "regional": "areas", "national": "areas"}[self.level]
        return "rows"

    @property
    def side_by_side(self) -> bool:
        """Chart and table next to each other (a narrow table), or the table below the chart."""
        if len(self.columns) > 3 or len(self.row_dims) > 1:
            return False
        longest = max((len(c.flat) for c in self.columns), default=0)
        widest_row = max((len(h) for r in self.rows for h in r.headers), default=0)
        return longest <= 28 * max(1, 4 - len(self.columns)) // 2 and widest_row <= 32

    @property
    def wide(self) -> bool:
        """Wider than a phone: the page says it scrolls sideways (in its own box)."""
        n_cols = len(self.row_labels) + (1 if self.show_code else 0) + (1 if self.show_region else 0)
        return n_cols + len(self.columns) > 3

    @property
    def show_code(self) -> bool:
        return self.geography_in_rows and self.level in ("local_authority", "police_force_area")

    @property
    def show_region(self) -> bool:
        return self.geography_in_rows and self.level == "local_authority"

    @property
    def note_markers(self) -> str:
        return " ".join(f"[note {n.number}]" for n in self.notes)


def fill_title(template: str, years: tuple[str, ...], release_year: str, all_years: bool) -> str:
    first, last = years[0], years[-1]
    span = f"{first} to {last}" if all_years and len(years) > 1 else release_year
    out = template
    for k, v in {"{years}": span, "{year}": release_year, "{first_year}": first}.items():
        out = out.replace(k, v)
    return out


def _cell(idx: FigureIndex, fig: Figure | None, measure: str) -> Cell:
    if fig is None:
        sym = MISSING_CHANGE if idx.is_change(measure) else MISSING
        return Cell(sym, sym, None, "missing", "", 0)
    return Cell(fig.value, with_commas(fig.value), fig.value_num, fig.value_status, fig.figure_id,
                decimals_of(fig.value))


def build_table(spec: TableSpec, idx: FigureIndex, release_year: str) -> Table | None:
    """Lay out one configured table, or None when none of its figures exist."""
    years = idx.years if spec.years == "all" else (release_year,)
    breakdowns: dict[str, list[str]] = {}
    for ref in spec.measures:
        if not idx.has_measure(ref.measure) or ref.measure in breakdowns:
            continue
        avail = idx.breakdowns_of(ref.measure)
        wanted = [b for b in ref.breakdowns if b in avail] if ref.breakdowns else avail
        if wanted:
            breakdowns[ref.measure] = wanted
    if not breakdowns:
        return None
    level = spec.geographic_level
    geos: list[Geography] = []
    england = idx.england
    if spec.include_england and level != "national" and england is not None:
        geos.append(england)
    geos += idx.geographies_of(level)
    geo_by_code = {g.code: g for g in geos}

    keys = {
        (m, b, g.code, t)
        for m, bs in breakdowns.items()
        for b in bs
        for g in geos
        for t in years
        if idx.get(m, b, g.code, t) is not None
    }
    if not keys:
        return None
    measures = [m for m in breakdowns if any(k[0] == m for k in keys)]
    bd_values: list[str] = []
    for m in measures:
        for b in breakdowns[m]:
            if b not in bd_values and any(k[0] == m and k[1] == b for k in keys):
                bd_values.append(b)
    values = {
        "measure": measures,
        "breakdown": bd_values,
        "geography": [g.code for g in geos if any(k[2] == g.code for k in keys)],
        "time_period": [t for t in years if any(k[3] == t for k in keys)],
    }
    rows_d = list(spec.rows)
    cols_d = list(spec.columns)
    for d in ("geography", "time_period", "measure"):
        if d not in rows_d and d not in cols_d and len(values[d]) > 1:
            cols_d.insert(0, d)
    only_breakdown: dict[str, str] = {}
    absorbed = False
    if "breakdown" not in rows_d and "breakdown" not in cols_d and len(values["breakdown"]) > 1:
        per_measure = {m: sorted({k[1] for k in keys if k[0] == m}) for m in measures}
        if all(len(v) == 1 for v in per_measure.values()):
            absorbed = True
            only_breakdown = {m: v[0] for m, v in per_measure.items()}
        elif "measure" in cols_d:
            cols_d.insert(cols_d.index("measure") + 1, "breakdown")
        elif "measure" in rows_d:
            rows_d.insert(rows_d.index("measure") + 1, "breakdown")
        else:
            cols_d.insert(0, "breakdown")
    fixed = {d: values[d][0] for d in values if d not in rows_d and d not in cols_d and values[d]}
    if absorbed:
        fixed.pop("breakdown", None)

    def full_key(rk: dict[str, str], ck: dict[str, str]) -> tuple[str, str, str, str]:
        k = {**fixed, **rk, **ck}
        m = k["measure"]
        b = only_breakdown[m] if absorbed else k["breakdown"]
        return m, b, k["geography"], k["time_period"]

    row_keys = [dict(zip(rows_d, combo)) for combo in itertools.product(*(values[d] for d in rows_d))]
    col_keys = [dict(zip(cols_d, combo)) for combo in itertools.product(*(values[d] for d in cols_d))]
    col_keys = [ck for ck in col_keys if any(full_key(rk, ck) in keys for rk in row_keys)]
    row_keys = [rk for rk in row_keys if any(full_key(rk, ck) in keys for ck in col_keys)]

    bases = {idx.base_of(m)[0] for m in measures}
    single_base = len(bases) == 1 and next(iter(bases)) in measures

    def measure_label(m: str) -> str:
        base, suffix = idx.base_of(m)
        if single_base and suffix:  # beside its own measure, "change" says enough
            return "Change on previous year" if suffix == "_change" else "Percentage change on previous year"
        title = idx.title(m)
        if absorbed and only_breakdown[m] != "all":
            title = f"{title}: {idx.breakdown_label(m, only_breakdown[m])}"
        if spec.source_in_labels:
            d = idx.definition(m)
            title = f"{SOURCE_WORDS.get(d.source, d.source) if d else 'Source not recorded'}: {title}"
        return title

    def bd_label(b: str, m: str | None) -> str:
        if m is None:
            m = next((x for x in measures if b in breakdowns[x]), measures[0])
        return idx.breakdown_label(m, b)

    def label(dim: str, value: str, context: dict[str, str]) -> str:
        if dim == "measure":
            return measure_label(value)
        if dim == "breakdown":
            return bd_label(value, context.get("measure") or fixed.get("measure"))
        if dim == "geography":
            return geo_by_code[value].name
        return value

    measure_in_cols = "measure" in cols_d
    measure_in_rows = "measure" in rows_d

    columns: list[Column] = []
    for ck in col_keys:
        ctx = {**fixed, **ck}
        m = ctx.get("measure")
        labels = [label(d, ck[d], ctx) for d in cols_d]
        if measure_in_rows:
            unit = None
        else:
            assert m is not None  # measures not in the rows are in the columns or fixed
            unit = idx.unit_suffix(m)
        flat = ", ".join(labels) + (f" ({unit})" if unit else "")
        columns.append(Column(ck, labels, unit, None if measure_in_rows else m, flat))
    seen: dict[str, int] = {}
    for c in columns:  # headings must be unique in CSV and spreadsheet tables
        n = seen.get(c.flat, 0)
        seen[c.flat] = n + 1
        if n:
            c.flat = f"{c.flat} [{n + 1}]"

    header_levels: list[list[HeaderCell]] = []
    for i, d in enumerate(cols_d):
        level_cells: list[HeaderCell] = []
        prev: tuple | None = None
        for c in columns:
            prefix = tuple(c.key[x] for x in cols_d[: i + 1])
            is_leaf = i == len(cols_d) - 1
            unit = None
            if d == "measure":
                unit = idx.unit_suffix(c.key["measure"])
            elif is_leaf and not measure_in_cols and not measure_in_rows:
                unit = c.unit
            if prefix == prev:
                last = level_cells[-1]
                level_cells[-1] = HeaderCell(last.label, last.unit, last.span + 1)
            else:
                level_cells.append(HeaderCell(c.labels[i], unit, 1))
            prev = prefix
        header_levels.append(level_cells)

    row_labels = []
    for d in rows_d:
        if d in spec.labels:
            row_labels.append(spec.labels[d])
        elif d == "geography":
            row_labels.append(LEVEL_LABELS[level] if not spec.include_england else "Area")
        else:
            row_labels.append(DEFAULT_DIM_LABELS[d])

    rows: list[Row] = []
    for rk in row_keys:
        ctx = {**fixed, **rk}
        labels = [label(d, rk[d], ctx) for d in rows_d]
        headers = [f"{text} ({idx.unit_suffix(rk[d])})" if d == "measure" else text
                   for d, text in zip(rows_d, labels)]
        cells = []
        for ck in col_keys:
            m, b, g, t = full_key(rk, ck)
            cells.append(_cell(idx, idx.get(m, b, g, t), m))
        code = ctx.get("geography") if "geography" in rows_d else None
        geo = geo_by_code.get(code) if code else None
        rows.append(
            Row(
                key=rk,
                headers=headers,
                labels=labels,
                code=code,
                region=geo.region_name if geo and level == "local_authority" else None,
                cells=cells,
                is_total=bool(geo and england and geo.code == england.code and level != "national"),
            )
        )

    title = fill_title(spec.title, idx.years, release_year, spec.years == "all")
    table = Table(
        spec=spec,
        number=0,
        title=title,
        row_labels=row_labels,
        row_dims=rows_d,
        level=level,
        geography_in_rows="geography" in rows_d,
        header_levels=header_levels,
        columns=columns,
        rows=rows,
        measures=measures,
        fixed=fixed,
    )
    table.note_keys = _note_keys(table, idx)
    return table


def _note_keys(table: Table, idx: FigureIndex) -> list[tuple[str, ...]]:
    keys: list[tuple[str, ...]] = []

    def add(k: tuple[str, ...]) -> None:
        if k not in keys:
            keys.append(k)

    for m in table.measures:
        d = idx.definition(m)
        for caveat in d.caveats if d else ():
            add(("caveat", caveat))
    if any(idx.is_change(m) for m in table.measures):
        add(("change",))
    if any(c.status == "missing" for r in table.rows for c in r.cells):
        add(("missing",))
    for m in table.measures:
        d = idx.definition(m)
        if idx.kind(m) == "rate_per_10000" or (d and "population" in (d.denominator or "").lower()):
            add(("population",))
            break
    if table.level in ("national", "regional") or table.spec.include_england:
        for m in table.measures:
            d = idx.definition(m)
            if d and d.counts_people and idx.kind(m) == "count":
                add(("rounding",))
                break
    for m in table.measures:
        d = idx.definition(m)
        if d and d.counts_people and table.level in ("local_authority", "police_force_area"):
            add(("suppression",))
            break
    for note_id in table.spec.notes:
        add(("release_note", note_id))
    return keys


# --- charts ----------------------------------------------------------------------------
def build_chart(table: Table, idx: FigureIndex, release_year: str) -> ChartData | None:
    spec = table.spec.chart
    if spec is None:
        return None

    def keep(key: dict[str, str]) -> bool:
        k = {**table.fixed, **key}
        m = k.get("measure")
        if m is not None:
            if spec.measures is not None and m not in spec.measures:
                return False
            if spec.measures is None and idx.is_change(m):
                return False
        b = k.get("breakdown")
        if b is not None:
            if spec.breakdowns is not None and b not in spec.breakdowns:
                return False
            if b in spec.exclude_breakdowns:
                return False
        t = k.get("time_period")
        if spec.years == "release" and t is not None and t != release_year:
            return False
        return True

    col_idx = [i for i, c in enumerate(table.columns) if keep(c.key)]
    row_idx = [i for i, r in enumerate(table.rows) if keep(r.key)]
    if not col_idx or not row_idx:
        return None

    def varying(labels: list[list[str]]) -> list[str]:
        if not labels:
            return []
        n = len(labels[0])
        keep_pos = [p for p in range(n) if len({lab[p] for lab in labels}) > 1] or [n - 1]
        return [" – ".join(lab[p] for p in keep_pos) for lab in labels]

    row_names = varying([table.rows[i].labels for i in row_idx])
    col_names = varying([table.columns[i].labels for i in col_idx])
    row_totals = [table.rows[r].is_total for r in row_idx]
    if spec.transpose:  # categories are the columns, one trace per row
        categories, trace_names = col_names, row_names
        grid = [[table.rows[r].cells[c] for c in col_idx] for r in row_idx]
        category_label = ""
        totals, trace_totals = [False] * len(col_idx), row_totals
    else:  # categories are the rows, one trace per column
        categories, trace_names = row_names, col_names
        grid = [[table.rows[r].cells[c] for r in row_idx] for c in col_idx]
        category_label = " – ".join(table.row_labels)
        totals, trace_totals = row_totals, [False] * len(col_idx)
    traces = [
        ChartTrace(
            name=name,
            points=[ChartPoint(cat, cell.num, cell.text, cell.status, total)
                    for cat, cell, total in zip(categories, cells, totals)],
            is_total=trace_total,
        )
        for name, cells, trace_total in zip(trace_names, grid, trace_totals)
    ]
    if all(p.num is None for t in traces for p in t.points):
        return None
    plotted = {
        m for r in row_idx for c in col_idx
        if (m := {**table.fixed, **table.rows[r].key, **table.columns[c].key}.get("measure"))
    }
    units = {idx.unit_suffix(m) for m in (plotted or table.measures)}
    unit = units.pop() if len(units) == 1 else ""
    axis_title = {"%": "Per cent", "number": "Number", "": ""}.get(unit)
    if axis_title is None:  # a rate: say what it counts, from the published unit
        rates = sorted({idx.unit(m) for m in (plotted or table.measures)})
        axis_title = rates[0] if len(rates) == 1 else unit
        axis_title = axis_title[:1].upper() + axis_title[1:]
    title = fill_title(spec.title or table.title, idx.years, release_year, spec.years == "all")
    return ChartData(
        spec=spec,
        number=0,
        id=f"chart-{table.id.replace('_', '-')}",
        title=title,
        category_label=category_label or "",
        unit=unit,
        axis_title=axis_title,
        traces=traces,
    )
