"""The Explore Education Statistics files of a release (`data/ees/`, pipelines/release/ees.py)
against EES's data standards, on the hand-made fixture release and on the sample release.

`ees_problems` is a checker of its own: it reads the files with the csv module and applies the
rules of EES's open data standards as DfE's screener (eesyscreener) does for a data file and
its `.meta.csv`; `figure_problems` compares every cell with `figures.csv`. Neither uses the
writer's helpers. A broken copy of each file must be caught.
"""

from __future__ import annotations

import csv
import dataclasses
import importlib.util
import io
import json
import re
import shutil
import sys
from pathlib import Path

import polars as pl
import pytest

from pipelines.metric_catalog import measures
from pipelines.release import write_release

_spec = importlib.util.spec_from_file_location(
    "release_inputs_fixture", Path(__file__).parent / "fixtures" / "release_inputs.py"
)
fixture = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = fixture
_spec.loader.exec_module(fixture)

# --- the standard, as this checker reads it -------------------------------------------------
FIRST_COLUMNS = ["time_period", "time_identifier", "geographic_level", "country_code", "country_name"]
SIX_DIGIT = {"Financial year", "Academic year", "Tax year", "Autumn and spring term", "Autumn term",
             "Spring term", "Summer term"}
FOUR_DIGIT = {"Calendar year", "Reporting year"}
SPANNING = {"Financial year", "Academic year", "Tax year"}  # 202425: 2024 then 25
# geographic_level -> its code column, name column and secondary code column
LEVEL_COLUMNS = {
    "National": ("country_code", "country_name", None),
    "Regional": ("region_code", "region_name", None),
    "Local authority": ("new_la_code", "la_name", "old_la_code"),
    "Local authority district": ("lad_code", "lad_name", None),
    "RSC region": (None, "rsc_region_lead_name", None),
    "Parliamentary constituency": ("pcon_code", "pcon_name", None),
    "Local skills improvement plan area": ("lsip_code", "lsip_name", None),
    "Local enterprise partnership": ("local_enterprise_partnership_code", "local_enterprise_partnership_name", None),
    "English devolved area": ("english_devolved_area_code", "english_devolved_area_name", None),
    "Opportunity area": ("opportunity_area_code", "opportunity_area_name", None),
    "Ward": ("ward_code", "ward_name", None),
    "MAT": ("trust_id", "trust_name", None),
    "Sponsor": ("sponsor_id", "sponsor_name", None),
    "School": ("school_urn", "school_name", "school_laestab"),
    "Provider": ("provider_ukprn", "provider_name", None),
    "Institution": ("institution_id", "institution_name", None),
    "Planning area": ("planning_area_code", "planning_area_name", None),
    "Police force area": ("pfa_code", "pfa_name", None),
}
GEOGRAPHY_COLUMNS = {c for cols in LEVEL_COLUMNS.values() for c in cols if c}
# the levels whose rows may fill the columns of a level (a row carries the areas it lies in)
MAY_FILL = {
    "Regional": {"Regional", "Local authority", "Police force area"},
    "Local authority": {"Local authority", "Police force area"},
    "Police force area": {"Police force area"},
}
# ... and the levels whose rows must
MUST_FILL = {"National": set(LEVEL_COLUMNS), "Regional": {"Regional", "Local authority"},
             "Local authority": {"Local authority"}, "Police force area": {"Police force area"}}
CODE_PATTERNS = {"country_code": r"E92000001", "region_code": r"E12[0-9]{6}", "new_la_code": r"E[0-9]{8}",
                 "pfa_code": r"E23[0-9]{6}"}
META_COLUMNS = ["col_name", "col_type", "label", "indicator_grouping", "indicator_unit", "indicator_dp",
                "filter_hint", "filter_grouping_column"]
UNITS = {"", "%", "pp", "£", "£m", "numberstring"}
SYMBOLS = {"x", "c", "z", "low"}  # the GSS symbols EES takes in an indicator
NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")
SNAKE = re.compile(r"[a-z][a-z0-9_]*")
FILE_NAME = re.compile(r"[A-Za-z0-9_-]+")
MAX_NAME, MAX_LABEL, MAX_CODE = 50, 100, 30  # the limits of EES's API data sets

