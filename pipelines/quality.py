"""The statistician's query loop: decisions on issues, what is still open, and query lists.

Every problem the readers find is an `Issue` with a stable `issue_id` (table `raw_issues`).
Here each issue of a year gets a status:

- `fixed_by_resubmission`: its workbook was superseded by a later submission of the same
  authority (the workbook in use has a higher submission number);
- `accepted`: the statistician accepted it, with a reason, in `<raw>/<year>/decisions.yaml`;
- `rejected`: the statistician rejected it (the authority must correct it);
- `open`: none of these.

An *error* is a structural error or a cell error. An error that is `open` or `rejected`
blocks the final release: `dasa release` then builds a DRAFT, and `dasa release --final`
refuses. Warnings never block; they can be accepted too, to close them.

The decisions file (see docs/decisions/0009-query-loop-and-draft.md):

```yaml
decisions:
  - issue_id: AR-2024-25-0123456789
    decision: accepted            # accepted | rejected
    reason: The authority confirmed the cell is not collected this year.
    decided_by: A. Statistician
    date: 2025-07-14
```
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl
from pydantic import ValidationError

from pipelines import schemas, warehouse
from pipelines.cell_text import csv_bytes
from pipelines.config_models import DecisionsModel, problem, read_mapping
from pipelines.manifest import sha256
from pipelines.safe_paths import file_name_for, hashed_name, inside, is_gss_code

DECISIONS_FILE = "decisions.yaml"
DECISION_KINDS = ("accepted", "rejected")
DECISION_KEYS = ("issue_id", "decision", "reason", "decided_by", "date")
ERROR_LEVELS = ("structural", "cell_error")
STATUSES = ("open", "rejected", "accepted", "fixed_by_resubmission")
STATUS_WORDS = {
    "open": "open",
    "rejected": "rejected (awaiting a corrected return)",
    "accepted": "accepted",
    "fixed_by_resubmission": "fixed by a resubmission",
}
SOURCE_NAMES = {s.name: s.label for s in schemas.SOURCES}


@dataclass(frozen=True)
class Check:
    """One check the readers make: what it looks for, and what to ask the sender to do."""

    title: str
    what_to_do: str


_RESUBMIT = "Correct the cell and send the workbook again with the next submission_number."
CHECKS: dict[str, Check] = {
    # whole files (structural: the return or extract is set aside)
    "bad_file_name": Check("The file's name is plain text",
                           "Rename the file (letters, digits, spaces, - _ . only) and put it back in the folder."),
    "not_xlsx": Check("The return is an Excel .xlsx workbook",
                      "Send the return as an .xlsx workbook made from the template."),
    "unreadable_workbook": Check("The workbook can be opened",
                                 "Open the workbook in Excel, save it again as .xlsx and send that copy."),
    "empty_workbook": Check("The workbook holds the sheets of the template",
                            "The workbook has no cell in any sheet: fill in the template and send it again."),
    "empty_file": Check("The file received is not empty",
                        "The copy received is empty (0 bytes): send the file again."),
    "password_protected": Check("The workbook has no password",
                                "Save a copy of the workbook without a password and send that."),
    "not_a_workbook": Check("The file named .xlsx is an Excel workbook",
                            "The file is another kind of file (PDF, web page, old .xls...) renamed .xlsx: save the "
                            "return from the template as an Excel workbook (.xlsx) and send that."),
    "damaged_workbook": Check("The workbook is a complete, undamaged file",
                              "The copy received is damaged or cut short: send the workbook again (saved again from "
                              "Excel if the copy sent is damaged too)."),
    "too_large": Check("The workbook is within the size limits of a return (assets/input_limits.yaml)",
                       "Send the return on the template, without added pictures, sheets or formatting."),
    "oversized_sheet": Check("Each sheet is within the rows, columns and cells a return may have",
                             "Delete what is below and to the right of the table (or copy the table into a fresh "
                             "template) and send the return again."),
    "read_timeout": Check("The workbook can be read within the time limit",
                          "Check the workbook holds only the return (nothing large hidden beyond the tables) and "
                          "send it again."),
    "reader_failed": Check("The workbook can be read within the memory limit, without the reader failing",
                           "Check the workbook holds only the return (nothing large hidden beyond the tables) and "
                           "send it again."),
    "missing_sheet": Check("Every sheet of the template is there",
                           "Add the missing sheet from the template and send the workbook again."),
    "empty_sheet": Check("Every sheet has a header row",
                         "Fill in the sheet from the template (header in row 1) and send the workbook again."),
    "duplicate_column": Check("No column heading appears twice",
                              "Remove the repeated column and send the workbook again."),
    "missing_column": Check("Every required column is there",
                            "Add the missing column (heading exactly as in the template) and send the file again."),
    "duplicate_field": Check("No field of the about sheet appears twice",
                             "Keep one row for the field on the about sheet and send the workbook again."),
    "missing_field": Check("Every required field of the about sheet is given",
                           "Fill in the field on the about sheet and send the workbook again."),
    "unknown_template_version": Check("The return is on a known version of the template",
                                      "Correct the template_version on the about sheet to the version the return "
                                      "was made from, or fill in a current template and send the return again."),
    "bad_submission_number": Check("The submission number is 1 or more",
                                   "Give submission_number 1 for a first return, one more for each resubmission."),
    "wrong_year": Check("The return is for the year of the folder it is in",
                        "Check the financial_year on the about sheet, or file the return under the right year."),
    "unknown_authority": Check("The GSS code is a Tier 1 authority in force that year",
                               "Give the authority's GSS code exactly (E06, E08, E10 or E61000001)."),
    "duplicate_row": Check("Each code has one row",
                           "Keep one row per code (add the figures together if they belong together) and resend."),
    "duplicate_submission": Check("Each submission number is used once per authority",
                                  "Send the corrected return again with the next submission_number."),
    "bad_about_value": Check("The fields of the about sheet have valid values",
                             "Correct the value on the about sheet (see the template's notes) and resend."),
    "missing_file": Check("Every extract file of the year was received",
                          "Send the extract for the year, or record why it is not available."),
    "not_comma_separated": Check("CSV files are comma-separated",
                                 "Export the file again as CSV with commas between values."),
    "unreadable_file": Check("The file can be read as a table",
                             "The file is damaged or not UTF-8 CSV: export it again."),
    "not_utf8": Check("CSV files are UTF-8 text",
                      "Save the file again as CSV UTF-8 and send it again."),
    # cells (the cell is treated as not collected)
    "bad_count": Check("Count cells hold a whole number 0 or more, or are blank",
                       "Enter a whole number 0 or more, or leave the cell blank if it was not collected; "
                       "then send the file again."),
    "bad_int": Check("Whole-number cells hold a whole number", _RESUBMIT),
    "count_above_population": Check("A count is no more than the people living in the authority",
                                    "Check the figure (a count of people or households supported cannot be "
                                    "larger than the population), then send the file again."),
    "bad_code": Check("Code cells hold one of the codes of the template",
                      "Use one of the codes listed in the template, then send the file again."),
    "bad_yesno": Check("Yes/no cells hold yes or no", "Enter yes or no, then send the file again."),
    "bad_date": Check("Date cells hold a date", "Enter the date as YYYY-MM-DD, then send the file again."),
    "bad_year": Check("Year cells hold a financial year like 2024-25", _RESUBMIT),
    "bad_text": Check("Text cells hold text", _RESUBMIT),
    "bad_codes_list": Check("Lists of codes use only the codes of the contract, separated by ;",
                            "Use only the listed codes, separated by semicolons, then send the file again."),
    "missing_key": Check("Every row says what it is (its code)",
                         "Fill in the code of the row (first column), then send the workbook again."),
    "group_without_by_and_for": Check("A service that is not by-and-for gives no by-and-for group",
                                      "Either set by_and_for to yes or clear by_and_for_group, then resend."),
    "ragged_line": Check("Every line of a CSV file has as many values as the header",
                         "Look for a missing or extra comma (or a quote that is not closed) on the line, export the "
                         "file again and send it."),
    "duplicate_key": Check("Each record appears once",
                           "Remove the repeated record (or give it its own id) and send the file again."),
    "outside_year": Check("Referral dates are within the financial year of the extract",
                          "Check the referral_date, or file the referral under the year it belongs to, and send the "
                          "file again."),
    "missing_decline_reason": Check("A declined referral gives its decline reason",
                                    "Enter the decline_reason of the referral, then send the file again."),
    "unknown_service": Check("Every referral names a service of refuge_services.csv",
                             "Use the service_id of a service listed in refuge_services.csv (or add the service "
                             "there), then send the files again."),
    "not_a_quarter_end": Check("quarter_end is the last day of a quarter of the year",
                               "Give the last day of the quarter (30 June, 30 September, 31 December or 31 March), "
                               "then send the file again."),
    # warnings (flagged for the statistician; no figure changes)
    "extra_sheet": Check("No sheets beyond the template", "No action needed unless the sheet holds data we need."),
    "extra_column": Check("No columns beyond the template", "No action needed unless the column holds data we need."),
    "unknown_field": Check("No unknown fields on the about sheet", "No action needed; check the field name."),
    "merged_cells": Check("No merged cells over a table of the template",
                          "Unmerge the cells and type each value in its own cell (a merged range keeps only its "
                          "first cell's value: the others count as not collected)."),
    "name_mismatch": Check("The authority name matches the reference name",
                           "Confirm the GSS code is right; the name is informational."),
    "missing_row": Check("Every code of the template has a row",
                         "Add the row (blank cells if not collected), or confirm it was left out on purpose."),
    "by_and_for_without_group": Check("A by-and-for service gives its group",
                                      "Give the by_and_for_group of the service."),
    "outside_area_above_individuals": Check("People from outside the area are no more than the people supported",
                                            "Check the from_outside_area figure and the figures of the row."),
    "any_below_single": Check("'any' characteristic is at least the largest single characteristic",
                              "Check the 'any' row of the characteristics sheet."),
    "implausible_count": Check("A count is plausible for the authority's population",
                               "Confirm the figure with the authority, or send a correction."),
    "submission_out_of_order": Check("A higher submission number is not dated before a lower one",
                                     "Confirm which return is the latest; resend it with the highest "
                                     "submission_number."),
    "any_above_individuals": Check("'any' characteristic is at most the individuals supported",
                                   "Check the 'any' row against the individuals supported."),
    "no_records": Check("An extract holds records",
                        "Confirm the extract really holds no records for the year, or send it again."),
    "wheelchair_above_bedspaces": Check("Wheelchair accessible bedspaces are no more than the bedspaces",
                                        "Check the service's wheelchair_accessible_bedspaces and bedspaces."),
    "above_cases_discussed": Check("A part of the cases discussed at a Marac is no more than the cases discussed",
                                   "Check the Marac's figures for the quarter against its cases_discussed."),
    "marac_quarter_filled": Check("Each Marac gives figures for every quarter of the year",
                                  "Send the Marac's missing quarter, or confirm it is to be filled from the "
                                  "neighbouring quarter."),
    "marac_left_out": Check("Each Marac gives figures for at least three quarters of the year",
                            "Send the Marac's missing quarters, or confirm it is to be left out of the year's rates."),
}
_DEFAULT_ACTION = {
    "structural": "The file was set aside: correct it and send it again.",
    "cell_error": "The cell was treated as not collected: correct it and send the file again.",
    "warning": "Please confirm the figure or send a correction.",
}


# Checks whose messages quote no value of a cell (names, codes and headings only): the release
# shows them as written. Every other cell error and warning quotes what a cell holds, which
# may be a true count that no figure publishes (a number typed as text) or a part of a
# suppressed one ('any' (2) is below ...): the release says which check failed where, and the
# message with the value goes only to the query list of the authority (decision 0008).
VALUE_FREE_MESSAGES = frozenset({
    "extra_sheet", "extra_column", "unknown_field", "name_mismatch", "missing_row", "missing_key",
    "missing_file", "no_records",
})
_PUBLIC_OUTCOME = {
    "cell_error": "the cell was treated as not collected",
    "warning": "the figure was used as sent, and the authority asked to confirm it",
}


def public_message(level: str, code: str, message: str) -> str:
    """An issue's message as the public release shows it: as written for a structural error
    or a check that quotes no cell value, otherwise the check and what was done, without the
    value found (that is in the authority's query list)."""
    if level not in _PUBLIC_OUTCOME or code in VALUE_FREE_MESSAGES:
        return message
    return f"Failed the check: {check_of(code).title}; {_PUBLIC_OUTCOME[level]} (the value found is in the query list)."


def public_issues(frame: pl.DataFrame) -> pl.DataFrame:
    """`public_message` over the message column of an issues frame."""
    if frame.height == 0 or "message" not in frame.columns:
        return frame
    messages = [public_message(level, code, message) for level, code, message
                in frame.select("level", "code", "message").iter_rows()]
    return frame.with_columns(pl.Series("message", messages, dtype=pl.String))


def check_of(code: str) -> Check:
    return CHECKS.get(code) or Check(code.replace("_", " ").capitalize(), "")


def what_to_do(code: str, level: str) -> str:
    return (CHECKS[code].what_to_do if code in CHECKS else "") or _DEFAULT_ACTION.get(level, "")


# --- decisions ---------------------------------------------------------------------------------

class DecisionsError(ValueError):
    """A decisions file that cannot be used; the message names the file and the entry."""


@dataclass(frozen=True)
class Decision:
    issue_id: str
    decision: str  # accepted | rejected
    reason: str
    decided_by: str
    date: str  # ISO date
    file: str  # the decisions file, relative to the raw folder


def decisions_path(raw_dir: Path, year: str) -> Path:
    return Path(raw_dir) / year / DECISIONS_FILE


def load_decisions(raw_dir: Path, year: str, known_ids: set[str] | None = None) -> dict[str, Decision]:
    """The decisions of one year by issue id ({} when there is no file). Raises DecisionsError
    naming the file and the entry for anything a reviewer must fix."""
    path = decisions_path(raw_dir, year)
    if not path.is_file():
        return {}
    rel = path.relative_to(raw_dir).as_posix() if path.is_relative_to(raw_dir) else str(path)
    doc, node = read_mapping(path, DecisionsError, "a mapping with one key, 'decisions', holding a list of entries",
                             empty=True)
    try:  # unknown keys and wrong types, with their line
        DecisionsModel.model_validate(doc)
    except ValidationError as exc:
        keys, line, what = problem(exc, node, DecisionsModel, doc)
        where = f"{path}, line {line}" if line else str(path)
        if len(keys) >= 2 and keys[0] == "decisions" and isinstance(keys[1], int):
            entry = doc["decisions"][keys[1]]
            issue_id = str(entry.get("issue_id") or "").strip() if isinstance(entry, dict) else ""
            where += f": entry {keys[1] + 1}" + (f" ({issue_id})" if issue_id else "")
            what = what.replace(f" in decisions[{keys[1]}]", "").replace(f"decisions[{keys[1]}].", "")
        raise DecisionsError(f"{where}: {what}") from None
    entries = doc.get("decisions") or []
    out: dict[str, Decision] = {}
    for n, entry in enumerate(entries, start=1):
        where = f"{path}: entry {n}"
        if not isinstance(entry, dict):
            raise DecisionsError(f"{where}: expected a mapping with {', '.join(DECISION_KEYS)}")
        issue_id = str(entry.get("issue_id") or "").strip()
        if issue_id:
            where += f" ({issue_id})"
        missing = [k for k in DECISION_KEYS if entry.get(k) is None or not str(entry.get(k)).strip()]
        if missing:
            raise DecisionsError(f"{where}: missing {', '.join(missing)}")
        decision = str(entry["decision"]).strip()
        if decision not in DECISION_KINDS:
            raise DecisionsError(f"{where}: decision {decision!r} must be one of {', '.join(DECISION_KINDS)}")
        date = entry["date"]
        if not isinstance(date, dt.date):
            try:
                date = dt.date.fromisoformat(str(date).strip())
            except ValueError:
                raise DecisionsError(f"{where}: date {entry['date']!r} is not a date like 2025-07-14") from None
        if issue_id in out:
            raise DecisionsError(f"{where}: a second decision on {issue_id} (entries must be unique)")
        if known_ids is not None and issue_id not in known_ids:
            hint = ""
            m = re.match(r"^[A-Z]{2}-(\d{4}-\d{2})-", issue_id)
            if m and m.group(1) != year:
                hint = f"; it is an id of {m.group(1)}, so its decision belongs in {m.group(1)}/{DECISIONS_FILE}"
            raise DecisionsError(f"{where}: unknown issue id {issue_id}: no such issue was found in the {year} "
                                 f"inputs{hint}")
        out[issue_id] = Decision(issue_id, decision, " ".join(str(entry["reason"]).split()),
                                 " ".join(str(entry["decided_by"]).split()), date.isoformat(), rel)
    return out


# --- assessment ----------------------------------------------------------------------------------

ISSUE_COLUMNS = ("financial_year", "source", "authority_code", "authority_name", "file", "sheet", "row",
                 "column_letter", "field", "location", "level", "code", "message", "issue_id", "status",
                 "blocking", "decision_reason", "decided_by", "decided_on", "what_to_do")


@dataclass
class Assessment:
    """Every issue of some years with its status, and what the gate says."""

    years: tuple[str, ...]
    issues: pl.DataFrame  # ISSUE_COLUMNS, sorted
    returns: pl.DataFrame  # stg_authority_returns__returns rows of the years
    quarantined: list[dict]  # one per file set aside: year, source, file, authority, reason, status
    decision_files: list[dict] = field(default_factory=list)  # financial_year, source, path, sha256
    validation: pl.DataFrame | None = None  # val_results rows of the release year, set when the release is gathered

    @property
    def open_errors(self) -> pl.DataFrame:
        return self.issues.filter(pl.col("blocking"))

    @property
    def blocking(self) -> bool:
        return self.open_errors.height > 0

    def count(self, level: str | None = None, status: str | None = None) -> int:
        df = self.issues
        if level is not None:
            df = df.filter(pl.col("level") == level)
        if status is not None:
            df = df.filter(pl.col("status") == status)
        return df.height

    def open_lines(self, limit: int | None = None) -> list[str]:
        """One line per blocking issue: id, year, file, sheet, cell and the problem."""
        lines = []
        for r in self.open_errors.iter_rows(named=True):
            where = ", ".join(p for p in (r["file"], f"sheet {r['sheet']}" if r["sheet"] else "", r["location"]) if p)
            state = "" if r["status"] == "open" else f" [{r['status']}]"
            lines.append(f"{r['issue_id']}{state}: {where}: {r['message']}")
        return lines if limit is None or len(lines) <= limit else lines[:limit] + [
            f"... and {len(lines) - limit} more"]



def assess(con: duckdb.DuckDBPyConnection, raw_dir: Path, years: list[str] | tuple[str, ...]) -> Assessment:
    """The status of every issue of `years`, from raw_issues, the returns in use
    (stg_authority_returns__returns) and each year's decisions file."""
    years = tuple(sorted(years))
    raw_dir = Path(raw_dir)
    marks = ", ".join("?" for _ in years) or "NULL"
    issues = con.execute(f"""
        SELECT i.financial_year, i.source, i.file, i.sheet, i."row", i.column_letter, i.field, i.location,
               i.level, i.code, i.message, i.issue_id,
               f.gss_code AS file_gss_code, f.submission_number AS file_submission
        FROM raw_issues i
        LEFT JOIN raw_authority_returns__files f ON f.financial_year = i.financial_year AND f.file = i.file
        WHERE i.financial_year IN ({marks})""", list(years)).pl() if warehouse.table_exists(con, "raw_issues") else None
    if issues is None:
        issues = pl.DataFrame(schema={c: pl.String for c in ("financial_year", "source", "file", "sheet", "location",
                                                                "level", "code", "message", "issue_id",
                                                                "column_letter", "field", "file_gss_code")}
                              ).with_columns(pl.lit(None, pl.Int64).alias("row"),
                                             pl.lit(None, pl.Int64).alias("file_submission"))
    returns = con.execute(f"""
        SELECT financial_year, gss_code, authority_name, region_name, received, file, submission_number,
               superseded_files
        FROM stg_authority_returns__returns WHERE financial_year IN ({marks})
        ORDER BY financial_year, gss_code""", list(years)).pl()
    names = {(r["financial_year"], r["gss_code"]): r["authority_name"] for r in returns.iter_rows(named=True)}
    used = {(r["financial_year"], r["gss_code"]): (r["file"], r["submission_number"])
            for r in returns.iter_rows(named=True) if r["received"]}

    decisions: dict[str, Decision] = {}
    decision_files: list[dict] = []
    for y in years:
        known = set(issues.filter(pl.col("financial_year") == y)["issue_id"].to_list())
        decisions.update(load_decisions(raw_dir, y, known))
        path = decisions_path(raw_dir, y)
        if path.is_file():
            decision_files.append({"financial_year": y, "source": "decisions",
                                   "path": f"{y}/{DECISIONS_FILE}", "sha256": sha256(path)})

    rows = []
    for r in issues.iter_rows(named=True):
        y, code = r["financial_year"], r["file_gss_code"]
        if r["source"] == "authority_returns":
            auth_code = code or ""
            auth_name = names.get((y, code)) or ""
        else:
            auth_code, auth_name = r["source"], SOURCE_NAMES.get(r["source"], r["source"])
        status = "open"
        in_use = used.get((y, code)) if r["source"] == "authority_returns" and code else None
        if in_use and in_use[0] != r["file"] and r["file_submission"] is not None and in_use[1] is not None \
                and in_use[1] > r["file_submission"]:
            status = "fixed_by_resubmission"
        d = decisions.get(r["issue_id"])
        if status == "open" and d is not None:
            status = d.decision
        rows.append({
            "financial_year": y, "source": r["source"], "authority_code": auth_code, "authority_name": auth_name,
            "file": r["file"], "sheet": r["sheet"], "row": r["row"], "column_letter": r["column_letter"],
            "field": r["field"], "location": r["location"] or "", "level": r["level"], "code": r["code"],
            "message": r["message"], "issue_id": r["issue_id"], "status": status,
            "blocking": r["level"] in ERROR_LEVELS and status in ("open", "rejected"),
            "decision_reason": d.reason if d else "", "decided_by": d.decided_by if d else "",
            "decided_on": d.date if d else "", "what_to_do": what_to_do(r["code"], r["level"]),
        })
    schema = {c: pl.String for c in ISSUE_COLUMNS} | {"row": pl.Int64, "blocking": pl.Boolean}
    frame = pl.DataFrame(rows, schema=schema, orient="row")
    level_rank = {"structural": 0, "cell_error": 1, "warning": 2}
    frame = frame.sort(
        "financial_year", pl.col("level").replace_strict(level_rank, default=9, return_dtype=pl.Int64),
        "source", "authority_code", "file", "sheet", "row", "column_letter", "code", "issue_id",
        nulls_last=False, maintain_order=True)

    quarantined = []
    structural = frame.filter(pl.col("level") == "structural")
    for (y, source, file), group in structural.group_by(["financial_year", "source", "file"],
                                                        maintain_order=True):
        statuses = set(group["status"].to_list())
        status = next(s for s in STATUSES if s in statuses)  # the least resolved wins
        quarantined.append({
            "financial_year": y, "source": source, "file": file,
            "authority_code": group["authority_code"][0], "authority_name": group["authority_name"][0],
            "reason": "; ".join(f"{m}" + (f" ({loc})" if loc else "") for m, loc in
                                zip(group["message"].to_list(), group["location"].to_list())),
            "issue_ids": ", ".join(group["issue_id"].to_list()),
            "status": status,
        })
    return Assessment(years, frame, returns, quarantined, decision_files)


def validation_results(con: duckdb.DuckDBPyConnection, year: str) -> pl.DataFrame | None:
    """The rows of `val_results` (written by the validation suites) for the years up to `year`,
    or None when the suites have not run (no such table)."""
    if not warehouse.table_exists(con, "val_results"):
        return None
    return con.execute("""
        SELECT * FROM val_results
        WHERE financial_year IS NULL OR financial_year <= ?
        ORDER BY financial_year NULLS FIRST, suite, table_name, expectation, column_name NULLS FIRST""",
                       [year]).pl()


# --- query lists ----------------------------------------------------------------------------------

QUERY_COLUMNS = ("issue_id", "financial_year", "authority_code", "authority_name", "file", "sheet",
                 "cell_or_line", "level", "status", "problem", "what_to_do")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def query_rows(assessment: Assessment) -> list[dict[str, str]]:
    """Issues that still need an answer from the sender (open or rejected), one row each."""
    pending = assessment.issues.filter(pl.col("status").is_in(["open", "rejected"]))
    return [{
        "issue_id": r["issue_id"], "financial_year": r["financial_year"], "authority_code": r["authority_code"],
        "authority_name": r["authority_name"], "file": r["file"], "sheet": r["sheet"] or "",
        "cell_or_line": r["location"], "level": r["level"], "status": r["status"], "problem": r["message"],
        "what_to_do": r["what_to_do"],
    } for r in pending.iter_rows(named=True)]


def query_list_name(row: dict[str, str]) -> str:
    """The file stem of the query list a row belongs to, never text of the inputs as given:

    - an authority whose code is an England GSS code (E and eight digits) named in the
      reference data for the year: `<code>_<name>`, e.g. `E06000001_hartlepool`;
    - a GSS code that is not an authority in force that year: the code, e.g. `E10000006`;
    - an extract: its source, e.g. `womens_aid`;
    - anything else (no code, or a code that is not a GSS code, such as `../../x`):
      `unidentified_<first 12 hex digits of the SHA-256 of the file's path>`, one list per file.
    The code the workbook gave is still in the rows (authority_code, problem), formula-safe."""
    code, name = row["authority_code"], row["authority_name"]
    if is_gss_code(code):
        return file_name_for(f"{code}_{_slug(name)}", prefix=code) if name else code
    if code in SOURCE_NAMES:
        return code
    return hashed_name(row["file"] or "", "unidentified")


def write_query_lists(assessment: Assessment, out_dir: Path) -> list[Path]:
    """One CSV per authority (or extract) with something to answer, and `all_queries.csv`.
    CSV files already in out_dir are replaced, so the folder always shows the current list.
    Files are named by `query_list_name` and written through `safe_paths.inside`; every
    cell is formula-safe (`cell_text.csv_bytes`): messages quote what was typed."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("*.csv"):
        old.unlink()
    rows = query_rows(assessment)
    header = list(QUERY_COLUMNS)
    groups: dict[str, list[dict[str, str]]] = {}
    for r in rows:
        groups.setdefault(query_list_name(r), []).append(r)
    written = []
    for name, group in sorted(groups.items()):
        path = inside(out_dir, f"{name}.csv")
        path.write_bytes(csv_bytes(header, [[g[c] for c in header] for g in group]))
        written.append(path)
    path = inside(out_dir, "all_queries.csv")
    path.write_bytes(csv_bytes(header, [[g[c] for c in header] for g in rows]))
    written.append(path)
    return written
