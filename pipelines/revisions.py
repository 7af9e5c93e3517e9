"""Vintages and revisions: what changed since the last release of the same year, and why.

A *vintage* is a kept copy of a built final release, outside the publishable folder:
`<vintages_dir>/<year>/<n>/` holds the release's `figures.csv`, `inputs.csv` (every input
file with its SHA-256 and, for authority returns, the authority, submission number and
whether the file was the one used), `revisions.csv` and `vintage.json` (vintage number,
when the release was built, which vintage it was compared with).

When a year is built again, its published figures are compared with the latest vintage of
that year that is not this very release (same inputs and same figures): every figure
whose published value changed is revised. A revised number keeps its value and gets
`value_status = revised`; a figure that became a symbol keeps its symbol and status (the
symbol says more), and every revised figure, number or symbol, is listed in
`data/revisions.csv` with the previous value, the new value and the reason, and shown
with `[r]` beside it in the page and the spreadsheets. The reason is worked out from the
input files that differ between the vintage and now, limited to those the figure can
depend on: the same source, the figure's year (and the year before, for a change on the
previous year) and, for authority returns, the authorities of the figure's area.

No public file carries a value of a figure withheld ([c]) in any release or vintage: a
figure [c] in the vintage or now is not listed, and the figures [c] in any kept vintage
(`withheld`) are passed to disclosure control, which keeps them suppressed.

An identical rebuild makes no new vintage and compares with the same vintage as before,
so two builds from the same inputs (and the same vintages) stay byte-identical. A draft
is compared like a final release but never kept.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path

import duckdb
import polars as pl

from pipelines.disclosure import SYMBOLS, previous_year
from pipelines.metric_catalog import SOURCES, measures
from pipelines.safe_paths import one_name

VINTAGE_FIGURES = "figures.csv"
VINTAGE_INPUTS = "inputs.csv"
VINTAGE_REVISIONS = "revisions.csv"
VINTAGE_INFO = "vintage.json"
INPUT_COLUMNS = ("financial_year", "source", "path", "sha256", "gss_code", "authority_name", "region_code",
                 "submission_number", "in_use")
REVISION_COLUMNS = ("figure_id", "measure", "breakdown", "time_period", "geographic_level", "geography_code",
                    "geography_name", "previous_value", "value", "unit", "reason")
REVISED = "revised"
CHANGE_SUFFIXES = ("_change_percent", "_change")
SUPPRESSED = SYMBOLS["suppressed"]
NO_INPUT_CHANGED = ("No input file this figure is made from changed since the previous release: the method, "
                    "the code or the reference data changed.")


@dataclass(frozen=True)
class InputChange:
    """One difference in the input files between a vintage and now."""

    financial_year: str
    source: str
    gss_code: str  # "" for an extract
    region_code: str  # "" for an extract
    text: str  # in full: authority, year, old and new file with their submission numbers
    short: str  # for a table cell: `Birmingham 2023-24 return, submission 1 to 2`


@dataclass(frozen=True)
class Vintage:
    year: str
    number: int
    path: Path
    built_at: str

    def values(self) -> pl.DataFrame:
        """figure_id and previous_value (the value as published then), as text."""
        frame = pl.read_csv(self.path / VINTAGE_FIGURES, columns=["figure_id", "value"], infer_schema=False, glob=False)
        return frame.rename({"value": "previous_value"})

    def inputs(self) -> list[dict[str, str]]:
        with (self.path / VINTAGE_INPUTS).open(encoding="utf-8", newline="") as f:
            return list(csv.DictReader(f))

    def suppressed(self) -> frozenset[str]:
        """The figure ids this vintage shows as [c]."""
        return frozenset(self.values().filter(pl.col("previous_value") == SUPPRESSED)["figure_id"].to_list())


@dataclass(frozen=True)
class Revisions:
    """The outcome of comparing a release with the last vintage of its year."""

    table: pl.DataFrame  # one row per revised figure: REVISION_COLUMNS and reason_short, ordered by figure
    input_files: list[dict[str, str]]  # this build's input files (INPUT_COLUMNS), kept with the vintage
    previous: Vintage | None = None  # the vintage compared with, None when there is none
    identical_to: Vintage | None = None  # a kept vintage this release is identical to
    changes: tuple[InputChange, ...] = field(default=())

    @property
    def figure_ids(self) -> frozenset[str]:
        return frozenset(self.table["figure_id"].to_list())


# --- input files ---------------------------------------------------------------------------
def input_files(con: duckdb.DuckDBPyConnection, year: str) -> list[dict[str, str]]:
    """Every input file of the years up to `year`, with SHA-256; for authority returns the
    authority, its region, the submission number and whether it is the workbook used."""
    rows = con.execute("""
        SELECT i.financial_year, i.source, i.path, i.sha256,
               f.gss_code, r.authority_name, r.region_code, f.submission_number,
               CASE WHEN i.source <> 'authority_returns' THEN true
                    ELSE coalesce(r.file = i.path, false) END AS in_use
        FROM raw_input_files i
        LEFT JOIN raw_authority_returns__files f
            ON i.source = 'authority_returns' AND f.financial_year = i.financial_year AND f.file = i.path
        LEFT JOIN stg_authority_returns__returns r
            ON r.financial_year = f.financial_year AND r.gss_code = f.gss_code
        WHERE i.financial_year <= ?
        ORDER BY i.financial_year, i.source, i.path""", [year]).fetchall()
    out = []
    for row in rows:
        d = dict(zip(INPUT_COLUMNS, row))
        d["in_use"] = "yes" if d["in_use"] else "no"
        out.append({k: "" if v is None else str(v) for k, v in d.items()})
    return out


def input_changes(before: list[dict[str, str]], now: list[dict[str, str]]) -> list[InputChange]:
    """The differences between two lists of input files, in words a reader can check."""
    changes: list[InputChange] = []

    def returns_in_use(rows):
        return {(r["financial_year"], r["gss_code"]): r for r in rows
                if r["source"] == "authority_returns" and r["in_use"] == "yes" and r["gss_code"]}

    old_ar, new_ar = returns_in_use(before), returns_in_use(now)
    for key in sorted(set(old_ar) | set(new_ar)):
        old, new = old_ar.get(key), new_ar.get(key)
        if old and new and (old["path"], old["sha256"]) == (new["path"], new["sha256"]):
            continue
        ref = new or old
        assert ref is not None  # the key is one of old_ar's or new_ar's
        fy, code = key
        who = f"{ref['authority_name'] or code} ({code})"
        name = ref["authority_name"] or code
        if old and new and old["path"] == new["path"]:
            text = (f"{who} {fy} return {new['path']} (submission {new['submission_number']}) changed in place "
                    "(its SHA-256 differs)")
            short = f"{name} {fy} return changed in place"
        elif old and new:
            text = (f"{who} resubmitted its {fy} return: {new['path']} (submission {new['submission_number']}) "
                    f"replaces {old['path']} (submission {old['submission_number']})")
            short = f"{name} {fy} return, submission {old['submission_number']} to {new['submission_number']}"
        elif new:
            text = f"{who} {fy} return received since the previous release: {new['path']} " \
                   f"(submission {new['submission_number']})"
            short = f"{name} {fy} return received late"
        else:
            assert old is not None  # neither both nor new: the return was in use before
            text = f"{who} {fy} return {old['path']} (submission {old['submission_number']}) is no longer used"
            short = f"{name} {fy} return no longer used"
        changes.append(InputChange(fy, "authority_returns", code, ref["region_code"], text, short))

    def extracts(rows):
        return {(r["financial_year"], r["source"], r["path"]): r for r in rows if r["source"] != "authority_returns"}

    old_x, new_x = extracts(before), extracts(now)
    for key in sorted(set(old_x) | set(new_x)):
        old, new = old_x.get(key), new_x.get(key)
        fy, source, path = key
        name = SOURCES.get(source, source).split(" (")[0]
        if old and new:
            if old["sha256"] == new["sha256"]:
                continue
            text = f"{name} {fy} extract {path} changed (its SHA-256 differs)"
        elif new:
            text = f"{name} {fy} extract {path} added"
        else:
            text = f"{name} {fy} extract {path} removed"
        changes.append(InputChange(fy, source, "", "", text, f"{name} {fy} extract {path.rsplit('/', 1)[-1]}"))
    return changes


# --- vintages ----------------------------------------------------------------------------------
def vintages(vintages_dir: Path, year: str) -> list[Vintage]:
    """The kept vintages of a year, oldest first."""
    folder = Path(vintages_dir) / year
    if not folder.is_dir():
        return []
    out = []
    for p in folder.iterdir():
        if p.is_dir() and p.name.isdigit() and (p / VINTAGE_INFO).is_file():
            info = json.loads((p / VINTAGE_INFO).read_text(encoding="utf-8"))
            out.append(Vintage(year, int(p.name), p, str(info.get("built_at", ""))))
    return sorted(out, key=lambda v: v.number)


def withheld(vintages_dir: Path) -> frozenset[str]:
    """The figure ids shown [c] in any kept vintage of any year. Once withheld, always
    withheld: disclosure control keeps them suppressed in every later build
    (`Publisher.publish(carried=...)`), so no release carries a value of a figure an earlier
    one withheld."""
    folder = Path(vintages_dir)
    years = sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
    return frozenset().union(*(v.suppressed() for year in years for v in vintages(folder, year)))


def _same_inputs(a: list[dict[str, str]], b: list[dict[str, str]]) -> bool:
    return sorted((r["path"], r["sha256"]) for r in a) == sorted((r["path"], r["sha256"]) for r in b)


def _base_measure(measure: str) -> tuple[str, bool]:
    for suffix in CHANGE_SUFFIXES:
        if measure.endswith(suffix):
            return measure[: -len(suffix)], True
    return measure, False


def _reason(fig: dict, changes: list[InputChange], sources: dict[str, str]) -> tuple[str, str]:
    """The reason a figure changed, in full and short."""
    base, is_change = _base_measure(fig["measure"])
    years = {fig["time_period"]} | ({previous_year(fig["time_period"])} if is_change else set())
    source = sources.get(base, "")
    same = [c for c in changes if c.financial_year in years and (c.source == source or not source)]
    level, code = fig["geographic_level"], fig["geography_code"]

    def in_area(c: InputChange) -> bool:
        if c.source != "authority_returns" or level in ("national", "police_force_area"):
            return True
        if level == "regional":
            return c.region_code == code
        return c.gss_code == code

    chosen = [c for c in same if in_area(c)]
    if not chosen and same:  # changed through a shared total or disclosure control, not its own cells
        return ("Changed through disclosure control or a shared total: " + "; ".join(c.text for c in same) + ".",
                "Through disclosure control or a shared total: " + "; ".join(c.short for c in same))
    if not chosen:
        return NO_INPUT_CHANGED, "Method, code or reference data"
    return "; ".join(c.text for c in chosen) + ".", "; ".join(c.short for c in chosen)


def _same_figures(figures: pl.DataFrame, before: pl.DataFrame) -> bool:
    if figures.height != before.height:
        return False
    joined = figures.select("figure_id", "value").join(before, on="figure_id", how="inner")
    return joined.height == figures.height and joined.filter(pl.col("value") != pl.col("previous_value")).is_empty()


def compare(figures: pl.DataFrame, before: pl.DataFrame, changes: list[InputChange]) -> pl.DataFrame:
    """One row per figure present in both whose published value differs, with the reason.
    A figure [c] in either is not listed: a row would give its other value, or say by its
    reason whether it was withheld for its own cells (docs/decisions/0011)."""
    sources = {m.id: m.source for m in measures().values()}
    withheld = (pl.col("value") == SUPPRESSED) | (pl.col("previous_value") == SUPPRESSED)
    differ = figures.join(before, on="figure_id", how="inner").filter(
        (pl.col("value") != pl.col("previous_value")) & ~withheld)
    rows = []
    for fig in differ.iter_rows(named=True):
        reason, short = _reason(fig, changes, sources)
        rows.append({
            **{c: "" if fig.get(c) is None else str(fig[c]) for c in REVISION_COLUMNS if c != "reason"},
            "reason": reason,
            "reason_short": short,
        })
    table = pl.DataFrame(rows, schema={c: pl.String for c in (*REVISION_COLUMNS, "reason_short")}, orient="row")
    return table.sort("measure", "breakdown", "time_period", "geographic_level", "geography_code")


def revise(con: duckdb.DuckDBPyConnection, inputs, vintages_dir: Path):
    """The release inputs with revised figures marked and the revisions attached
    (`inputs.revisions`), compared with the last vintage of the year that is not this
    release itself."""
    files = input_files(con, inputs.year)
    previous = identical = None
    for v in reversed(vintages(vintages_dir, inputs.year)):
        if identical is None and _same_inputs(v.inputs(), files) and _same_figures(inputs.figures, v.values()):
            identical = v
            continue
        previous = v
        break
    if previous is None:
        table = pl.DataFrame(schema={c: pl.String for c in (*REVISION_COLUMNS, "reason_short")})
        changes: list[InputChange] = []
    else:
        changes = input_changes(previous.inputs(), files)
        table = compare(inputs.figures, previous.values(), changes)
    result = Revisions(table=table, input_files=files, previous=previous, identical_to=identical,
                       changes=tuple(changes))
    revised = list(result.figure_ids)
    figures = inputs.figures.with_columns(
        pl.when(pl.col("figure_id").is_in(revised) & pl.col("value_num").is_not_null())
        .then(pl.lit(REVISED)).otherwise(pl.col("value_status")).alias("value_status")
    )
    return replace(inputs, figures=figures, revisions=result)


def keep_vintage(vintages_dir: Path, release_dir: Path, inputs) -> Path | None:
    """Keep a final release as the next vintage of its year; None for a draft, or when the
    release is identical to a kept vintage (same inputs and same figures)."""
    if bool((inputs.settings or {}).get("draft", False)):
        return None
    rev = inputs.revisions
    if rev is None or rev.identical_to is not None:
        return None
    folder = Path(vintages_dir) / one_name(inputs.year)
    folder.mkdir(parents=True, exist_ok=True)
    kept = vintages(vintages_dir, inputs.year)
    number = (kept[-1].number if kept else 0) + 1
    tmp = folder / f".{number}.writing-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        shutil.copyfile(Path(release_dir) / "data" / "figures.csv", tmp / VINTAGE_FIGURES)
        if (Path(release_dir) / "data" / "revisions.csv").is_file():
            shutil.copyfile(Path(release_dir) / "data" / "revisions.csv", tmp / VINTAGE_REVISIONS)
        with (tmp / VINTAGE_INPUTS).open("w", encoding="utf-8", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(INPUT_COLUMNS), lineterminator="\n")
            w.writeheader()
            w.writerows(rev.input_files)
        build_path = Path(release_dir) / "build.json"
        build = json.loads(build_path.read_text(encoding="utf-8")) if build_path.is_file() else {}
        info = {
            "year": inputs.year,
            "vintage": number,
            "built_at": build.get("built_at", ""),
            "dagster_run_id": build.get("dagster_run_id", ""),
            "release_dir": str(Path(release_dir).resolve()),
            "compared_with": rev.previous.number if rev.previous else None,
            "revised_figures": rev.table.height,
        }
        (tmp / VINTAGE_INFO).write_text(json.dumps(info, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        target = folder / str(number)
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


# --- for the release writer ------------------------------------------------------------------
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December")


def _day(iso: str) -> str:
    """`2026-11-23T11:40:00+00:00` -> `23 November 2026` (not strftime: it depends on the locale)."""
    try:
        y, m, d = (int(x) for x in iso[:10].split("-"))
        return f"{d} {MONTHS[m - 1]} {y}"
    except (ValueError, IndexError):
        return ""


WITHHELD_NOT_LISTED = ("A figure withheld ([c]) in either release is not counted or listed, so that no "
                       "value of it is published. ")


@dataclass(frozen=True)
class RevisionView:
    """What the page and the spreadsheets say about revisions, besides the rows."""

    ids: frozenset[str] = frozenset()  # figures shown with [r]
    intro: str = ""  # the sentence naming the release compared with ("" when none)
    changes: tuple[str, ...] = ()  # each input change, in full


def release_rows(inputs, configured: list[dict[str, str]], idx) -> tuple[list[dict[str, str]], RevisionView]:
    """The rows of the Revisions section (computed revisions first, then any stated in the
    release configuration) and what is said around them."""
    from pipelines.release.model import with_commas

    rev = inputs.revisions
    rows: list[dict[str, str]] = []
    if rev is not None:
        for r in rev.table.iter_rows(named=True):
            label = idx.title(r["measure"])
            if r["breakdown"] != "all":
                label += f": {idx.breakdown_label(r['measure'], r['breakdown'])}"
            rows.append({**r, "label": f"{label}, {r['geography_name']}, {r['time_period']}",
                         "previous_text": with_commas(r["previous_value"]), "value_text": with_commas(r["value"])})
    seen = {r["figure_id"] for r in rows}
    for r in configured:
        if r.get("figure_id", "") not in seen:
            rows.append({"figure_id": r.get("figure_id", ""), "label": "", "previous_value": "", "value": "",
                         "previous_text": "", "value_text": "", "reason": r.get("reason", ""),
                         "reason_short": r.get("reason", "")})
    intro = ""
    if rev is not None and rev.previous is not None:
        built = _day(rev.previous.built_at)
        when = f", built on {built}" if built else ""
        n = len(rows)
        intro = (f"{n} figure{' differs' if n == 1 else 's differ'} from the previous release of {inputs.year} "
                 f"(kept as version {rev.previous.number}{when}). " if rows else
                 f"No figure differs from the previous release of {inputs.year} "
                 f"(kept as version {rev.previous.number}{when}). ") + WITHHELD_NOT_LISTED
    changes = tuple(c.text for c in rev.changes) if rev is not None and rows else ()
    return rows, RevisionView(frozenset(r["figure_id"] for r in rows if r["figure_id"]), intro, changes)