# this release's symbols in EES's: a withheld break in series is not available
RELEASE_SYMBOLS = {"[x]": "x", "[c]": "c", "[z]": "z", "[low]": "low", "[b]": "x"}
RELEASE_LEVELS = {"national": "National", "regional": "Regional", "local_authority": "Local authority",
                  "police_force_area": "Police force area"}


def _read(path: Path, problems: list[str]) -> list[list[str]]:
    raw = path.read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):
        problems.append(f"{path.name}: starts with a byte order mark")
    if b"\r" in raw:
        problems.append(f"{path.name}: carriage return (not LF line endings)")
    if raw and not raw.endswith(b"\n"):
        problems.append(f"{path.name}: no newline at the end")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        problems.append(f"{path.name}: not UTF-8")
        return []
    return list(csv.reader(io.StringIO(text, newline="")))


def ees_problems(folder: Path) -> list[str]:
    """Every breach of the EES data standards by the data files of `folder` and their .meta.csv."""
    problems: list[str] = []
    data_files = sorted(p for p in folder.glob("*.csv") if not p.name.endswith(".meta.csv"))
    meta_files = sorted(folder.glob("*.meta.csv"))
    if not data_files:
        problems.append(f"{folder}: no data file")
    for meta in meta_files:
        if not (folder / meta.name.replace(".meta.csv", ".csv")).is_file():
            problems.append(f"{meta.name}: no data file beside it")
    extra = sorted(p.name for p in folder.iterdir() if p.suffix != ".csv")
    if extra:
        problems.append(f"{folder}: files other than CSV: {extra}")
    for path in data_files:
        meta = folder / (path.name[:-4] + ".meta.csv")
        if not FILE_NAME.fullmatch(path.name[:-4]):
            problems.append(f"{path.name}: file name holds characters other than letters, digits, - and _")
        if not meta.is_file():
            problems.append(f"{path.name}: no {meta.name} beside it")
            continue
        problems += _file_problems(path, meta)
    return problems


