"""`dasa trace <figure_id>`: how one figure was made, for a person.

A trace begins with the figure itself: its readable name (measure, breakdown, geography and
year, from the metric definitions and the release's figures.csv), the value as published
and its status, then the release it was read from. The chain follows: rounding and
suppression, the metric and its query, what each of the numerator and denominator adds up
(the contributing units and the cells read in each), the input files with their SHA-256
and the code version. A change figure names the two figures it is computed from and
follows each of them down to its own units and input files.

`dasa trace` prints a summary (at most 40 lines: counts of units, cells and files, not the
lists); `--full` prints every unit, cell and input file. The public chain comes from the
release's provenance files: a suppressed figure is only said to be suppressed by disclosure
control. When the restricted audit bundle of the release is present
(data/processed/audit/<year>/, or <--audit-dir>/<year>/ for a bundle written elsewhere),
the trace also shows the unrounded numerator, denominator and value (for a change figure,
its value before its own rounding and what it is the change of), the rule that suppressed a
figure, what each unit contributes and, with `--full`, every contributing cell with its
value. The public chain is rendered into the release's trace pages too
(pipelines/release/trace_pages.py).

Without `--release` or `--year`, the figure is looked for in the release folders from the
latest year down: every release shows every year, so an earlier year's figure is traced in
the latest release that holds it, and the trace says which release was read.
"""

from __future__ import annotations

import difflib
import heapq
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from pipelines import metric_catalog, provenance, schemas
from pipelines.paths import AUDIT_DIR, RELEASES_DIR
from pipelines.release.model import STATUS_WORDS, is_number_text, with_commas

LEVEL_OF_UNITS = {s.name: s.units for s in schemas.SOURCES}
SUMMARY_LINES = 40  # the most a summary prints
SUMMARY_UNITS = 10  # unit codes a summary names before "and N more"
SUMMARY_FLAGGED = 3  # input files with issues a summary names
FIGURES_CSV = Path("data") / "figures.csv"
_YEAR = re.compile(r"\d{4}-\d{2}")
_CHANGE = re.compile(r"_change(_percent)?$")
SOURCE_FILES = {
    "authority_returns": "authority return workbooks",
    "womens_aid": "Women's Aid extract files",
    "safelives": "SafeLives extract files",
    "reference": "reference files",
}

Row = dict[str, str]  # a figure's row of figures.csv
RowOf = Callable[[str], "Row | None"]


@dataclass
class Step:
    label: str
    text: str = ""
    items: list[str] = field(default_factory=list)


@dataclass
class Heading:
    """What a trace says first: the figure's readable name, its value as published and status."""

    figure_id: str
    name: str
    value: str
    status: str


def family_of(figure_id: str, fams: dict[str, dict]) -> str | None:
    for fam, doc in fams.items():
        if figure_id in doc["figures"]:
            return fam
    return None


def split_id(figure_id: str) -> tuple[str, str, str, str]:
    parts = figure_id.split(".")
    if len(parts) != 4:
        return figure_id, "", "", ""
    return parts[0], parts[1], parts[2], parts[3]


def base_of(measure: str) -> tuple[str, str]:
    """(base measure, change suffix or '')."""
    m = _CHANGE.search(measure)
    return (measure[: m.start()], m.group(0)) if m else (measure, "")


# --- the heading ------------------------------------------------------------------------


def figure_name(figure_id: str, row: Row | None, catalog: dict[str, metric_catalog.Measure] | None = None) -> str:
    """'Households turned away, England, 2024-25': the measure's title (with the change it is),
    the breakdown's label (none for `all`), the geography's name and the year."""
    catalog = metric_catalog.measures() if catalog is None else catalog
    measure, breakdown, code, year = split_id(figure_id)
    base, suffix = base_of(measure)
    m = catalog.get(base)
    if m is None and measure in catalog:
        m, suffix = catalog[measure], ""
    title = m.title if m else base.replace("_", " ").capitalize()
    if suffix == "_change":
        title += ": change on previous year"
    elif suffix == "_change_percent":
        title += ": percentage change on previous year"
    if breakdown and breakdown != "all":
        title += ": " + (m.breakdown_label(breakdown) if m else breakdown.replace("_", " ").capitalize())
    where = (row or {}).get("geography_name") or code
    return ", ".join(x for x in (title, where, year) if x)


