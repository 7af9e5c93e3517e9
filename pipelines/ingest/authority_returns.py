"""Read the authority returns of one financial year: one Excel workbook per authority.

Every count cell read is kept with its location (file, sheet, row, column) so that any
published figure can be traced back to the cells that made it. Problems are reported,
never fixed silently: a structural problem sets the whole return aside (quarantine), a
bad cell is treated as not collected, and the rest are warnings.

A workbook is untrusted: it is opened, inspected against the limits of
`assets/input_limits.yaml` and parsed by `pipelines.workbooks`, in worker processes under a
time limit and a memory cap (`pipelines.read_workers`), so that no file can stop the others
being read or abort the process. What comes back here is either the sheets as rows or the
reason the file was set aside. The checks of the contract are made here, in file-name
order, whatever order the workers finish in.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from pipelines import schemas, workbooks
from pipelines.ingest import cells as C
from pipelines.manifest import sha256 as sha256_file
from pipelines.ingest.issues import Issue
from pipelines.read_workers import Reader, read_workbooks
from pipelines.reference import expected_authorities, population, reorganisations
from pipelines.safe_paths import printable, unprintable
from pipelines.workbooks import Limits, Merge, Rows, WorkbookRead

SOURCE = "authority_returns"
FOLDER = schemas.source(SOURCE).folder
# A count of people or households supported by one authority in a year can never exceed its
# residents (a cell error); above this many per 1,000 residents it is possible but far beyond
# any return (the sample's largest is 1.4 per 1,000), so it is a warning to check the figure.
PLAUSIBLE_PER_1000 = 10


@dataclass
class ReturnsRead:
    files: list[dict] = field(default_factory=list)
    rows: dict[str, list[dict]] = field(default_factory=lambda: defaultdict(list))
    cells: list[dict] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    # file -> about field -> (row, column letter) of its value, to locate whole-return issues
    about_cells: dict[str, dict[str, tuple[int, str]]] = field(default_factory=dict)


def read_year(raw_dir: Path, year: str, limits: Limits | None = None,
              reader: Reader = workbooks.read_workbook) -> ReturnsRead:
    """Read every workbook in `raw_dir/<year>/authority_returns/`, in file-name order.

    `limits` default to `assets/input_limits.yaml`. `reader` is what a worker does with one
    workbook (a module-level function, sent to the worker by name); tests pass one that hangs
    or dies to show that the year is still read."""
    folder = raw_dir / year / FOLDER
    paths = sorted(p for p in folder.glob("*") if p.is_file() and not p.name.startswith(("~$", ".")))
    out = ReturnsRead()
    expected = expected_authorities(year)
    xlsx = [p for p in paths if p.suffix.lower() == ".xlsx" and not unprintable(p.name)]
    reads = read_workbooks(xlsx, limits or workbooks.limits(), reader)
    try:
        for path in paths:
            if unprintable(path.name):
                _set_aside_by_name(path, raw_dir, year, out)
                continue
            got = next(reads)[1] if path.suffix.lower() == ".xlsx" else None
            _read_workbook(path, raw_dir, year, expected, out, got)
    finally:
        reads.close()
    _flag_duplicate_submissions(out)
    _check_submission_dates(out)
    return out


def _rel(path: Path, raw_dir: Path) -> str:
    return path.relative_to(raw_dir).as_posix()


def _set_aside_by_name(path: Path, raw_dir: Path, year: str, out: ReturnsRead) -> None:
    """A file whose name holds what no output can carry is set aside without being read, under
    its name made printable (so it is named, and the rest of the year goes on)."""
    rel = printable(_rel(path, raw_dir))
    record = {"financial_year": year, "file": rel, "sha256": sha256_file(path),
              **{f.name: None for f in schemas.ABOUT_FIELDS}, "status": "ok", "quarantine_reason": None}
    issue = Issue(year, SOURCE, rel, None, None, None, None, "structural", "bad_file_name",
                  f"its name holds {unprintable(path.name)}; rename the file (letters, digits, spaces, "
                  "- _ . only) and put it back in the folder")
    _finish(record, [issue], out)


def _read_workbook(path: Path, raw_dir: Path, year: str, expected: dict[str, dict], out: ReturnsRead,
                   got: WorkbookRead | None) -> None:
    rel = _rel(path, raw_dir)
    record: dict = {
        "financial_year": year,
        "file": rel,
        "sha256": sha256_file(path),
        **{f.name: None for f in schemas.ABOUT_FIELDS},
        "status": "ok",
        "quarantine_reason": None,
    }
    issues: list[Issue] = []

    def issue(level: str, code: str, message: str, sheet: str | None = None, row: int | None = None,
              col: str | None = None, fld: str | None = None, subject: str | None = None) -> None:
        issues.append(Issue(year, SOURCE, rel, sheet, row, col, fld, level, code, message, subject))

    if got is None:
        issue("structural", "not_xlsx", f"{path.name} is not an .xlsx workbook; authority returns must be Excel .xlsx files")
        _finish(record, issues, out)
        return
    if got.problem is not None:  # empty, encrypted, not a workbook, damaged, over a limit, or not read in time
        issue("structural", got.problem.code, got.problem.message, sheet=got.problem.sheet)
        _finish(record, issues, out)
        return
    sheets = got.sheets

    if not any(rows for rows in sheets.values()):
        expected_sheets = ", ".join(["about", *schemas.LATEST.sheet_names])
        issue("structural", "empty_workbook",
              f"{path.name} is an empty workbook (no sheet holds any cell); expected the sheets {expected_sheets}")
        _finish(record, issues, out)
        return

    # the version the return declares decides its sheets, columns and codes (assets/templates/)
    declared = _declared_version(sheets.get("about"))
    template = schemas.TEMPLATES.get(declared) if declared is not None else None
    shown = template.sheet_names if template is not None else tuple(t.name for t in schemas.RETURN_SHEETS)
    for name in ["about", *shown]:
        if name in sheets:
            _check_merges(name, sheets[name], got.merges.get(name, []), issue)

    # --- about ---------------------------------------------------------------------------
    about = sheets.get("about")
    if about is None:
        found = ", ".join(repr(n) for n in sheets)
        issue("structural", "missing_sheet",
              f"has no sheet named 'about' (its sheets are {found}); the return cannot be identified", sheet="about")
        _finish(record, issues, out)
        return
    fields, required = ((template.about, template.about_required) if template is not None
                        else (schemas.ABOUT_FIELDS, schemas.ABOUT_REQUIRED))
    header_ok, about_cells = _read_about(about, record, issue, fields, required)
    out.about_cells[rel] = about_cells
    if record["template_version"] is not None and template is None:
        row, col = about_cells.get("template_version", (None, None))
        known = ", ".join(str(v) for v in schemas.VERSIONS)
        issue("structural", "unknown_template_version",
              f"gives template_version {record['template_version']}, which is not a version of the return "
              f"template (the versions known are {known}); the return is not read until it is sent on one of them",
              sheet="about", row=row, col=col, fld="template_version")
        if header_ok:
            _check_identity(record, year, expected, issue, about_cells)
        _finish(record, issues, out)
        return
    # a return that gives no usable version is set aside (template_version is required), and
    # read against the latest template so that its other problems are told at the same time
    template = template or schemas.LATEST
    names = set(template.sheet_names)
    missing_sheets = [t.name for t in template.sheets if t.required and t.name not in sheets]
    extra_sheets = [n for n in sheets if n != "about" and n not in names]
    for name in missing_sheets:
        issue("structural", "missing_sheet", f"has no sheet named '{name}'{C.near(name, extra_sheets, 'sheet')}",
              sheet=name)
    for name in sorted(set(sheets) - {"about", *names}):
        issue("warning", "extra_sheet", f"has an extra sheet '{name}', which is ignored", sheet=name)
    if header_ok:
        _check_identity(record, year, expected, issue, about_cells)

    # --- data sheets -----------------------------------------------------------------------
    sheet_rows: dict[str, list[dict]] = {}
    sheet_cells: list[dict] = []
    letters: dict[str, dict[str, str]] = {}
    for table in template.sheets:
        if table.name in sheets:
            rows = _read_table_sheet(table, sheets[table.name], rel, year, issue, sheet_cells, letters,
                                     template.version)
            if rows is not None:
                sheet_rows[table.name] = rows
    if any(i.level == "structural" for i in issues):
        _finish(record, issues, out)
        return
    _check_magnitudes(record["gss_code"], year, expected, sheet_rows, sheet_cells, issue)
    _check_consistency(sheet_rows, letters, issue)
    for name, rows in sheet_rows.items():
        out.rows[name].extend(rows)
    out.cells.extend(sheet_cells)
    _finish(record, issues, out)


def _declared_version(rows: Rows | None) -> int | None:
    """The template_version an about sheet gives, read without a word said (reading the sheet
    itself reports its problems): None when the sheet gives none that can be read."""
    if not rows:
        return None
    header = _header(rows, lambda *args, **kwargs: None, "about", ("field", "value"))
    if header is None:
        return None
    fi, vi = header["field"], header["value"]
    for row in rows[1:]:
        name = row[fi][0] if fi < len(row) else None
        if C.is_blank(name) or str(name).strip() != "template_version":
            continue
        value, err = row[vi] if vi < len(row) else (None, None)
        parsed, problem = (None, "error") if err is not None else C.parse_int(value)
        return parsed if problem is None else None
    return None


def _finish(record: dict, issues: list[Issue], out: ReturnsRead) -> None:
    structural = [i for i in issues if i.level == "structural"]
    if structural:
        record["status"] = "quarantined"
        record["quarantine_reason"] = "; ".join(i.where_and_what() for i in structural)
    out.files.append(record)
    out.issues.extend(issues)


def _check_merges(sheet: str, rows: Rows, merges: list[Merge], issue) -> None:
    """A merged range over the table (its header row or its rows) keeps only its first cell's
    value: the parsers read the other cells as blank, which is "not collected". Said as a
    warning at the range's first cell; the values are used as read."""
    if not rows or not merges:
        return
    header = rows[0]
    width = max((i + 1 for i, (v, e) in enumerate(header) if not C.is_blank(v) or e is not None), default=0)
    for r1, c1, r2, c2, ref in sorted(merges):
        if (r1, c1) == (r2, c2) or r1 > len(rows) or c1 > width:
            continue  # one cell, or beside the table
        first = f"{C.column_letter(c1 - 1)}{r1}"
        name = header[c1 - 1][0] if c1 - 1 < len(header) else None
        issue("warning", "merged_cells",
              f"cells {ref} are merged: only the value of {first} is read, and the other cells of the range count as "
              "not collected. Unmerge the cells and type each value in its own cell",
              sheet=sheet, row=r1, col=C.column_letter(c1 - 1), fld=None if C.is_blank(name) else str(name).strip())