def _file_problems(path: Path, meta_path: Path) -> list[str]:
    problems: list[str] = []
    name = path.name
    rows = _read(path, problems)
    meta_rows = _read(meta_path, problems)
    if not rows or not meta_rows:
        return problems + [f"{name}: empty file"]
    header, body = rows[0], rows[1:]
    if not body:
        problems.append(f"{name}: no rows")
    # --- the metadata file
    if meta_rows[0] != META_COLUMNS:
        problems.append(f"{meta_path.name}: columns {meta_rows[0]} are not {META_COLUMNS}")
        return problems
    meta = [dict(zip(META_COLUMNS, r)) for r in meta_rows[1:]]
    if any(len(r) != len(META_COLUMNS) for r in meta_rows[1:]):
        problems.append(f"{meta_path.name}: a row with the wrong number of cells")
    described = [m["col_name"] for m in meta]
    if len(set(described)) != len(described):
        problems.append(f"{meta_path.name}: a column listed twice")
    labels = [m["label"] for m in meta]
    if len(set(labels)) != len(labels):
        problems.append(f"{meta_path.name}: two columns share a label")
    for m in meta:
        col, typ = m["col_name"], m["col_type"]
        if typ not in ("Filter", "Indicator"):
            problems.append(f"{meta_path.name}: {col}: col_type {typ!r} is neither Filter nor Indicator")
        if not m["label"].strip():
            problems.append(f"{meta_path.name}: {col}: no label")
        if len(m["label"]) > MAX_LABEL:
            problems.append(f"{meta_path.name}: {col}: label longer than {MAX_LABEL} characters")
        if col in FIRST_COLUMNS or col in GEOGRAPHY_COLUMNS:
            problems.append(f"{meta_path.name}: {col} is a time or geography column, not a filter or indicator")
        if typ == "Filter" and (m["indicator_grouping"] or m["indicator_unit"] or m["indicator_dp"]):
            problems.append(f"{meta_path.name}: filter {col} has an indicator grouping, unit or dp")
        if typ == "Indicator":
            if m["filter_hint"] or m["filter_grouping_column"]:
                problems.append(f"{meta_path.name}: indicator {col} has a filter hint or grouping column")
            if m["indicator_unit"] not in UNITS:
                problems.append(f"{meta_path.name}: {col}: indicator_unit {m['indicator_unit']!r} is not one EES has")
            if not m["indicator_dp"].isdigit():
                problems.append(f"{meta_path.name}: {col}: indicator_dp {m['indicator_dp']!r} is not a whole number")
        if m["filter_grouping_column"] and m["filter_grouping_column"] not in header:
            problems.append(f"{meta_path.name}: {col}: grouping column {m['filter_grouping_column']} is not in the data")
    # --- the columns
    for col in header:
        if not SNAKE.fullmatch(col):
            problems.append(f"{name}: column {col!r} is not lowercase snake_case starting with a letter")
        if len(col) > MAX_NAME:
            problems.append(f"{name}: column {col} is longer than {MAX_NAME} characters")
    if len(set(header)) != len(header):
        problems.append(f"{name}: a column appears twice")
    if header[:len(FIRST_COLUMNS)] != FIRST_COLUMNS:
        problems.append(f"{name}: does not start with {', '.join(FIRST_COLUMNS)}")
    observational = [c for c in header if c in FIRST_COLUMNS or c in GEOGRAPHY_COLUMNS]
    if header[:len(observational)] != observational:
        problems.append(f"{name}: a filter or indicator comes before a time or geography column")
    rest = [c for c in header if c not in observational]
    if sorted(rest) != sorted(described):
        problems.append(f"{name}: the meta file lists {sorted(described)}, the data has {sorted(rest)}")
    if {"new_la_code", "la_name", "old_la_code"} & set(header) and not \
            {"new_la_code", "la_name", "old_la_code"} <= set(header):
        problems.append(f"{name}: new_la_code, la_name and old_la_code must come together")
    kinds = {m["col_name"]: m for m in meta}
    filters = [c for c in rest if kinds.get(c, {}).get("col_type") == "Filter"]
    indicators = [c for c in rest if kinds.get(c, {}).get("col_type") == "Indicator"]
    if not indicators:
        problems.append(f"{name}: no indicator")
    # --- the rows
    records = []
    for i, r in enumerate(body, start=2):
        if len(r) != len(header):
            problems.append(f"{name} line {i}: {len(r)} cells for {len(header)} columns")
            continue
        records.append((i, dict(zip(header, r))))
    identifiers = {rec["time_identifier"] for _, rec in records}
    if len(identifiers) > 1:
        problems.append(f"{name}: more than one time_identifier: {sorted(identifiers)}")
    seen: dict[tuple[str, ...], int] = {}
    filled: set[str] = set()
    for i, rec in records:
        where = f"{name} line {i}"
        period, ident, level = rec["time_period"], rec["time_identifier"], rec["geographic_level"]
        if ident in SIX_DIGIT:
            if not re.fullmatch(r"[0-9]{6}", period):
                problems.append(f"{where}: time_period {period!r} is not six digits for {ident}")
            elif ident in SPANNING and int(period[4:]) != (int(period[:4]) + 1) % 100:
                problems.append(f"{where}: time_period {period} does not span two consecutive years")
        elif ident in FOUR_DIGIT:
            if not re.fullmatch(r"[0-9]{4}", period):
                problems.append(f"{where}: time_period {period!r} is not four digits for {ident}")
        else:
            problems.append(f"{where}: time_identifier {ident!r} is not one EES has")
        if level not in LEVEL_COLUMNS:
            problems.append(f"{where}: geographic_level {level!r} is not one EES has")
            continue
        for lvl, must in MUST_FILL.items():
            cols = [c for c in LEVEL_COLUMNS[lvl] if c]
            if level in must:
                for c in cols:
                    if c not in rec:
                        problems.append(f"{where}: {level} row, but no column {c}")
                    elif not rec[c].strip():
                        problems.append(f"{where}: {level} row with {c} blank")
            if lvl in MAY_FILL and level not in MAY_FILL[lvl]:
                for c in cols:
                    if rec.get(c):
                        problems.append(f"{where}: {level} row with {c} filled")
        if rec.get("country_code") and rec.get("country_name") and \
                (rec["country_code"], rec["country_name"]) != ("E92000001", "England"):
            problems.append(f"{where}: country {rec['country_code']} {rec['country_name']} is not England")
        for c, pattern in CODE_PATTERNS.items():
            if rec.get(c) and not re.fullmatch(pattern, rec[c]):
                problems.append(f"{where}: {c} {rec[c]!r} is not a code of that kind")
        for c in observational:
            if len(rec[c]) > (MAX_CODE if c.endswith("_code") else 120):
                problems.append(f"{where}: {c} too long for an EES API data set")
            if rec[c] in ("Total", "total", "All", "all"):
                problems.append(f"{where}: {c} holds {rec[c]!r} (a total belongs in a filter)")
        for c in filters:
            if not rec[c].strip():
                problems.append(f"{where}: filter {c} blank")
        for c in indicators:
            cell = rec[c]
            if NUMBER.fullmatch(cell):
                dp = kinds[c]["indicator_dp"]
                if dp.isdigit() and len(cell.partition(".")[2]) != int(dp):
                    problems.append(f"{where}: {c} {cell} is not shown to indicator_dp {dp} places")
            elif cell not in SYMBOLS:
                problems.append(f"{where}: {c} holds {cell!r}: neither a number nor an EES symbol")
        for c in header:
            if rec[c].startswith(("=", "+", "@", "\t", "\r")) or (rec[c].startswith("-") and not NUMBER.fullmatch(rec[c])):
                problems.append(f"{where}: {c} would read as a formula")
            if rec[c].strip():
                filled.add(c)
        key = tuple(rec[c] for c in [*observational, *filters])
        if key in seen:
            problems.append(f"{where}: the same time, geography and filters as line {seen[key]}")
        seen.setdefault(key, i)
    empty = [c for c in header if c not in filled]
    if records and empty:
        problems.append(f"{name}: columns with no value at all: {empty}")
    return problems