def published_value(row: Row | None) -> str:
    """The value as published with its unit ('38.6%', '36,550 households'), or its symbol;
    the numerator and denominator shown beside a rate, as published."""
    if row is None:
        return f"not found in {FIGURES_CSV.as_posix()}"
    value, unit = row.get("value") or "", row.get("unit") or ""
    if not is_number_text(value):
        return value
    text = with_commas(value)
    text = f"{text}%" if unit in ("percent", "%") else f"{text} {unit}".strip()
    shown = [f"{role} {with_commas(row[role])}" for role in provenance.ROLES if row.get(role)]
    return text + (f" ({', '.join(shown)}, as published)" if shown else "")


def status_text(row: Row | None) -> str:
    if row is None:
        return "unknown"
    status = row.get("value_status") or ""
    words = STATUS_WORDS.get(status, status.replace("_", " "))
    return status if words == status else f"{status} ({words})"


def heading(figure_id: str, row: Row | None, catalog: dict[str, metric_catalog.Measure] | None = None) -> Heading:
    return Heading(figure_id, figure_name(figure_id, row, catalog), published_value(row), status_text(row))


def heading_lines(h: Heading) -> list[str]:
    return [h.name, f"Value as published: {h.value}", f"Status: {h.status}", f"Figure id: {h.figure_id}"]


# --- the public chain -------------------------------------------------------------------


def _units_line(units: list[str], text: str) -> str:
    """The contributing units in one line: 'every authority with a return' or the codes,
    the first SUMMARY_UNITS of a long list and how many more."""
    if text.startswith(provenance.ALL_RETURNS):
        return text
    if len(units) <= SUMMARY_UNITS + 2:
        return " ".join(units)
    return " ".join(units[:SUMMARY_UNITS]) + f" and {len(units) - SUMMARY_UNITS} more"


def _n(count: int, word: str) -> str:
    return f"{count:,} {word}" + ("" if count == 1 else "s")


def _refs_count(refs: str) -> int:
    """Cells in A1 references 'B2:B7 C3' (6 + 1), or lines of an extract."""
    n = 0
    for tok in refs.split():
        m = re.fullmatch(r"([A-Z]+)(\d+):([A-Z]+)(\d+)", tok)
        n += int(m.group(4)) - int(m.group(2)) + 1 if m else 1
    return n


def _public_cells(doc: dict, measure: str, breakdown: str, year: str, units: list[str], role: str) -> int | None:
    """Cells read for a regional or England figure, from the public entries of its units'
    own figures (the same parts, the same cells); None when a unit has no such entry."""
    total = 0
    for u in units:
        item = (doc["figures"].get(f"{measure}.{breakdown}.{u}.{year}") or {}).get(role) or {}
        if "cells" not in item:
            return None
        total += sum(_refs_count(refs) for refs in item["cells"].values())
    return total