def _header(rows, issue, sheet: str, required: tuple[str, ...], known: tuple[str, ...] | None = None,
            renamed: dict[str, str] | None = None) -> dict[str, int] | None:
    """The header row: heading -> column index. `required` headings missing are structural
    errors; headings not `known` (default: the required ones) are extra, ignored with a
    warning. `renamed`: a heading -> what an earlier template version called it, for the hint."""
    if not rows:
        issue("structural", "empty_sheet", "is empty: expected a header row in row 1", sheet=sheet, row=1)
        return None
    known = required if known is None else known
    header: dict[str, int] = {}
    for idx, (value, _err) in enumerate(rows[0]):
        if C.is_blank(value):
            continue
        name = str(value).strip()
        if name in header:
            issue("structural", "duplicate_column", f"has the column '{name}' twice", sheet=sheet, row=1,
                  col=C.column_letter(idx), fld=name)
            return None
        header[name] = idx
    missing = [c for c in required if c not in header]
    extra = [h for h in header if h not in known]
    for name in missing:
        old = (renamed or {}).get(name)
        if old is not None and old in header:
            hint = (f": '{old}' is what an earlier version of the template called it; rename the heading to "
                    f"'{name}', or give the template_version the return was made on")
        else:
            hint = C.near(name, extra, "column")
        issue("structural", "missing_column", f"has no column '{name}' in its header row{hint}",
              sheet=sheet, row=1, fld=name)
    for name, idx in header.items():
        if name not in known:
            issue("warning", "extra_column", f"has an extra column '{name}', which is ignored", sheet=sheet, row=1,
                  col=C.column_letter(idx), fld=name)
    return None if missing else header