# --- the same numbers as figures.csv -----------------------------------------------------------
def _expected_item(measure: str, breakdown: str) -> str:
    m = measures().get(measure)
    label = m.breakdown_label(breakdown) if m else ("All" if breakdown == "all" else breakdown.replace("_", " ").capitalize())
    return "Total" if breakdown == "all" and label == "All" else label


def _level_code(rec: dict[str, str]) -> str:
    code_col = LEVEL_COLUMNS[rec["geographic_level"]][0]
    return rec.get(code_col or "", "")


def figure_problems(folder: Path, figures_csv: Path) -> list[str]:
    """Every figure of figures.csv (but the changes on the previous year) in the EES files with
    the same value, numerator and denominator; every other indicator cell `z`."""
    problems: list[str] = []
    with figures_csv.open(encoding="utf-8", newline="") as f:
        figures = list(csv.DictReader(f))
    ids = {r["measure"] for r in figures}
    changes = {m for m in ids if any(m.endswith(s) and m[: -len(s)] in ids for s in ("_change", "_change_percent"))}
    cells: dict[tuple[str, str, str, str, str], str] = {}  # (column, level, code, period, item) -> cell
    column_file: dict[str, str] = {}
    for path in sorted(p for p in folder.glob("*.csv") if not p.name.endswith(".meta.csv")):
        with (folder / (path.name[:-4] + ".meta.csv")).open(encoding="utf-8", newline="") as f:
            meta = list(csv.DictReader(f))
        filters = [m["col_name"] for m in meta if m["col_type"] == "Filter"]
        indicators = [m["col_name"] for m in meta if m["col_type"] == "Indicator"]
        for col in indicators:
            if col in column_file:
                problems.append(f"{col} in both {column_file[col]} and {path.name}")
            column_file[col] = path.name
        with path.open(encoding="utf-8", newline="") as f:
            for rec in csv.DictReader(f):
                item = " / ".join(rec[c] for c in filters)
                for col in indicators:
                    cells[(col, rec["geographic_level"], _level_code(rec), rec["time_period"], item)] = rec[col]
    found: set[tuple[str, str, str, str, str]] = set()
    for m in sorted(changes):
        if m in column_file:
            problems.append(f"{m}: a change on the previous year is a column of {column_file[m]}")
    published = {(r["measure"], f) for r in figures for f in ("numerator", "denominator") if r[f]}
    for r in figures:
        m = r["measure"]
        if m in changes:
            continue
        key = (RELEASE_LEVELS[r["geographic_level"]], r["geography_code"],
               r["time_period"].replace("-", ""), _expected_item(m, r["breakdown"]))
        value = RELEASE_SYMBOLS.get(r["value"], r["value"])
        expected = {m: value}
        for f in ("numerator", "denominator"):
            if (m, f) in published:
                expected[f"{m}_{f}"] = RELEASE_SYMBOLS.get(r[f], r[f]) if r[f] else (
                    value if value in ("c", "x", "z") else "x")
            elif f"{m}_{f}" in column_file:
                problems.append(f"{m}_{f}: a column, though no {f} of {m} is published")
        for col, want in expected.items():
            got = cells.get((col, *key))
            if got is None:
                problems.append(f"{r['figure_id']}: no cell {col} in the EES files")
            elif got != want:
                problems.append(f"{r['figure_id']}: {col} is {got!r} in the EES files, {want!r} in figures.csv")
            found.add((col, *key))
    for key, cell in cells.items():
        if key not in found and cell != "z":
            problems.append(f"{key}: {cell!r} with no figure behind it (only z may be)")
    return problems