def _parts(figure_id: str, entry: dict, index: dict, doc: dict, info: dict, mode: str,
           prefix: str = "") -> tuple[list[Step], list[str]]:
    """What a figure's numerator and denominator add up, and the input files they read.
    mode: full (every unit), page (a long list summarised) or summary (one line of units)."""
    measure, breakdown, code, year = split_id(figure_id)
    base_measure = measure if measure in doc["measures"] else base_of(measure)[0]
    basis = doc["bases"].get(f"{base_measure}.{breakdown}", {})
    source = info["source"]
    steps: list[Step] = []
    files: list[str | None] = []
    for role in provenance.ROLES:
        if role not in entry:
            continue
        item = entry[role]
        how = basis.get(role) or basis.get("rests_on", "")
        label = f"{prefix}{role}" if prefix else role.capitalize()
        if "cells" in item:
            where = [f"{sheet}: {refs}" for sheet, refs in sorted(item["cells"].items())]
            # an authority's workbook holds the cells of a figure of the returns only (a Women's Aid
            # figure of an authority is read from the extract's lines)
            wb = index["workbooks"].get(year, {}).get(code) if source == "authority_returns" else None
            its = [wb] if wb else index["extract_files"].get(source, {}).get(year, [])
            files += its
            if wb:
                where.insert(0, f"workbook {wb} (submission {index['inputs'][wb].get('submission_number')})")
            n = _n(sum(_refs_count(refs) for refs in item["cells"].values()), "cell" if wb else "line")
            if mode == "page":
                steps.append(Step(f"{label}: contributing cells", how, where))
            elif mode == "summary":  # two lines: where, and the references
                of = where[0].removeprefix("workbook ") if wb else " or ".join(its)
                refs = "; ".join(x.replace("(lines): ", "lines ") for x in (where[1:] if wb else where))
                steps.append(Step(f"{label}: {n} of {of}", how, [refs]))
            else:
                steps.append(Step(f"{label}: {n}" + (" in 1 workbook" if wb else ""), how, where))
        elif "from" in item:
            units = provenance.expand_units(item["from"], index["workbooks"].get(year, {}))
            kind = LEVEL_OF_UNITS.get(source, "units")
            if source == "authority_returns":
                mine = [index["workbooks"].get(year, {}).get(u) for u in units]
                files += mine
            else:
                mine = index["extract_files"].get(source, {}).get(year, [])
                files += mine
            if mode == "page":
                shown = units if len(units) <= 30 or not item["from"].startswith(provenance.ALL_RETURNS) \
                    else [item["from"]]
                steps.append(Step(f"{label}: from {len(units)} {kind}", how, shown))
                continue
            cells = _public_cells(doc, base_measure, breakdown, year, units, role) \
                if source == "authority_returns" else None
            counted = f"{len(units)} {kind}"
            n_files = len({f for f in mine if f})
            if cells is not None:
                counted += f", {_n(cells, 'cell')} in {_n(n_files, 'workbook')}"
            elif source == "authority_returns":
                counted += f", in {_n(n_files, 'workbook')}"
            shown = [_units_line(units, item["from"])] if mode == "summary" else units
            steps.append(Step(f"{label}: {counted}", how, shown))
        else:
            steps.append(Step(label, how + ("" if item.get("contributes") else
                                            " (no contribution: not available for this geography)")))
            if source == "authority_returns":
                files.append(index["workbooks"].get(year, {}).get(code))
            else:
                files += index["extract_files"].get(source, {}).get(year, [])
    seen: list[str] = []
    for f in files:
        if f and f not in seen:
            seen.append(f)
    return steps, seen


def _input_files(seen: list[str], index: dict, mode: str, prefix: str = "") -> list[Step]:
    if not seen:
        return []
    label = f"{prefix}input files ({len(seen)})" if prefix else f"Input files ({len(seen)})"
    if mode == "full" or len(seen) <= 3:
        lines = []
        for f in seen:
            i = index["inputs"].get(f, {})
            issues = "; issues: " + ", ".join(i["issues"]) if i.get("issues") else ""
            lines.append(f"{f}  SHA-256 {i.get('sha256', '?')}  ({i.get('checks', '')}{issues})")
        return [Step(label, "", lines)]
    flagged = [f"{f}: " + ", ".join(index["inputs"].get(f, {}).get("issues", [])) for f in seen
               if index["inputs"].get(f, {}).get("issues")]
    if mode == "page":
        return [Step(label, "each listed with its SHA-256 and checks under inputs in provenance.json; every one "
                            "passed the structural checks" + ("; issues recorded:" if flagged else ""), flagged)]
    kinds: dict[tuple[str, str], int] = {}
    for f in seen:
        i = index["inputs"].get(f, {})
        key = (i.get("source", ""), i.get("financial_year", ""))
        kinds[key] = kinds.get(key, 0) + 1
    what = ", ".join(f"{n} {SOURCE_FILES.get(s, s or 'files')}" + (f" of {y}" if y else "")
                     for (s, y), n in sorted(kinds.items()))
    passed = sum(1 for f in seen if str(index["inputs"].get(f, {}).get("checks", "")).startswith("passed"))
    checks = "every one passed the structural checks" if passed == len(seen) else \
        f"{passed} passed the structural checks"
    shown = flagged[:SUMMARY_FLAGGED] + ([f"and {len(flagged) - SUMMARY_FLAGGED} more with issues"]
                                         if len(flagged) > SUMMARY_FLAGGED else [])
    return [Step(label, f"{what}; {checks}; each with its SHA-256 under inputs in provenance.json "
                        f"(--full lists them)" + (f"; issues recorded on {len(flagged)}:" if flagged else ""), shown)]