def _read_about(rows, record: dict, issue, about: tuple[schemas.Column, ...],
                required: tuple[str, ...]) -> tuple[bool, dict[str, tuple[int, str]]]:
    """Read the field/value list (the fields `about` of a template version) into the file
    record; return (usable, field -> (row, column))."""
    cells: dict[str, tuple[int, str]] = {}
    header = _header(rows, issue, "about", ("field", "value"))
    if header is None:
        return False, cells
    fi, vi = header["field"], header["value"]
    seen: set[str] = set()
    bad: set[str] = set()  # fields whose value is not of its type (said where it is read)
    fields = {f.name: f for f in about}
    for r, row in enumerate(rows[1:], start=2):
        fname = row[fi][0] if fi < len(row) else None
        if C.is_blank(fname):
            continue
        fname = str(fname).strip()
        value, err = row[vi] if vi < len(row) else (None, None)
        col = C.column_letter(vi)
        if fname not in fields:
            issue("warning", "unknown_field", f"has an unknown field '{fname}', which is ignored", sheet="about", row=r, col=col, fld=fname)
            continue
        if fname in seen:
            issue("structural", "duplicate_field", f"gives the field '{fname}' twice", sheet="about", row=r, col=col, fld=fname)
            continue
        seen.add(fname)
        cells[fname] = (r, col)
        spec = fields[fname]
        parsed, problem = _parse(spec, value, err)
        if problem:
            level = "structural" if fname in required else "cell_error"
            issue(level, "bad_about_value", f"field '{fname}' {problem}", sheet="about", row=r, col=col, fld=fname)
            bad.add(fname)
        record[fname] = parsed
    ok = True
    for fname in required:
        if record[fname] is None:
            if fname not in seen:
                issue("structural", "missing_field", f"does not give the field '{fname}'", sheet="about", fld=fname)
            elif fname not in bad:  # given, with its value left blank
                row, col = cells[fname]
                issue("structural", "missing_field", f"leaves the field '{fname}' blank", sheet="about",
                      row=row, col=col, fld=fname)
            ok = False
    if record["submission_number"] is not None and record["submission_number"] < 1:
        row, col = cells["submission_number"]
        issue("structural", "bad_submission_number",
              f"gives submission_number {record['submission_number']}; it must be 1 or more", sheet="about",
              row=row, col=col, fld="submission_number")
        ok = False
    return ok, cells