# --- the releases --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ees_release")
    write_release(out, fixture.build_inputs())
    return out


@pytest.fixture(scope="module")
def draft(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ees_draft")
    write_release(out, fixture.build_inputs(draft=True))
    return out


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_the_fixture_release_has_ees_files_that_meet_the_standard(release):
    folder = release / "data" / "ees"
    assert sorted(p.name for p in folder.iterdir()) == ["marac.csv", "marac.meta.csv", "turned_away.csv",
                                                        "turned_away.meta.csv"]
    assert ees_problems(folder) == []
    assert figure_problems(folder, release / "data" / "figures.csv") == []


def test_the_sample_release_has_ees_files_that_meet_the_standard(sample_release):
    folder = sample_release / "data" / "ees"
    names = sorted(p.name for p in folder.glob("*.csv") if not p.name.endswith(".meta.csv"))
    families = sorted({m.family for m in measures().values()})
    assert names == [f"{f}.csv" for f in families]
    assert ees_problems(folder) == []
    assert figure_problems(folder, sample_release / "data" / "figures.csv") == []
    levels = {r["geographic_level"] for p in folder.glob("*.csv") if not p.name.endswith(".meta.csv")
              for r in _rows(p)}
    assert levels == {"National", "Regional", "Local authority", "Police force area"}
    manifest = {o["path"] for o in json.loads((sample_release / "manifest.json").read_text())["outputs"]}
    assert {f"data/ees/{n}" for n in names} | {f"data/ees/{n[:-4]}.meta.csv" for n in names} <= manifest


def test_england_values_are_those_of_figures_csv(release):
    rows = _rows(release / "data" / "ees" / "turned_away.csv")
    england = {(r["time_period"], r["breakdown"]): r for r in rows if r["geographic_level"] == "National"}
    assert england[("202425", "Total")]["households_supported"] == "1320"
    assert england[("202425", "Total")]["turned_away_rate"] == "28.3"
    assert england[("202324", "Total")]["households_unable_to_support"] == "640"
    figures = {r["figure_id"]: r for r in _rows(release / "data" / "figures.csv")}
    assert england[("202324", "Second stage")]["households_supported"] == "low"  # [low]
    assert figures["households_supported.second_stage.E92000001.2023-24"]["value"] == "[low]"
    assert england[("202324", "No recourse to public funds")]["turned_away_reason_share"] == "z"  # [z]
    assert england[("202324", "Refuge")]["turned_away_rate"] == "z"  # no such figure
    marac = {(r["time_period"], r["geographic_level"]): r for r in _rows(release / "data" / "ees" / "marac.csv")}
    assert marac[("202425", "National")]["marac_cases_per_10000_women"] == "x"  # [b]: not available
    assert marac[("202425", "Police force area")]["pfa_code"] == "E23000013"
    # every symbol of the release, as EES writes it
    cells = {v for p in (release / "data" / "ees").glob("*.csv") if not p.name.endswith(".meta.csv")
             for r in _rows(p) for v in r.values()}
    assert {"x", "c", "z", "low"} <= cells
    assert not {c for c in cells if c.startswith("[")}


def test_the_meta_file_describes_each_filter_and_indicator(release):
    meta = {r["col_name"]: r for r in _rows(release / "data" / "ees" / "turned_away.meta.csv")}
    assert list(meta) == ["breakdown", "turned_away_rate", "turned_away_reason_share",
                          "households_unable_to_support", "households_supported"]
    assert meta["breakdown"]["col_type"] == "Filter" and meta["breakdown"]["label"] == "Breakdown"
    assert meta["turned_away_rate"] == {**meta["turned_away_rate"], "col_type": "Indicator", "indicator_unit": "%",
                                        "indicator_dp": "1", "label": measures()["turned_away_rate"].title}
    assert meta["households_supported"]["indicator_unit"] == "" and meta["households_supported"]["indicator_dp"] == "0"


def test_a_draft_is_marked_in_the_file_names_and_adds_no_column(release, draft):
    final_files = {p.name: p.read_bytes() for p in (release / "data" / "ees").iterdir()}
    draft_files = {p.name: p.read_bytes() for p in (draft / "data" / "ees").iterdir()}
    assert draft_files == {f"DRAFT_{name}": data for name, data in final_files.items()}
    assert ees_problems(draft / "data" / "ees") == []


def test_the_downloads_section_links_the_ees_folder(release):
    html = (release / "index.html").read_text(encoding="utf-8")
    downloads = html.split('id="downloads"', 1)[1].split("</section>", 1)[0]
    assert 'href="data/ees/"' in downloads


# --- a broken copy is caught -----------------------------------------------------------------------
def _edit(folder: Path, name: str, change) -> None:
    """Rewrite one file of `folder`: `change(rows)` edits its rows (header first) in place."""
    path = folder / name
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))
    change(rows)
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8", newline="")