def change_basis(figure_id: str, index: dict, doc: dict, row: Row | None) -> str:
    """What a change figure is the change of, from the public disclosure settings: at a level
    where counts of people are rounded, the published figures (decision 0012)."""
    measure, _, code, _ = split_id(figure_id)
    base = base_of(measure)[0]
    level = (row or {}).get("geographic_level") or (
        "national" if code == "E92000001" else "regional" if code.startswith("E12") else "")
    people = doc["measures"].get(base, {}).get("counts_people", False)
    pct = " as a percentage of the earlier one" if measure.endswith("_change_percent") else ""
    if people and level in index.get("disclosure_settings", {}).get("rounded_levels", ()):
        return (f"the difference of the published (rounded) figures of both years{pct}, then rounded like any "
                f"figure: at England and regional level a change tells nothing the two figures do not")
    return f"the difference of the unrounded figures of both years{pct}, then rounded like any figure"


def public_chain(figure_id: str, index: dict, fams: dict[str, dict], compact: bool = False,
                 summary: bool = False, row_of: RowOf | None = None) -> list[Step]:
    """The chain of one figure from the public provenance (no values), after its heading.
    `compact` (the trace pages): a long list of units or input files is summarised in one
    line (their hashes stay in provenance.json); `summary` (`dasa trace` without --full): every
    list is counted, in at most a line or two. `row_of` gives a figure's row of figures.csv,
    for the figures a change is computed from."""
    mode = "summary" if summary else "page" if compact else "full"
    row_of = row_of or (lambda _: None)
    fam = family_of(figure_id, fams)
    if fam is None:
        raise KeyError(figure_id)
    doc = fams[fam]
    entry = doc["figures"][figure_id]
    measure, breakdown, code, year = split_id(figure_id)
    info = index["families"][fam]
    base_measure = measure if measure in doc["measures"] else base_of(measure)[0]
    m = doc["measures"].get(base_measure, {})
    steps = [
        Step("Rounding and suppression", index["disclosure_rules"].get(entry["disclosure"], entry["disclosure"])),
        Step("Metric", f"{base_measure}, method version {m.get('method_version', '?')}, unit {m.get('unit', '?')}"),
    ]
    if mode == "summary":
        steps.append(Step("Query", f"{info['sql_file']} (SHA-256 {info['sql_sha256']}), reading "
                          + ", ".join(info["reads"])))
    else:
        steps.append(Step("Query", f"{info['sql_file']} (SHA-256 {info['sql_sha256']})",
                          [f"reads {t}" for t in info["reads"]]))
    if "definition_file" in info:
        steps.append(Step("Definition", f"{info['definition_file']} (SHA-256 {info['definition_sha256']})",
                          [] if mode == "summary" else
                          ["the kind, levels and cells of each measure; the query's parts are added up to region "
                           "and England from it (pipelines/metric_sql.py)"]))
    if "derived_from" in entry:
        bases = list(entry["derived_from"])
        shown = []
        for fid in bases:
            r = row_of(fid)
            shown.append(f"{fid}: {figure_name(fid, r)}: {published_value(r)}; {status_text(r)}")
        steps.append(Step("Computed from", change_basis(figure_id, index, doc, row_of(figure_id)), shown))
        for fid in bases:
            base_entry = doc["figures"].get(fid)
            year_of = split_id(fid)[3]
            if base_entry is None:
                steps.append(Step(f"{year_of} figure", f"{fid} has no provenance in this release"))
                continue
            parts, files = _parts(fid, base_entry, index, doc, info, mode, prefix=f"{year_of} ")
            steps += parts + _input_files(files, index, mode, prefix=f"{year_of} ")
    else:
        parts, files = _parts(figure_id, entry, index, doc, info, mode)
        steps += parts + _input_files(files, index, mode)
    cv = index["code_version"]
    steps.append(Step("Code version", f"git commit {cv['git_commit']}; uv.lock SHA-256 {cv['lockfile_sha256']}"))
    return steps