def _check_identity(record: dict, year: str, expected: dict[str, dict], issue,
                    cells: dict[str, tuple[int, str]]) -> None:
    def at(fname: str) -> dict:
        row, col = cells.get(fname, (None, None))
        return {"sheet": "about", "row": row, "col": col, "fld": fname}

    if record["financial_year"] != year:
        issue("structural", "wrong_year",
              f"says financial_year {record['financial_year']} but is in the {year} folder", **at("financial_year"))
    code = record["gss_code"]
    if code not in expected:
        issue("structural", "unknown_authority",
              f"gives gss_code {code if code == code.strip() else repr(code)}, which is not a Tier 1 authority "
              f"in force in {year}{_abolished(code, year)}", **at("gss_code"))
        return
    ref_name = expected[code]["name"]
    name = record["authority_name"]
    if name is not None and name.strip() != ref_name:
        issue("warning", "name_mismatch",
              f"gives authority_name {name!r} but {code} is {ref_name!r} in the reference data; the code is used",
              **at("authority_name"))


def _abolished(code: str, year: str) -> str:
    """Why a code that was once a Tier 1 authority is not one in `year`, from the reorganisations."""
    start = f"{year[:4]}-04-01"
    changes = [r for r in reorganisations() if r["predecessor_code"] == code and r["effective_date"] <= start]
    if not changes:
        return ""
    first = changes[0]
    successors = ", ".join(f"{r['successor_code']} {r['successor_name']}" for r in changes)
    return (f": {first['predecessor_name']} was replaced on {first['effective_date']} by {successors}; "
            "the return must give the successor authority's code")