def _cell(rows, column: str, level: str, item: str = "Total", period: str = "202425") -> tuple[int, int]:
    header = rows[0]
    for i, r in enumerate(rows[1:], start=1):
        rec = dict(zip(header, r))
        if (rec["geographic_level"], rec["breakdown"], rec["time_period"]) == (level, item, period):
            return i, header.index(column)
    raise AssertionError(f"no {level} {item} {period} row")


def _set(column: str, level: str, value: str, item: str = "Total"):
    def change(rows):
        i, j = _cell(rows, column, level, item)
        rows[i][j] = value
    return change


def _rename(old: str, new: str):
    def change(rows):
        rows[0] = [new if c == old else c for c in rows[0]]
        for r in rows[1:]:
            r[:] = [new if c == old else c for c in r]
    return change


BREAKAGES = {
    # (file edited, change, what the checkers must say)
    "an England value changed": (
        [("turned_away.csv", _set("households_supported", "National", "1321"))],
        "households_supported.all.E92000001.2024-25: households_supported is '1321'"),
    "a value unrounded": (
        [("turned_away.csv", _set("turned_away_rate", "National", "28.31"))], "not shown to indicator_dp 1"),
    "a column name with a capital": (
        [("turned_away.csv", _rename("breakdown", "Breakdown")), ("turned_away.meta.csv", _rename("breakdown", "Breakdown"))],
        "column 'Breakdown' is not lowercase snake_case"),
    "a column name with a space": (
        [("turned_away.csv", _rename("households_supported", "households supported")),
         ("turned_away.meta.csv", _rename("households_supported", "households supported"))],
        "column 'households supported' is not lowercase snake_case"),
    "a blank indicator": (
        [("turned_away.csv", _set("households_supported", "Regional", ""))], "neither a number nor an EES symbol"),
    "a symbol as the release writes it": (
        [("turned_away.csv", _set("households_supported", "Local authority", "[c]"))],
        "holds '[c]': neither a number nor an EES symbol"),
    "a time period as the release writes it": (
        [("marac.csv", _set("time_period", "National", "2024-25"))], "is not six digits for Financial year"),
    "a level EES does not have": (
        [("marac.csv", _set("geographic_level", "National", "Country"))], "geographic_level 'Country' is not one EES has"),
    "a local authority with no region": (
        [("turned_away.csv", _set("region_code", "Local authority", ""))], "Local authority row with region_code blank"),
    "a region on a national row": (
        [("turned_away.csv", _set("region_code", "National", "E12000001"))], "National row with region_code filled"),
    "a column the meta file does not list": (
        [("marac.meta.csv", lambda rows: rows.pop())], "the meta file lists"),
    "a wrong col_type": (
        [("marac.meta.csv", lambda rows: rows[1].__setitem__(1, "Measure"))], "is neither Filter nor Indicator"),
    "a wrong indicator_dp": (
        [("turned_away.meta.csv", lambda rows: rows[2].__setitem__(5, "0"))], "is not shown to indicator_dp 0"),
    "a blank label": (
        [("marac.meta.csv", lambda rows: rows[2].__setitem__(2, ""))], "no label"),
    "no meta file": ([("marac.meta.csv", None)], "marac.csv: no marac.meta.csv beside it"),
    "a duplicate row": (
        [("marac.csv", lambda rows: rows.append(list(rows[1])))], "the same time, geography and filters as line 2"),
}