# --- the restricted chain ---------------------------------------------------------------


def _num(x) -> str:
    if x is None:
        return "none"
    return f"{int(x):,}" if float(x).is_integer() else repr(float(x))


def _unrounded(r: dict) -> str:
    return f"numerator {_num(r['numerator'])}, denominator {_num(r['denominator'])}, value {_num(r['value'])}"


def audit_chain(figure_id: str, audit_dir: Path, index: dict, fams: dict[str, dict], summary: bool = False) -> list[Step]:
    """What only the audit bundle holds: unrounded values, contributions and (not in a
    summary) cell values. A change figure: its own value before rounding, then both years'."""
    fam = family_of(figure_id, fams)
    if fam is None:
        raise KeyError(figure_id)
    entry = fams[fam]["figures"][figure_id]
    bases = list(entry.get("derived_from", []))
    figs = pl.read_parquet(audit_dir / "figures.parquet", glob=False).filter(pl.col("figure_id").is_in([figure_id, *bases]))
    rows = {r["figure_id"]: r for r in figs.iter_rows(named=True)}
    steps = []
    r = rows.get(figure_id)
    if r is not None and bases:
        of = r.get("change_of")
        steps.append(Step("Unrounded (restricted)", f"value {_num(r['value'])}" + (f", the change of {of}" if of else ""),
                          [f"{fid}: " + (_unrounded(rows[fid]) if fid in rows else "not in the audit bundle")
                           for fid in bases]))
    elif r is not None:
        steps.append(Step("Unrounded (restricted)", _unrounded(r)))
    steps += suppression_steps(figure_id, audit_dir)
    parts = pl.read_parquet(audit_dir / "parts.parquet", glob=False)
    ev = pl.read_parquet(audit_dir / "evidence.parquet", glob=False)
    counts = pl.read_parquet(audit_dir / "record_counts.parquet", glob=False)
    for fid in bases or [figure_id]:
        steps += _unit_steps(fid, parts, ev, counts, summary, prefix=f"{split_id(fid)[3]} " if bases else "")
    return steps


def _unit_steps(figure_id: str, parts: pl.DataFrame, ev: pl.DataFrame, counts: pl.DataFrame, summary: bool,
                prefix: str = "") -> list[Step]:
    measure, breakdown, code, year = split_id(figure_id)
    same = (pl.col("measure") == measure) & (pl.col("breakdown") == breakdown) & (pl.col("financial_year") == year)
    parts = parts.filter(same)
    if code == "E92000001":
        level_units = parts
    elif parts.filter(pl.col("region_code") == code).height and not parts.filter(pl.col("unit_code") == code).height:
        level_units = parts.filter(pl.col("region_code") == code)
    else:
        level_units = parts.filter(pl.col("unit_code") == code)
    ev, counts = ev.filter(same), counts.filter(same)
    steps = []
    for role in provenance.ROLES:
        mine = level_units.filter(pl.col("role") == role).sort("unit_code")
        if not mine.height:
            continue
        units = mine["unit_code"].to_list()
        my_ev = ev.filter((pl.col("role") == role) & pl.col("unit_code").is_in(units))
        my_counts = counts.filter((pl.col("role") == role) & pl.col("unit_code").is_in(units))
        label = (f"{prefix}{role}" if prefix else role.capitalize()) + " by unit"
        total = _num(mine["part_value"].sum())
        if summary:
            read = []
            cells = my_ev.filter(pl.col("sheet").is_not_null())
            if cells.height:
                read.append(f"{_n(cells.height, 'cell')} in {_n(cells['file'].n_unique(), 'workbook')}")
            lines = my_ev.filter(pl.col("sheet").is_null())
            if lines.height:
                read.append(f"{_n(lines.height, 'line')} of {_n(lines['file'].n_unique(), 'file')}")
            if my_counts.height:
                read.append(f"{_n(int(my_counts['records'].sum()), 'record')} of "
                            f"{_n(my_counts['file'].n_unique(), 'file')} selected by a filter (--full: each)")
            steps.append(Step(f"{label} (restricted)", f"{mine.height} unit(s)" + "".join(f", {x}" for x in read)
                              + f", adding up to {total}"))
            continue
        lines_out = []
        for u in mine.iter_rows(named=True):
            lines_out.append(f"{u['unit_code']}: {_num(u['part_value'])}")
            cells = my_ev.filter(pl.col("unit_code") == u["unit_code"])
            for c in cells.iter_rows(named=True):
                where = f"{c['sheet']}!{c['column']}{c['row']}" if c["sheet"] else f"line {c['row']}"
                lines_out.append(f"    {c['file']} {where} ({c['field']}, {c['record_key']}) = {c['value']:,}")
            for c in my_counts.filter(pl.col("unit_code") == u["unit_code"]).iter_rows(named=True):
                lines_out.append(f"    {c['file']}: {c['records']:,} records selected by the filter "
                                 f"{c.get('filter') or '(not recorded)'}")
        steps.append(Step(f"{label}, with cell values (restricted)",
                          f"{mine.height} unit(s), adding up to {total}", lines_out))
    return steps