def _parse(col: schemas.Column, value, err):
    if col.type == "count":
        return C.parse_count(value, error_code=err)
    if err is not None:
        return None, C.error_problem(err)
    if col.type == "int":
        return C.parse_int(value)
    if col.type == "code":
        return C.parse_code(value, col.codes)
    if col.type == "yesno":
        return C.parse_yesno(value)
    if col.type == "date":
        return C.parse_date(value)
    if col.type == "year":
        return C.parse_year(value)
    return C.parse_text(value)


def _read_table_sheet(table: schemas.Table, rows, rel: str, year: str, issue, cells_out: list[dict],
                      letters_out: dict[str, dict[str, str]], version: int) -> list[dict] | None:
    """One data sheet, as the template version `version` declares it (`table`): each column
    found under its heading in this version, kept under its warehouse name."""
    renamed = {c.header: c.name for c in table.columns if c.header != c.name}
    header = _header(rows, issue, table.name, tuple(c.header for c in table.columns if c.required),
                     table.headers, renamed)
    if header is None:
        return None
    letters_out[table.name] = {c.name: C.column_letter(header[c.header]) for c in table.columns if c.header in header}
    key_col = table.column(table.key) if table.key else None
    # the cells of a row are told apart by its key code, or by the one column unique in the return
    record_key = table.key or (table.unique[0] if len(table.unique) == 1 else None)
    out: list[dict] = []
    seen_keys: dict[int | str, int] = {}
    for r, row in enumerate(rows[1:], start=2):
        if all(C.is_blank(v) and e is None for v, e in row):
            continue
        rec: dict = {"financial_year": year, "file": rel, "sheet_row": r, "template_version": version}
        row_cells: list[dict] = []
        for col in table.columns:
            idx = header.get(col.header)
            if idx is None:  # a voluntary column the return leaves out: not collected
                rec[col.name] = None
                continue
            value, err = row[idx] if idx < len(row) else (None, None)
            letter = C.column_letter(idx)
            parsed, problem = _parse(col, value, err)
            if problem:
                issue("cell_error", f"bad_{col.type}", f"column '{col.header}' {problem}; treated as not collected",
                      sheet=table.name, row=r, col=letter, fld=col.header)
            rec[col.name] = parsed
            if col.type == "count":
                status = "error" if problem else ("blank" if parsed is None else "ok")
                row_cells.append({
                    "financial_year": year, "file": rel, "sheet": table.name, "sheet_row": r,
                    "column_letter": letter, "field": col.name, "record_key": None,
                    "raw_value": _raw_text(value, err),
                    "value": parsed, "cell_status": status, "template_version": version,
                })
        if record_key is not None:
            for c in row_cells:
                c["record_key"] = rec.get(record_key)
        cells_out.extend(row_cells)
        if key_col is not None:
            key_value = rec[key_col.name]
            at = header[key_col.header]
            raw_key = row[at][0] if at < len(row) else None
            if key_value is None and C.is_blank(raw_key):
                issue("cell_error", "missing_key", f"row has no {key_col.header}; its figures cannot be used",
                      sheet=table.name, row=r, col=C.column_letter(at), fld=key_col.header)
            elif key_value is None:
                pass  # an unknown code: reported as a cell error above
            elif key_value in seen_keys:
                issue("structural", "duplicate_row",
                      f"has a second row for {key_col.header} '{key_value}' (first in row {seen_keys[key_value]})",
                      sheet=table.name, row=r, col=C.column_letter(at), fld=key_col.header)
            else:
                seen_keys[key_value] = r
        out.append(rec)
    if key_col is not None and table.key_codes:
        for code in table.key_codes:
            if code not in seen_keys:
                issue("warning", "missing_row",
                      f"has no row for {key_col.header} '{code}'; its figures are treated as not collected",
                      sheet=table.name, fld=key_col.header, subject=code)
    return out