@pytest.mark.parametrize("case", sorted(BREAKAGES))
def test_a_broken_copy_is_caught(release, tmp_path, case):
    edits, expected = BREAKAGES[case]
    folder = tmp_path / "ees"
    shutil.copytree(release / "data" / "ees", folder)
    for name, change in edits:
        if change is None:
            (folder / name).unlink()
        else:
            _edit(folder, name, change)
    problems = ees_problems(folder)
    if not any(expected in p for p in problems):
        problems += figure_problems(folder, release / "data" / "figures.csv")
    assert any(expected in p for p in problems), problems


def test_crlf_line_endings_are_caught(release, tmp_path):
    folder = tmp_path / "ees"
    shutil.copytree(release / "data" / "ees", folder)
    path = folder / "marac.csv"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    assert "marac.csv: carriage return (not LF line endings)" in ees_problems(folder)


# --- what EES cannot take ------------------------------------------------------------------------
def _context_with(column: str, new: str, nth: int):
    """The fixture release's context with the `nth` figure (not a change on the previous year)'s `column` replaced (and that figure's id)."""
    from pipelines.release.config import load_config
    from pipelines.release.context import build_context

    inputs = fixture.build_inputs()
    figures = inputs.figures.with_row_index("_i")
    target = figures.filter(~pl.col("measure").str.contains("_change")).row(nth, named=True)
    figures = figures.with_columns(
        pl.when(pl.col("_i") == target["_i"]).then(pl.lit(new)).otherwise(pl.col(column)).alias(column)).drop("_i")
    return build_context(dataclasses.replace(inputs, figures=figures), load_config(None), measures()), target["figure_id"]


@pytest.mark.parametrize(("column", "new", "said"), [
    ("value", "12%", "value '12%' is neither a number nor a symbol EES has"),
    ("numerator", "[r]", "numerator: value '[r]' is neither a number nor a symbol EES has"),
    ("geographic_level", "ward", "geographic level 'ward' has no EES level"),
])
def test_a_figure_ees_cannot_take_is_refused_by_its_id(column, new, said):
    from pipelines.release.ees import ees_files

    for nth in (0, 7):  # the first figure written, and one further in
        ctx, target = _context_with(column, new, nth)
        with pytest.raises(ValueError) as raised:
            ees_files(ctx)
        assert str(raised.value).startswith(target), (str(raised.value), target)
        assert said in str(raised.value)