def suppression_steps(figure_id: str, audit_dir: Path) -> list[Step]:
    """The rule that suppressed a figure, from the audit bundle's suppression log (none for a
    figure that is not suppressed)."""
    path = audit_dir / provenance.SUPPRESSION_LOG_FILE
    if not path.is_file():
        return []
    log = pl.read_parquet(path, glob=False).filter(pl.col("figure_id") == figure_id)
    if not log.height:
        return []
    r = log.row(0, named=True)
    protects = [f"protects {fid}" for fid in r["protects"].split(";") if fid]
    relation = [f"in the relation {r['relation']}"] if r["relation"] else []
    return [Step("Suppression rule (restricted)", r["rule"], protects + relation)]


# --- finding the figure -----------------------------------------------------------------


def suggestions(figure_id: str, fams: dict[str, dict], n: int = 5) -> list[str]:
    ids = [fid for doc in fams.values() for fid in doc["figures"]]
    measure = figure_id.split(".")[0]
    pool = [i for i in ids if i.startswith(measure + ".")] or ids
    return close_matches(figure_id, pool, n=n, cutoff=0.5)


def close_matches(word: str, possibilities: list[str], n: int, cutoff: float) -> list[str]:
    """`difflib.get_close_matches(word, possibilities, n, cutoff)`: the same list in the same
    order, with the full ratio worked out only while a candidate's upper bound (its quick
    ratio; candidates taken highest bound first) can still reach the n best found. A misspelt
    measure makes every id of a release (some 90,000) a candidate: the full ratio of each
    took some 9 s."""
    s = difflib.SequenceMatcher()
    s.set_seq2(word)
    bounds = []
    for x in possibilities:
        s.set_seq1(x)
        if s.real_quick_ratio() >= cutoff and (bound := s.quick_ratio()) >= cutoff:
            bounds.append((bound, x))
    bounds.sort(key=lambda b: b[0], reverse=True)
    best: list[tuple[float, str]] = []  # a min-heap of the n best (ratio, id)
    for bound, x in bounds:
        if len(best) == n and bound < best[0][0]:
            break  # no candidate left can beat the n-th best
        s.set_seq1(x)
        if (ratio := s.ratio()) >= cutoff:
            if len(best) < n:
                heapq.heappush(best, (ratio, x))
            else:
                heapq.heappushpop(best, (ratio, x))
    return [x for _, x in sorted(best, reverse=True)]


def figure_rows(release_dir: Path, ids) -> dict[str, Row]:
    """The rows of some figures in a release's figures.csv (none when it has no figures.csv)."""
    path = Path(release_dir) / FIGURES_CSV
    if not path.is_file():
        return {}
    wanted = list(ids)
    got = pl.scan_csv(path, infer_schema=False).filter(pl.col("figure_id").is_in(wanted)).collect()
    return {r["figure_id"]: {k: v or "" for k, v in r.items()} for r in got.iter_rows(named=True)}


def release_folders(releases_dir: Path = RELEASES_DIR) -> list[Path]:
    """Release folders (named by their year, holding provenance.json), latest year first."""
    root = Path(releases_dir)
    if not root.is_dir():
        return []
    return sorted((p for p in root.iterdir() if _YEAR.fullmatch(p.name) and (p / provenance.INDEX_FILE).is_file()),
                  key=lambda p: p.name, reverse=True)


