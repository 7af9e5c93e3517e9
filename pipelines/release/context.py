"""Everything the writers need, assembled once from the inputs, the configuration and the
metric catalog: tables, charts, notes, main points, coverage and methodology."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from pipelines.metric_catalog import GEOGRAPHIC_LEVELS, SOURCES, THEMES, Measure
from pipelines import reference
from markupsafe import Markup

from pipelines.release.commentary import render_commentary
from pipelines.release.config import COMMENTARY_MAIN, STATUS_LABELS, ReleaseConfig
from pipelines.release.model import (
    LEVEL_LABELS,
    STATUS_WORDS,
    Figure,
    FigureIndex,
    natural_key,
    with_commas,
)
from pipelines.release.tables import Note, Table, build_chart, build_table
from pipelines.revisions import RevisionView, release_rows

THEME_TITLES = {
    "turned_away": "Households turned away",
    "by_and_for": "By-and-for services",
    "move_on": "Move-on outcomes",
    "context": "Context",
    "coverage": "Coverage",
}
COMPLETENESS = ("complete", "partial", "not_collected")
SECTIONS = (("supported_completeness", "People supported"), ("characteristics_completeness", "Characteristics"))
RETURNS_COLUMNS = (
    "financial_year", "gss_code", "authority_name", "region_code", "region_name", "received", "file",
    "submission_number", "superseded_files", "supported_completeness", "characteristics_completeness",
)
ISSUE_COLUMNS = ("financial_year", "source", "file", "sheet", "location", "level", "code", "message")
LEVEL_WORDS = {"structural": "Structural error (return set aside)", "cell_error": "Cell error", "warning": "Warning"}
SETTING_LABELS = {
    "rounding_base": "Rounding base",
    "rounding": "Rounding rule",
    "rounded_levels": "Rounded geographic levels",
    "suppression_threshold": "Authority counts of people from 1 to this are suppressed",
    "minimum_denominator": "Smallest denominator for a published rate",
    "suppressed_levels": "Geographic levels where small counts are suppressed",
    "protection_width": "Fewest values every suppressed count must still be able to take",
    "minimum_change_base": "Smallest count an authority's percentage change is shown on",
    "draft": "Draft",
    "status": "Status",
    "decimals": "Decimal places of percentages and rates",
    "rules": "Rules",
}


@dataclass
class MainPoint:
    measure: str
    breakdown: str
    label: str
    sentence: str
    figure_id: str


@dataclass
class YearCoverage:
    year: str
    expected: int
    received: int
    missing: list[dict[str, Any]]
    resubmitted: list[dict[str, Any]]
    completeness: dict[str, dict[str, int]]  # section -> status -> number of returns
    incomplete: list[dict[str, Any]]  # authorities with a section partial or not collected
    population_share: float | None = None  # % of the expected authorities' residents in those with a return
    regions: list[tuple[str, int, int]] = field(default_factory=list)  # region, received, expected
    low: bool = False  # below the release's coverage_threshold, by authorities or by population

    @property
    def from_text(self) -> str:
        """`from 10 of 121 authorities`"""
        return f"from {self.received} of {self.expected} authorities"

    def caveat(self, threshold: float) -> str:
        share = "" if self.population_share is None else f", {self.population_share:.1f}% of their population"
        regions = "; ".join(f"{name} {got} of {of}" for name, got, of in self.regions if got < of)
        return (f"{self.year}: returns were received {self.from_text}{share}, less than the {threshold:g}% "
                "this release treats as full coverage. England and regional figures from the authority returns "
                "add up only the authorities with a return, so they understate the whole and are not comparable "
                "with years of fuller coverage" + (f" (by region: {regions})." if regions else "."))


@dataclass
class MeasureDoc:
    id: str
    theme: str
    title: str
    definition: Measure | None
    source: str
    unit: str
    geographies: str
    breakdowns: str
    figure_count: int
    example_id: str
    sql_file: str
    method_version: str


@dataclass
class ReleaseContext:
    config: ReleaseConfig
    year: str
    years: tuple[str, ...]
    draft: bool
    status: str
    publication_date: str
    contact: str
    idx: FigureIndex
    figures: pl.DataFrame
    tables: list[Table]
    notes: list[Note]
    main_points: list[MainPoint]
    coverage: list[YearCoverage]
    coverage_caveats: list[str]  # one per year shown whose returns fall short of full coverage
    returns_rows: list[list[str]]
    issues: list[dict[str, str]]
    issue_columns: list[str]
    issue_summary: str
    inputs: list[dict[str, str]]
    settings: list[tuple[str, list[str]]]
    release_notes: list[tuple[str, str, str]]  # id, title, text
    measure_docs: list[MeasureDoc]
    population: list[tuple[str, str]]
    sources_used: list[tuple[str, str]]
    revisions: list[dict[str, str]]
    extra: dict[str, Any] = field(default_factory=dict)
    commentary: dict[str, list[Markup]] = field(default_factory=dict)  # key -> paragraphs (commentary.py)
    statistician: str = ""
    next_update: str = ""
    updates: list[tuple[str, str]] = field(default_factory=list)  # change notes, newest first: (date, text)
    revised: RevisionView = field(default_factory=RevisionView)  # figures shown with [r], and the words around

    def tables_of(self, theme: str, page: str | None = None) -> list[Table]:
        return [t for t in self.tables if t.spec.theme == theme and (page is None or t.page == page)]

    def tables_on(self, page: str) -> list[Table]:
        return [t for t in self.tables if t.page == page]

    @property
    def charts(self):
        return [t.chart for t in self.tables if t.chart is not None]


MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December")


def _date_text(d) -> str:
    return f"{d.day} {MONTHS[d.month - 1]} {d.year}"  # not strftime: that depends on the locale


def _setting_items(value: Any) -> list[str]:
    """A setting for the page: one text, or one item per sentence for a list of rules."""
    if isinstance(value, (list, tuple)) and any(" " in str(v) for v in value):
        return [_setting_text(v) for v in value]
    return [_setting_text(value)]


def _setting_text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(_setting_text(v).replace("_", " ") for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_setting_text(v)}" for k, v in sorted(value.items()))
    return str(value)


def humanise(key: str) -> str:
    text = key.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def population_years(years: tuple[str, ...], vintages: tuple[int, ...]) -> list[tuple[str, str]]:
    out = []
    for y in years:
        start = int(y[:4])
        usable = [v for v in vintages if v <= start]
        vintage = max(usable) if usable else (min(vintages) if vintages else None)
        if vintage is None:
            continue
        latest = "" if vintage == start else " (the latest available)"
        out.append((y, f"ONS mid-{vintage} population estimates{latest}"))
    return out


def population_sentence(population: list[tuple[str, str]]) -> str:
    """`ONS mid-2021 for 2021-22; ONS mid-2022 for 2022-23, 2023-24 and 2024-25 (the latest available).`"""
    groups: dict[str, list[str]] = {}
    latest = False
    for year, text in population:
        vintage = text.split(" population")[0]
        groups.setdefault(vintage, []).append(year)
        latest = latest or "latest" in text
    parts = []
    for vintage, ys in groups.items():
        years = ys[0] if len(ys) == 1 else ", ".join(ys[:-1]) + " and " + ys[-1]
        parts.append(f"{vintage} for {years}")
    tail = f" ({list(groups)[-1].replace('ONS ', '')} is the latest available)" if latest else ""
    return "; ".join(parts) + tail + "."


def _change_parts(idx: FigureIndex, fig: Figure) -> str:
    """`up 70 households (5.6%)`: the published change figures in words, sign as a word."""
    change = idx.get(f"{fig.measure}_change", fig.breakdown, fig.geography_code, fig.time_period)
    pct = idx.get(f"{fig.measure}_change_percent", fig.breakdown, fig.geography_code, fig.time_period)
    if change is None or change.is_symbol:
        return ""
    assert change.value_num is not None  # not a symbol
    if change.value_num == 0:
        return "unchanged"
    direction = "up" if change.value_num > 0 else "down"
    amount = with_commas(change.value.lstrip("-"))
    unit = change.unit or idx.unit(change.measure)
    amount = f"{amount}%" if unit in ("percent", "%") else f"{amount} {unit}".strip()
    if pct is not None and not pct.is_symbol:
        amount += f" ({with_commas(pct.value.lstrip('-'))}%)"
    return f"{direction} {amount}"


def main_point(idx: FigureIndex, measure: str, breakdown: str, year: str, years: tuple[str, ...]) -> MainPoint | None:
    england = idx.england
    if england is None:
        return None
    cur = idx.get(measure, breakdown, england.code, year)
    if cur is None:
        return None
    label = idx.title(measure)
    if breakdown not in ("all",):
        label = f"{label}: {idx.breakdown_label(measure, breakdown)}"
    pos = years.index(year)
    prev_year = years[pos - 1] if pos > 0 else None
    text = f"{idx.with_unit(cur)} in England in {year}"
    prev = idx.get(measure, breakdown, england.code, prev_year) if prev_year else None
    if prev_year is None:
        text += "; there is no earlier year in this release."
    elif prev is None:
        text += f"; no figure was published for {prev_year}."
    else:
        change_fig = idx.get(f"{measure}_change", breakdown, england.code, year)
        if "break_in_series" in (cur.value_status, prev.value_status) or (
            change_fig is not None and change_fig.value_status == "break_in_series"
        ):
            text += f", not comparable with {idx.with_unit(prev)} in {prev_year} (break in series [b])."
        else:
            change = _change_parts(idx, cur)
            if change == "unchanged":
                text += f", unchanged from {idx.with_unit(prev)} in {prev_year}."
            elif change:
                text += f", {change} from {idx.with_unit(prev)} in {prev_year}."
            else:
                text += f", compared with {idx.with_unit(prev)} in {prev_year}."
    return MainPoint(measure, breakdown, label, text, cur.figure_id)


def _note_text(key: tuple[str, ...], ctx_settings: dict[str, Any], config: ReleaseConfig,
               notes: dict[str, str], population: list[tuple[str, str]]) -> str | None:
    kind = key[0]
    if kind == "caveat":
        return key[1]
    if kind == "change":
        return config.change_note
    if kind == "missing":
        return ("[x] is shown where no figure is published for a cell, and [z] where a change has "
                "no previous year to compare with.")
    if kind == "population":
        return "Population estimates used: " + population_sentence(population)
    if kind == "rounding":
        base = ctx_settings.get("rounding_base")
        rule = ctx_settings.get("rounding")
        levels = ctx_settings.get("rounded_levels")
        where = " and ".join(str(x).replace("_", " ") for x in levels) if levels else "England and regional"
        if base:
            rule_text = f" ({rule})" if rule else ""
            return (f"Counts of people at {where} level are rounded to the nearest {base}{rule_text}; "
                    "rates and shares are computed before rounding, so totals may not equal the sum of their parts.")
        return "Counts of people at England and regional level are rounded; rates and shares are computed before rounding."
    if kind == "suppression":
        return ("Small counts that could identify someone are suppressed and shown as [c], as are other "
                "cells from which a suppressed value could be worked out. [x] means no return or not collected.")
    if kind == "release_note":
        return notes.get(key[1])
    if kind == "caveat_note":
        return next((f"{c['title']}: {c['text']}" for c in config.caveats if c.get("id") == key[1]), None)
    return None


def _coverage(returns: pl.DataFrame, years: tuple[str, ...], threshold: float = 90) -> list[YearCoverage]:
    out = []
    rows = sorted(returns.iter_rows(named=True),
                  key=lambda r: (str(r["financial_year"]), (r["authority_name"] or "").casefold(), str(r["gss_code"])))
    for y in years:
        yr = [r for r in rows if r["financial_year"] == y]
        if not yr:
            continue
        received = [r for r in yr if r["received"]]
        completeness = {
            label: {s: sum(1 for r in received if r.get(col) == s) for s in COMPLETENESS}
            for col, label in SECTIONS
        }
        incomplete = [
            {
                "authority_name": r["authority_name"] or "",
                "gss_code": r["gss_code"] or "",
                "region_name": r.get("region_name") or "",
                **{label: (r.get(col) or "not stated").replace("_", " ") for col, label in SECTIONS},
            }
            for r in received
            if any(r.get(col) in ("partial", "not_collected") for col, _ in SECTIONS)
        ]
        out.append(
            YearCoverage(
                year=y,
                expected=len(yr),
                received=len(received),
                missing=[{"authority_name": r["authority_name"] or "", "gss_code": r["gss_code"] or "",
                          "region_name": r.get("region_name") or ""} for r in yr if not r["received"]],
                resubmitted=[
                    {"authority_name": r["authority_name"] or "", "gss_code": r["gss_code"] or "",
                     "file": r.get("file") or "", "submission_number": "" if r.get("submission_number") is None
                     else str(r["submission_number"]), "superseded_files": r.get("superseded_files") or ""}
                    for r in received if r.get("superseded_files")
                ],
                completeness=completeness,
                incomplete=incomplete,
            )
        )
        c = out[-1]
        residents = {r["gss_code"]: (reference.population(r["gss_code"], y) or (0, 0))[0] for r in yr}
        whole = sum(residents.values())
        c.population_share = 100 * sum(residents[r["gss_code"]] for r in received) / whole if whole else None
        by_region: dict[str, list[int]] = {}
        for r in yr:
            got = by_region.setdefault(r.get("region_name") or "", [0, 0])
            got[0] += 1 if r["received"] else 0
            got[1] += 1
        c.regions = [(name, got, of) for name, (got, of) in sorted(by_region.items()) if name]
        c.low = 100 * c.received < threshold * c.expected or (c.population_share is not None
                                                              and c.population_share < threshold)
    return out


def _returns_rows(returns: pl.DataFrame) -> list[list[str]]:
    def text(v: Any) -> str:
        if v is None:
            return ""
        if isinstance(v, bool):
            return "yes" if v else "no"
        return str(v)

    rows = [[text(r.get(c)) for c in RETURNS_COLUMNS] for r in returns.iter_rows(named=True)]
    rows.sort(key=lambda r: (r[0], r[4], r[2].casefold(), r[1], r))
    return rows


def _issues(issues: pl.DataFrame) -> tuple[list[dict[str, str]], list[str]]:
    extra = sorted(c for c in issues.columns if c not in ISSUE_COLUMNS)
    columns = [c for c in ISSUE_COLUMNS if c in issues.columns] + extra
    rows = [{c: "" if r.get(c) is None else str(r[c]) for c in columns} for r in issues.iter_rows(named=True)]
    level_rank = {"structural": 0, "cell_error": 1, "warning": 2}
    rows.sort(key=lambda r: (
        r.get("financial_year", ""), level_rank.get(r.get("level", ""), 9), r.get("source", ""),
        r.get("file", ""), r.get("sheet", ""), natural_key(r.get("location", "")), r.get("code", ""),
        r.get("message", ""), tuple(r.get(c, "") for c in extra),
    ))
    return rows, columns


def _issue_summary(issues: list[dict[str, str]]) -> str:
    words = {"structural": ("structural error", "structural errors"), "cell_error": ("cell error", "cell errors"),
             "warning": ("warning", "warnings")}
    parts = []
    for level, (one, many) in words.items():
        n = sum(1 for r in issues if r.get("level") == level)
        if n:
            parts.append(f"{n} {one if n == 1 else many}")
    other = sum(1 for r in issues if r.get("level") not in words)
    if other:
        parts.append(f"{other} other")
    total = len(issues)
    head = f"{total} problem was found" if total == 1 else f"{total} problems were found"
    return f"{head}: " + ", ".join(parts) + "." if parts else f"{head}."


def _example_id(idx: FigureIndex, measure: str, fallback: str) -> str:
    """England, the first breakdown, the release year: the figure a reader looks for first."""
    england = idx.england
    breakdowns = idx.breakdowns_of(measure)
    if england is not None and breakdowns:
        fig = idx.get(measure, breakdowns[0], england.code, idx.years[-1])
        if fig is not None:
            return fig.figure_id
    return fallback


def _measure_docs(idx: FigureIndex, figures: pl.DataFrame) -> list[MeasureDoc]:
    counts = dict(figures.group_by("measure").len().iter_rows())
    firsts = dict(
        figures.sort("figure_id").group_by("measure", maintain_order=True).agg(pl.col("figure_id").first()).iter_rows()
    )
    examples = {m: _example_id(idx, m, str(firsts.get(m, ""))) for m in counts}
    docs = []
    catalog_order = {m: i for i, m in enumerate(idx.catalog)}
    for m in sorted(counts, key=lambda x: (catalog_order.get(x, len(catalog_order)), x)):
        if idx.is_change(m):
            continue
        d = idx.catalog.get(m)
        theme = d.theme if d else "context"
        docs.append(
            MeasureDoc(
                id=m,
                theme=theme,
                title=idx.title(m),
                definition=d,
                source=SOURCES.get(d.source, d.source) if d else "not recorded",
                unit=idx.unit(m),
                geographies=", ".join(LEVEL_LABELS[g].lower() if g != "national" else "England"
                                      for g in (d.geographies if d else ())),
                breakdowns=", ".join(d.breakdown_label(b) for b in d.breakdowns) if d else
                ", ".join(idx.breakdowns_of(m)),
                figure_count=int(counts[m]) + sum(int(counts.get(f"{m}{s}", 0)) for s in ("_change", "_change_percent")),
                example_id=str(examples.get(m, "")),
                sql_file=d.sql_file if d else "not recorded",
                method_version=str(d.method_version) if d else "not recorded",
            )
        )
    theme_rank = {t: i for i, t in enumerate(THEMES)}
    docs.sort(key=lambda x: (theme_rank.get(x.theme, 99), catalog_order.get(x.id, 10**6), x.id))
    return docs


AUTHORITY_LEVELS = ("local_authority", "police_force_area")


def assign_pages(tables: list[Table], config: ReleaseConfig) -> None:
    """The page of each table: authority and police force area tables on authorities.html, the
    coverage tables on data-quality.html, each section's headline tables (`headline: true`, or
    its first table when none is marked) on the main page, every other table on tables.html."""
    for s in config.sections:
        own = [t for t in tables if t.spec.theme == s.id]
        main = [t for t in own if t.spec.headline and t.level not in AUTHORITY_LEVELS]
        if not main and s.id != "coverage":
            main = [t for t in own if t.level not in AUTHORITY_LEVELS][:1]
        for t in own:
            if t.level in AUTHORITY_LEVELS:
                t.page = "authorities.html"
            elif s.id == "coverage":
                t.page = "data-quality.html"
            else:
                t.page = "index.html" if t in main else "tables.html"


def _updated(config: ReleaseConfig, year: str, revisions: list[dict[str, str]]) -> list[tuple[str, str]]:
    """The change notes of the year's release, newest first: (date, what changed)."""
    notes = [(_date_text(d), text) for d, text in reversed(config.updates_for(year))]
    if revisions and not notes:
        notes.append(("", f"Revised figures: {len(revisions)} figure{'s' if len(revisions) != 1 else ''} "
                          "changed since the previous release of this year (see Revisions)."))
    return notes