def _raw_text(value: object, err: str | None) -> str | None:
    """The cell as a person would see it typed (12, not 12.0)."""
    if err is not None:
        return err
    if value is None or value == "":
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _check_magnitudes(code: str, year: str, expected: dict[str, dict], sheet_rows: dict[str, list[dict]],
                      cells: list[dict], issue) -> None:
    """Counts against the authority's population (ONS mid-year estimate): more than its residents
    is impossible (a cell error: the cell is treated as not collected, in the cells and in the
    rows); more than PLAUSIBLE_PER_1000 per 1,000 residents is a warning."""
    held = population(code, year)
    if held is None:
        return
    residents, mid = held
    name = expected[code]["name"]
    records = {(sheet, rec["sheet_row"]): rec for sheet, recs in sheet_rows.items() for rec in recs}
    for cell in cells:
        value = cell["value"]
        if value is None or value * 1000 <= residents * PLAUSIBLE_PER_1000:
            continue
        at = {"sheet": cell["sheet"], "row": cell["sheet_row"], "col": cell["column_letter"], "fld": cell["field"]}
        if value > residents:
            issue("cell_error", "count_above_population",
                  f"column '{cell['field']}' holds {value:,}, more than the {residents:,} people living in {name} "
                  f"(ONS mid-{mid} estimate); treated as not collected", **at)
            cell["value"], cell["cell_status"] = None, "error"
            records[(cell["sheet"], cell["sheet_row"])][cell["field"]] = None
        else:
            issue("warning", "implausible_count",
                  f"column '{cell['field']}' holds {value:,}: {value * 1000 / residents:,.1f} per 1,000 residents of "
                  f"{name} (ONS mid-{mid} estimate), more than the {PLAUSIBLE_PER_1000} per 1,000 that any return "
                  "has come near; the figure is used", **at)