def find_release(figure_id: str, releases_dir: Path = RELEASES_DIR) -> tuple[Path | None, list[Path]]:
    """The latest release whose figures.csv holds the figure (None if none does), and the
    release folders looked in."""
    folders = release_folders(releases_dir)
    for folder in folders:
        if figure_rows(folder, [figure_id]):
            return folder, folders
    return None, folders


def shown_path(p: Path) -> str:
    """A path as a person would type it: relative to the working folder when inside it."""
    try:
        rel = os.path.relpath(p)
    except ValueError:  # pragma: no cover - another drive
        return str(p)
    return str(p) if rel.startswith("..") else rel


def fit(steps: list[Step], room: int) -> list[Step]:
    """The steps in at most `room` lines (a label line each, a line per item), the longest
    lists shortened first to their first items and how many more --full lists."""
    def lines() -> int:
        return sum(1 + len(s.items) for s in steps)

    while lines() > room:
        longest = max(steps, key=lambda s: len(s.items), default=None)
        if longest is None or len(longest.items) <= 2:
            break
        keep = max(1, len(longest.items) - (lines() - room) - 1)
        dropped = len(longest.items) - keep
        longest.items = longest.items[:keep] + [f"and {dropped} more (--full lists them)"]
    return steps


def format_steps(steps: list[Step]) -> str:
    out = []
    for s in steps:
        out.append(f"{s.label}: {s.text}" if s.text else s.label)
        out += [f"    {x}" for x in s.items]
    return "\n".join(out) + "\n"


def trace(figure_id: str, release_dir: Path, audit_root: Path = AUDIT_DIR, full: bool = False,
          searched: bool = False) -> tuple[int, str]:
    """(exit code, text) for `dasa trace`: a summary, or with `full` every unit, cell and input
    file. The audit bundle is read from <audit_root>/<year of the release>/ when it is there.
    `searched`: the release was found as the latest that holds the figure (said so)."""
    release_dir = Path(release_dir)
    if not (release_dir / provenance.INDEX_FILE).is_file():
        return 2, f"{release_dir} has no {provenance.INDEX_FILE}: build the release first (dasa release).\n"
    index, fams = provenance.load_public(release_dir)
    fam = family_of(figure_id, fams)
    if fam is None:
        close = suggestions(figure_id, fams)
        hint = (" Did you mean " + ", ".join(close) + "?") if close else ""
        return 1, (f"There is no figure {figure_id!r} in the release in {release_dir}. A figure id reads "
                   f"measure.breakdown.geography_code.year (see data/figures.csv).{hint}\n")
    rows = figure_rows(release_dir, [figure_id, *fams[fam]["figures"][figure_id].get("derived_from", [])])
    steps = public_chain(figure_id, index, fams, summary=not full, row_of=rows.get)
    release_year = index.get("release_year") or release_dir.name
    audit = provenance.audit_dir_for(release_year, audit_root).resolve()
    found = (audit / "figures.parquet").is_file()
    if found and provenance.audit_is_of(audit, release_dir):
        steps += audit_chain(figure_id, audit, index, fams, summary=not full)
        note = (f"{'Full chain' if full else 'Summary'}, with restricted values from the audit bundle {audit} "
                f"(do not publish).")
    elif found:
        note = (f"Public chain (the audit bundle in {audit} is of another build of {audit.name}, not of this "
                f"release, so its values are not shown; rebuild the release, or give --audit-dir the folder "
                f"it was built with).")
    else:
        note = (f"Public chain (no audit bundle in {audit}: values withheld by disclosure control are not "
                f"shown; give --audit-dir for a bundle written elsewhere).")
    read = f"Read from the {release_year} release ({shown_path(release_dir)})"
    if searched:
        read += ", the latest release that holds this figure"
    head = heading_lines(heading(figure_id, rows.get(figure_id))) + [read + ".", note]
    tail = [] if full else [f"A summary: dasa trace --full {figure_id} lists every unit, cell and input file "
                            f"with its SHA-256."]
    if not full:
        steps = fit(steps, SUMMARY_LINES - len(head) - len(tail))
    return 0, "\n".join(head) + "\n" + format_steps(steps) + "".join(x + "\n" for x in tail)