def build_context(inputs, config: ReleaseConfig, catalog: dict[str, Measure]) -> ReleaseContext:
    settings = dict(inputs.settings or {})
    draft = bool(settings.get("draft", False))
    status = str(settings.get("status") or config.status_for(inputs.year))
    if status not in STATUS_LABELS:
        raise ValueError(f"status {status!r} is not one of {', '.join(STATUS_LABELS)}")
    if inputs.year in config.publication_dates:
        publication_date = _date_text(config.publication_dates[inputs.year])
    elif draft:
        publication_date = "Not yet set (draft)"
    else:  # the preflight (pipelines/preflight.py) stops a final build before this
        raise ValueError(f"reports/years/{inputs.year}.yaml gives no publication date")
    idx = FigureIndex(inputs.figures, inputs.years, catalog)
    population = population_years(inputs.years, config.population_vintages)

    section_rank = {s.id: i for i, s in enumerate(config.sections)}
    specs = sorted(enumerate(config.tables), key=lambda p: (section_rank[p[1].theme], p[0]))
    tables: list[Table] = []
    for _, spec in specs:
        t = build_table(spec, idx, inputs.year)
        if t is None:
            continue
        t.number = len(tables) + 1
        t.chart = build_chart(t, idx, inputs.year)
        tables.append(t)
    chart_no = 0
    for t in tables:
        if t.chart is not None:
            chart_no += 1
            t.chart.number = chart_no
    assign_pages(tables, config)
    # the statistician's words, checked against the figures before anything is written
    commentary = render_commentary(config.commentary_for(inputs.year), idx, inputs.year,
                                   {s.id: s.title for s in config.sections} | {COMMENTARY_MAIN: "Main points"})

    coverage = _coverage(inputs.returns, inputs.years, config.coverage_threshold)
    short = {c.year: c for c in coverage if c.low}
    returns_measures = {m.id for m in catalog.values() if m.source == "authority_returns"}
    for t in tables:  # a table of figures from the returns, in a year short of full coverage, says so
        if t.level in ("national", "regional") and any(m.removesuffix("_change") in returns_measures
                                                       for m in t.measures):
            t.note_keys += [("coverage", y) for y in sorted(short) if y in inputs.years]

    notes: list[Note] = []
    by_key: dict[tuple[str, ...], Note] = {}
    release_note_ids = sorted(inputs.notes or {})
    caveat_ids = {c["id"] for c in config.caveats if c.get("id")}
    for t in tables:
        expanded: list[tuple[str, ...]] = []
        for key in t.note_keys:  # a table's note id also takes that id per year: referrals_pending_2024-25
            if key[0] == "release_note" and key[1] in caveat_ids:  # a caveat of the release, by its id
                expanded.append(("caveat_note", key[1]))
            elif key[0] == "release_note":
                expanded += [("release_note", k) for k in release_note_ids
                             if k == key[1] or k.startswith(key[1] + "_")]
            else:
                expanded.append(key)
        for key in expanded:
            if key not in by_key:
                text = (short[key[1]].caveat(config.coverage_threshold) if key[0] == "coverage"
                        else _note_text(key, settings, config, inputs.notes or {}, population))
                if not text:
                    continue
                by_key[key] = Note(len(notes) + 1, key, text)
                notes.append(by_key[key])
            t.notes.append(by_key[key])
        t.notes.sort(key=lambda n: n.number)

    points: list[MainPoint] = []
    wanted = list(config.main_points)
    for m in catalog.values():
        if m.headline and not any(w[0] == m.id for w in wanted):
            wanted.append((m.id, "all"))
    for measure, breakdown in wanted:
        p = main_point(idx, measure, breakdown, inputs.year, inputs.years)
        if p is not None:
            if inputs.year in short and measure in returns_measures:  # the figure says how few it is from
                where = f"in England in {inputs.year}"
                p = dataclasses.replace(p, sentence=p.sentence.replace(
                    where, f"{where} ({short[inputs.year].from_text})", 1))
            points.append(p)

    issues, issue_columns = _issues(inputs.issues)
    inputs_rows = sorted(
        ({c: "" if r.get(c) is None else str(r[c]) for c in ("financial_year", "source", "path", "sha256")}
         for r in inputs.inputs.iter_rows(named=True)),
        key=lambda r: (r["financial_year"], r["source"], r["path"], r["sha256"]),
    )
    release_notes = [(k, humanise(k), " ".join(str(v).split())) for k, v in sorted((inputs.notes or {}).items())]
    sources_used = sorted({(d.source, SOURCES.get(d.source, d.source)) for d in
                           (idx.catalog.get(m) for m in idx.measures_present()) if d})
    revisions, revised = release_rows(inputs, list(config.revisions.get(inputs.year, ())), idx)
    return ReleaseContext(
        config=config,
        year=inputs.year,
        years=inputs.years,
        draft=draft,
        status=status,
        publication_date=publication_date,
        contact=config.contact_for(inputs.year),
        idx=idx,
        figures=inputs.figures,
        tables=tables,
        notes=notes,
        main_points=points,
        coverage=coverage,
        coverage_caveats=[c.caveat(config.coverage_threshold) for c in coverage if c.low],
        returns_rows=_returns_rows(inputs.returns),
        issues=issues,
        issue_columns=issue_columns,
        issue_summary=_issue_summary(issues),
        inputs=inputs_rows,
        settings=[(SETTING_LABELS.get(k, humanise(k)), _setting_items(v)) for k, v in sorted(settings.items())],
        release_notes=release_notes,
        measure_docs=_measure_docs(idx, inputs.figures),
        population=population,
        sources_used=sources_used,
        revisions=revisions,
        revised=revised,
        commentary=commentary,
        statistician=config.statistician_for(inputs.year),
        next_update=config.next_update_for(inputs.year),
        updates=_updated(config, inputs.year, revisions),
        extra={"status_words": STATUS_WORDS, "level_words": LEVEL_WORDS, "theme_titles": THEME_TITLES,
               "geographic_levels": GEOGRAPHIC_LEVELS, "disclosure": inputs.disclosure},
    )