def _check_consistency(sheet_rows: dict[str, list[dict]], letters: dict[str, dict[str, str]], issue) -> None:
    """The consistency rules of the contract. A column the return's template version does not
    have is not in its records (`rec.get` gives None: not collected), so its rule says nothing."""
    def at(sheet: str, rec: dict, fld: str) -> dict:
        return {"sheet": sheet, "row": rec["sheet_row"], "col": letters.get(sheet, {}).get(fld), "fld": fld}

    for rec in sheet_rows.get("services", []):
        if rec.get("by_and_for") == "yes" and rec.get("by_and_for_group") is None:
            issue("cell_error", "by_and_for_without_group",
                  f"service {C.describe(rec.get('service_ref'))} is by-and-for but gives no by_and_for_group; "
                  "it counts as by-and-for in no group (enter one of: " + ", ".join(schemas.BY_AND_FOR_GROUPS) + ")",
                  **at("services", rec, "by_and_for_group"))
        if rec.get("by_and_for") == "no" and rec.get("by_and_for_group") is not None:
            issue("cell_error", "group_without_by_and_for",
                  f"service {C.describe(rec.get('service_ref'))} is not by-and-for but gives by_and_for_group "
                  f"'{rec.get('by_and_for_group')}'; the group is not used",
                  **at("services", rec, "by_and_for_group"))
            rec["by_and_for_group"] = None
    individuals_total = 0
    for rec in sheet_rows.get("supported", []):
        individuals = sum(rec.get(k) or 0 for k in schemas.IDENTITIES)
        individuals_total += individuals
        outside = rec.get("from_outside_area")
        if outside is not None and outside > individuals:
            issue("warning", "outside_area_above_individuals",
                  f"{rec.get('accommodation_type')}: from_outside_area {outside} is more than the "
                  f"{individuals} individuals supported", **at("supported", rec, "from_outside_area"))
    chars = {r["characteristic"]: r for r in sheet_rows.get("characteristics", []) if r.get("characteristic")}
    if "any" in chars and chars["any"].get("individuals") is not None:
        any_n = chars["any"]["individuals"]
        singles = [(r["individuals"], k) for k, r in chars.items() if k != "any" and r.get("individuals") is not None]
        if singles:
            top, top_code = max(singles)
            if any_n < top:
                issue("warning", "any_below_single",
                      f"'any' ({any_n}) is below '{top_code}' ({top}); it must be at least the largest characteristic",
                      **at("characteristics", chars["any"], "individuals"))
        if individuals_total and any_n > individuals_total:
            issue("warning", "any_above_individuals",
                  f"'any' ({any_n}) is more than the {individuals_total} individuals supported",
                  **at("characteristics", chars["any"], "individuals"))


def _flag_duplicate_submissions(out: ReturnsRead) -> None:
    """Two usable workbooks for one authority with the same submission number: neither can be chosen."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for rec in out.files:
        if rec["status"] == "ok":
            groups[(rec["gss_code"], rec["submission_number"])].append(rec)
    bad_files: set[str] = set()
    for (code, number), recs in sorted(groups.items()):
        if len(recs) > 1:
            names = ", ".join(r["file"] for r in recs)
            for rec in recs:
                msg = (f"is one of {len(recs)} workbooks for {code} with submission_number {number} ({names}); "
                       "none of them is used until one is resubmitted with a higher number")
                row, col = out.about_cells.get(rec["file"], {}).get("submission_number", (None, None))
                found = Issue(rec["financial_year"], SOURCE, rec["file"], "about", row, col,
                              "submission_number", "structural", "duplicate_submission", msg)
                out.issues.append(found)
                rec["status"] = "quarantined"
                rec["quarantine_reason"] = found.where_and_what()
                bad_files.add(rec["file"])
    if bad_files:
        for name in list(out.rows):
            out.rows[name] = [r for r in out.rows[name] if r["file"] not in bad_files]
        out.cells = [c for c in out.cells if c["file"] not in bad_files]


def _check_submission_dates(out: ReturnsRead) -> None:
    """A higher submission number dated before a lower one (a warning on the higher one): the
    highest number is used, which may not be the return the authority sent last."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for rec in out.files:
        if rec["status"] == "ok" and rec["submitted_on"] is not None:
            groups[rec["gss_code"]].append(rec)
    for code, recs in sorted(groups.items()):
        recs.sort(key=lambda r: r["submission_number"])
        for i, later in enumerate(recs):
            earlier = [r for r in recs[:i] if r["submitted_on"] > later["submitted_on"]]
            if not earlier:
                continue
            first = max(earlier, key=lambda r: r["submitted_on"])
            used = recs[-1]
            msg = (f"is submission {later['submission_number']} of {code}, dated {later['submitted_on']}, but "
                   f"submission {first['submission_number']} ({first['file']}) is dated later, "
                   f"{first['submitted_on']}; the highest number is used (submission {used['submission_number']}, "
                   f"{used['file']}): confirm which return is the latest")
            row, col = out.about_cells.get(later["file"], {}).get("submitted_on", (None, None))
            out.issues.append(Issue(later["financial_year"], SOURCE, later["file"], "about", row, col,
                                    "submitted_on", "warning", "submission_out_of_order", msg))
