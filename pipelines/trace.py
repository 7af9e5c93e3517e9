"""`dasa trace <figure_id>`: how one figure was made, for a person.

The public chain comes from the release's provenance files: a suppressed figure is only said
to be suppressed by disclosure control. When the restricted audit bundle of the release is
present (data/processed/audit/<year>/, or <--audit-dir>/<year>/ for a bundle written
elsewhere), the chain also shows the unrounded numerator, denominator and value, the rule
that suppressed a figure, what each unit contributes, and every contributing cell with its
value. The same public chain is rendered into the release's
trace pages (pipelines/release/trace_pages.py).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from pipelines import provenance, schemas
from pipelines.paths import AUDIT_DIR

LEVEL_OF_UNITS = {s.name: s.units for s in schemas.SOURCES}


@dataclass
class Step:
    label: str
    text: str = ""
    items: list[str] = field(default_factory=list)


def family_of(figure_id: str, fams: dict[str, dict]) -> str | None:
    for fam, doc in fams.items():
        if figure_id in doc["figures"]:
            return fam
    return None


def public_chain(figure_id: str, index: dict, fams: dict[str, dict], compact: bool = False) -> list[Step]:
    """The chain of one figure from the public provenance (no values). `compact`: many input
    files are summarised in one line (their hashes stay in provenance.json)."""
    fam = family_of(figure_id, fams)
    if fam is None:
        raise KeyError(figure_id)
    doc = fams[fam]
    entry = doc["figures"][figure_id]
    measure, breakdown, code, year = split_id(figure_id)
    info = index["families"][fam]
    base_measure = measure.removesuffix("_percent").removesuffix("_change") if measure not in doc["measures"] else measure
    m = doc["measures"].get(base_measure, {})
    steps = [
        Step("Figure", f"{figure_id}: {measure}, breakdown {breakdown}, geography {code}, {year}"),
        Step("Status", entry["status"]),
        Step("Rounding and suppression", index["disclosure_rules"].get(entry["disclosure"], entry["disclosure"])),
        Step("Metric", f"{base_measure}, method version {m.get('method_version', '?')}, unit {m.get('unit', '?')}"),
        Step("Query", f"{info['sql_file']} (SHA-256 {info['sql_sha256']})", [f"reads {t}" for t in info["reads"]]),
    ]
    if "definition_file" in info:
        steps.append(Step("Definition", f"{info['definition_file']} (SHA-256 {info['definition_sha256']})",
                          ["the kind, levels and cells of each measure; the query's parts are added up to region "
                           "and England from it (pipelines/metric_sql.py)"]))
    if "derived_from" in entry:
        steps.append(Step("Computed from", "the unrounded figures of both years (then rounded like any figure)",
                          list(entry["derived_from"])))
    basis = doc["bases"].get(f"{base_measure}.{breakdown}", {})
    files: list[str] = []
    for role in provenance.ROLES:
        if role not in entry:
            continue
        item = entry[role]
        how = basis.get(role) or basis.get("rests_on", "")
        if "cells" in item:
            where = [f"{sheet}: {refs}" for sheet, refs in sorted(item["cells"].items())]
            wb = index["workbooks"].get(year, {}).get(code)
            if wb:
                files.append(wb)
                where.insert(0, f"workbook {wb} (submission {index['inputs'][wb].get('submission_number')})")
            else:
                files += index["extract_files"].get(info["source"], {}).get(year, [])
            steps.append(Step(f"{role.capitalize()}: contributing cells", how, where))
        elif "from" in item:
            units = provenance.expand_units(item["from"], index["workbooks"].get(year, {}))
            kind = LEVEL_OF_UNITS.get(info["source"], "units")
            shown = units if not compact or len(units) <= 30 else [item["from"]] if item["from"].startswith(
                provenance.ALL_RETURNS) else units
            steps.append(Step(f"{role.capitalize()}: from {len(units)} {kind}", how, shown))
            if info["source"] == "authority_returns":
                files += [index["workbooks"].get(year, {}).get(u) for u in units]
            else:
                files += index["extract_files"].get(info["source"], {}).get(year, [])
        else:
            steps.append(Step(role.capitalize(), how + ("" if item.get("contributes") else
                                                           " (no contribution: not available for this geography)")))
            if info["source"] == "authority_returns":
                files.append(index["workbooks"].get(year, {}).get(code))
            else:
                files += index["extract_files"].get(info["source"], {}).get(year, [])
    seen = []
    for f in files:
        if f and f not in seen:
            seen.append(f)
    if seen and compact and len(seen) > 3:
        flagged = [f"{f}: " + ", ".join(index["inputs"].get(f, {}).get("issues", [])) for f in seen
                   if index["inputs"].get(f, {}).get("issues")]
        steps.append(Step(f"Input files ({len(seen)})",
                          "each listed with its SHA-256 and checks under inputs in provenance.json; every one "
                          "passed the structural checks" + ("; issues recorded:" if flagged else ""), flagged))
    elif seen:
        lines = []
        for f in seen:
            i = index["inputs"].get(f, {})
            issues = "; issues: " + ", ".join(i["issues"]) if i.get("issues") else ""
            lines.append(f"{f}  SHA-256 {i.get('sha256', '?')}  ({i.get('checks', '')}{issues})")
        steps.append(Step(f"Input files ({len(seen)})", "", lines))
    cv = index["code_version"]
    steps.append(Step("Code version", f"git commit {cv['git_commit']}; uv.lock SHA-256 {cv['lockfile_sha256']}"))
    return steps


def split_id(figure_id: str) -> tuple[str, str, str, str]:
    parts = figure_id.split(".")
    if len(parts) != 4:
        return figure_id, "", "", ""
    return parts[0], parts[1], parts[2], parts[3]


def _num(x) -> str:
    if x is None:
        return "none"
    return f"{int(x):,}" if float(x).is_integer() else repr(float(x))


def audit_chain(figure_id: str, audit_dir: Path, index: dict, fams: dict[str, dict]) -> list[Step]:
    """What only the audit bundle holds: unrounded values, contributions and cell values."""
    fam = family_of(figure_id, fams)
    if fam is None:
        raise KeyError(figure_id)
    measure, breakdown, code, year = split_id(figure_id)
    figs = pl.read_parquet(audit_dir / "figures.parquet").filter(pl.col("figure_id") == figure_id)
    steps = []
    if figs.height:
        r = figs.row(0, named=True)
        steps.append(Step("Unrounded (restricted)", f"numerator {_num(r['numerator'])}, denominator "
                          f"{_num(r['denominator'])}, value {_num(r['value'])}"))
    steps += suppression_steps(figure_id, audit_dir)
    doc = fams[fam]
    entry = doc["figures"][figure_id]
    if "derived_from" in entry:
        return steps
    level_units = None
    parts = pl.read_parquet(audit_dir / "parts.parquet").filter(
        (pl.col("measure") == measure) & (pl.col("breakdown") == breakdown) & (pl.col("financial_year") == year))
    if code == "E92000001":
        level_units = parts
    elif parts.filter(pl.col("region_code") == code).height and not parts.filter(pl.col("unit_code") == code).height:
        level_units = parts.filter(pl.col("region_code") == code)
    else:
        level_units = parts.filter(pl.col("unit_code") == code)
    ev = pl.read_parquet(audit_dir / "evidence.parquet").filter(
        (pl.col("measure") == measure) & (pl.col("breakdown") == breakdown) & (pl.col("financial_year") == year))
    counts = pl.read_parquet(audit_dir / "record_counts.parquet").filter(
        (pl.col("measure") == measure) & (pl.col("breakdown") == breakdown) & (pl.col("financial_year") == year))
    for role in provenance.ROLES:
        mine = level_units.filter(pl.col("role") == role).sort("unit_code")
        if not mine.height:
            continue
        lines = []
        for u in mine.iter_rows(named=True):
            lines.append(f"{u['unit_code']}: {_num(u['part_value'])}")
            cells = ev.filter((pl.col("role") == role) & (pl.col("unit_code") == u["unit_code"]))
            for c in cells.iter_rows(named=True):
                where = f"{c['sheet']}!{c['column']}{c['row']}" if c["sheet"] else f"line {c['row']}"
                lines.append(f"    {c['file']} {where} ({c['field']}, {c['record_key']}) = {c['value']:,}")
            n = counts.filter((pl.col("role") == role) & (pl.col("unit_code") == u["unit_code"]))
            for c in n.iter_rows(named=True):
                lines.append(f"    {c['file']}: {c['records']:,} records selected by the filter")
        total = mine["part_value"].sum()
        steps.append(Step(f"{role.capitalize()} by unit, with cell values (restricted)",
                          f"{mine.height} unit(s), adding up to {_num(total)}", lines))
    return steps


def suppression_steps(figure_id: str, audit_dir: Path) -> list[Step]:
    """The rule that suppressed a figure, from the audit bundle's suppression log (none for a
    figure that is not suppressed)."""
    path = audit_dir / provenance.SUPPRESSION_LOG_FILE
    if not path.is_file():
        return []
    log = pl.read_parquet(path).filter(pl.col("figure_id") == figure_id)
    if not log.height:
        return []
    r = log.row(0, named=True)
    protects = [f"protects {fid}" for fid in r["protects"].split(";") if fid]
    relation = [f"in the relation {r['relation']}"] if r["relation"] else []
    return [Step("Suppression rule (restricted)", r["rule"], protects + relation)]


def suggestions(figure_id: str, fams: dict[str, dict], n: int = 5) -> list[str]:
    ids = [fid for doc in fams.values() for fid in doc["figures"]]
    measure = figure_id.split(".")[0]
    pool = [i for i in ids if i.startswith(measure + ".")] or ids
    return difflib.get_close_matches(figure_id, pool, n=n, cutoff=0.5)


def format_steps(steps: list[Step]) -> str:
    out = []
    for s in steps:
        out.append(f"{s.label}: {s.text}".rstrip(": ").rstrip())
        out += [f"    {x}" for x in s.items]
    return "\n".join(out) + "\n"


def trace(figure_id: str, release_dir: Path, audit_root: Path = AUDIT_DIR) -> tuple[int, str]:
    """(exit code, text) for `dasa trace`; the audit bundle is read from
    <audit_root>/<year of the release>/ when it is there."""
    release_dir = Path(release_dir)
    if not (release_dir / provenance.INDEX_FILE).is_file():
        return 2, f"{release_dir} has no {provenance.INDEX_FILE}: build the release first (dasa release).\n"
    index, fams = provenance.load_public(release_dir)
    try:
        steps = public_chain(figure_id, index, fams)
    except KeyError:
        close = suggestions(figure_id, fams)
        hint = (" Did you mean " + ", ".join(close) + "?") if close else ""
        return 1, (f"There is no figure {figure_id!r} in the release in {release_dir}. A figure id reads "
                   f"measure.breakdown.geography_code.year (see data/figures.csv).{hint}\n")
    audit = provenance.audit_dir_for(index.get("release_year") or release_dir.name, audit_root).resolve()
    found = (audit / "figures.parquet").is_file()
    if found and provenance.audit_is_of(audit, release_dir):
        steps += audit_chain(figure_id, audit, index, fams)
        note = f"Full chain, with restricted values from the audit bundle {audit} (do not publish).\n"
    elif found:
        note = (f"Public chain (the audit bundle in {audit} is of another build of {audit.name}, not of this "
                f"release, so its values are not shown; rebuild the release, or give --audit-dir the folder "
                f"it was built with).\n")
    else:
        note = (f"Public chain (no audit bundle in {audit}: values withheld by disclosure control are not "
                f"shown; give --audit-dir for a bundle written elsewhere).\n")
    return 0, note + format_steps(steps)
