"""The quality report of a release: `quality.html` beside `index.html`, and
`data/quality_issues.csv` (plus `data/validation_results.csv` when the suites ran).

It shows every check and its outcome, what failed and where, the decisions on each issue
(accepted with the reason and who decided, or fixed by a resubmission), the returns set
aside, the results of every validation suite (table `val_results`), and the number of
suppressed figures of each measure. The assessment itself is made in `pipelines/quality.py`;
nothing here changes a status or a figure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from markupsafe import Markup

from pipelines.quality import CHECKS, ERROR_LEVELS, STATUS_WORDS, check_of
from pipelines.release.context import ReleaseContext
from pipelines.release.model import natural_key

LEVEL_WORDS = {"structural": "Structural error", "cell_error": "Cell error", "warning": "Warning"}
QUALITY_ISSUE_COLUMNS = ("issue_id", "financial_year", "source", "authority_code", "authority_name", "file", "sheet",
                         "location", "level", "code", "message", "status", "blocking", "decision_reason",
                         "decided_by", "decided_on")
QUALITY_ISSUE_DOCS = {
    "issue_id": "Stable id of the issue: the same problem in the same place has the same id in every run.",
    "financial_year": "Financial year of the input.",
    "source": "Source of the input: authority_returns, womens_aid or safelives.",
    "authority_code": "GSS code of the authority whose return it is, or the extract's source.",
    "authority_name": "Name of the authority, or of the extract.",
    "file": "Input file (path under data/raw).",
    "sheet": "Sheet of a workbook, empty for other files.",
    "location": "Cell (for example D7) or line of the problem.",
    "level": "structural (the file was set aside), cell_error (the cell was treated as not collected) or warning.",
    "code": "Id of the check that found the problem.",
    "message": "What was found, as written by the check (free text).",
    "status": "open, rejected, accepted (in the year's decisions.yaml) or fixed_by_resubmission.",
    "blocking": "yes when the issue is an error still open or rejected: the release is then a draft.",
    "decision_reason": "Reason recorded with the decision, empty when there is none.",
    "decided_by": "Who made the decision.",
    "decided_on": "Date of the decision (YYYY-MM-DD).",
}
VALIDATION_COLUMNS = ("financial_year", "suite", "table_name", "expectation", "column_name", "severity", "success",
                      "unexpected_count", "element_count", "details")


def _text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    return str(v)


@dataclass
class QualityView:
    assessed: bool  # False when the release was written without an assessment (unit fixtures)
    draft: bool
    years: tuple[str, ...]
    issues: list[dict[str, str]]  # every issue, QUALITY_ISSUE_COLUMNS as text
    counts: dict[str, int]
    checks: list[dict[str, str]]
    quarantined: list[dict[str, str]]
    validation: list[dict[str, str]] | None  # None: the suites were not run
    suites: list[dict[str, str]] = field(default_factory=list)
    suppressed: list[dict[str, str]] = field(default_factory=list)
    suppressed_years: tuple[str, ...] = ()
    audit: list[dict[str, str]] = field(default_factory=list)  # the disclosure audit, per year
    loss: list[dict[str, str]] = field(default_factory=list)  # information lost, per measure (release year)
    loss_years: list[dict[str, str]] = field(default_factory=list)  # information lost, per year

    def with_status(self, *statuses: str, levels: tuple[str, ...] | None = None) -> list[dict[str, str]]:
        return [r for r in self.issues if r["status"] in statuses and (levels is None or r["level"] in levels)]

    @property
    def open_errors(self) -> list[dict[str, str]]:
        return [r for r in self.issues if r["blocking"] == "yes"]


def _issue_rows(ctx: ReleaseContext, quality) -> list[dict[str, str]]:
    if quality is not None:
        frame = quality.issues
        rows = [{c: _text(r.get(c)) for c in QUALITY_ISSUE_COLUMNS} for r in frame.iter_rows(named=True)]
        return rows
    rows = []  # not assessed: the issues as read, with no status
    for r in ctx.issues:
        rows.append({c: r.get(c, "") for c in QUALITY_ISSUE_COLUMNS} | {"status": "not_assessed", "blocking": ""})
    return rows


def _checks(issues: list[dict[str, str]]) -> list[dict[str, str]]:
    """Every reader check, with what it found; checks that found nothing passed."""
    codes = list(CHECKS) + sorted({r["code"] for r in issues} - set(CHECKS))
    out = []
    for code in codes:
        found = [r for r in issues if r["code"] == code]
        levels = sorted({r["level"] for r in found}, key=lambda lv: ("structural", "cell_error", "warning").index(lv)
                        if lv in LEVEL_WORDS else 9)
        if not found:
            outcome, state = "Passed", "passed"
        else:
            parts = []
            for s in ("open", "rejected", "accepted", "fixed_by_resubmission", "not_assessed"):
                n = sum(1 for r in found if r["status"] == s)
                if n:
                    parts.append(f"{n} {STATUS_WORDS.get(s, s.replace('_', ' '))}")
            blocking = any(r["blocking"] == "yes" for r in found)
            state = "failed" if blocking else ("flagged" if all(r["level"] == "warning" for r in found) else "resolved")
            outcome = f"{len(found)} found: " + ", ".join(parts)
        out.append({"code": code, "title": check_of(code).title, "levels": ", ".join(LEVEL_WORDS.get(lv, lv) for lv in levels),
                    "found": str(len(found)), "outcome": outcome, "state": state})
    return out


def _validation(quality) -> tuple[list[dict[str, str]] | None, list[dict[str, str]]]:
    frame = getattr(quality, "validation", None) if quality is not None else None
    if frame is None:
        return None, []
    rows = [{c: _text(r.get(c)) for c in VALIDATION_COLUMNS} for r in frame.iter_rows(named=True)]
    suites: dict[tuple[str, str, str], dict[str, int]] = {}
    for r in rows:
        key = (r["suite"], r["table_name"], r["financial_year"])
        s = suites.setdefault(key, {"expectations": 0, "passed": 0, "failed_blocking": 0, "failed_warning": 0})
        s["expectations"] += 1
        if r["success"] == "yes":
            s["passed"] += 1
        elif r["severity"] == "blocking":
            s["failed_blocking"] += 1
        else:
            s["failed_warning"] += 1
    summary = [{"suite": k[0], "table_name": k[1], "financial_year": k[2] or "all years",
                **{n: str(v) for n, v in s.items()},
                "outcome": "failed" if s["failed_blocking"] else ("passed with warnings" if s["failed_warning"]
                                                                  else "passed")}
               for k, s in sorted(suites.items())]
    return rows, summary


def _suppressed(ctx: ReleaseContext) -> tuple[list[dict[str, str]], tuple[str, ...]]:
    """The number of figures withheld by disclosure control ([c]) per measure, in the release
    year and over every year shown, from the published figures. No split by rule: which rule
    withholds a figure would say which [c] hide a small count (it is in the audit bundle only)."""
    counts = (ctx.figures.filter(pl.col("value_status") == "suppressed").group_by("measure")
              .agg(year=(pl.col("time_period") == ctx.year).sum(), total=pl.len()))
    rows = [{"measure": m, "title": ctx.idx.title(m), "year_total": str(year), "total": str(total)}
            for m, year, total in counts.iter_rows()]
    return sorted(rows, key=lambda r: (r["title"].casefold(), r["measure"])), ctx.years


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def _disclosure(ctx: ReleaseContext) -> tuple[list[dict[str, str]], list[dict[str, str]], list[dict[str, str]]]:
    """The disclosure audit per year, and what disclosure control withholds at authority
    level: per year over every table, before secondary suppression (primary rules alone) and
    after; per measure for the release year, after only. Counts only: no cell is named."""
    frames = ctx.extra.get("disclosure") or {}
    audit, loss = frames.get("pub_disclosure_audit"), frames.get("pub_information_loss")
    audit_rows = [] if audit is None else [{
        "year": r["time_period"], "cells": f"{r['cells_audited']:,}", "narrowest": str(r["narrowest_values"]),
        "width": str(r["protection_width"]), "under": str(r["under_protected"]),  # no time: rebuilds are identical
    } for r in audit.iter_rows(named=True)]
    if loss is None:
        return audit_rows, [], []

    def row(label: str, code: str, cells: int, primary: int, suppressed: int) -> dict[str, str]:
        return {"title": label, "measure": code, "cells": f"{cells:,}", "before": _share(primary, cells),
                "after": _share(suppressed, cells)}

    mine = loss.filter(pl.col("time_period") == ctx.year)
    by_measure = [row(ctx.idx.title(r["measure"]), r["measure"], r["authority_cells"], r["primary"], r["suppressed"])
                  for r in sorted(mine.iter_rows(named=True), key=lambda r: (ctx.idx.title(r["measure"]).casefold(),
                                                                           r["measure"]))]
    totals = loss.group_by("time_period").agg(pl.col("authority_cells", "primary", "suppressed").sum()).sort("time_period")
    by_year = [row(r["time_period"], "", r["authority_cells"], r["primary"], r["suppressed"])
               for r in totals.iter_rows(named=True)]
    return audit_rows, by_measure, by_year


def quality_view(ctx: ReleaseContext, quality) -> QualityView:
    issues = _issue_rows(ctx, quality)
    counts = {
        "errors": sum(1 for r in issues if r["level"] in ERROR_LEVELS),
        "warnings": sum(1 for r in issues if r["level"] == "warning"),
        "open_errors": sum(1 for r in issues if r["blocking"] == "yes"),
        # errors and warnings apart: an accepted warning is not an accepted error
        **{s: sum(1 for r in issues if r["status"] == s and r["level"] in ERROR_LEVELS)
           for s in ("open", "rejected", "accepted", "fixed_by_resubmission")},
        **{f"{s}_warnings": sum(1 for r in issues if r["status"] == s and r["level"] == "warning")
           for s in ("open", "accepted", "fixed_by_resubmission")},
    }
    quarantined = [{k: _text(v) for k, v in q.items()} for q in (quality.quarantined if quality is not None else [])]
    validation, suites = _validation(quality)
    suppressed, years = _suppressed(ctx)
    audit, loss, loss_years = _disclosure(ctx)
    return QualityView(audit=audit, loss=loss, loss_years=loss_years,
                       assessed=quality is not None, draft=ctx.draft, years=ctx.years, issues=issues, counts=counts,
                       checks=_checks(issues), quarantined=quarantined, validation=validation, suites=suites,
                       suppressed=suppressed, suppressed_years=years)


def view_of(ctx: ReleaseContext) -> QualityView:
    view = ctx.extra.get("quality_view")
    if view is None:
        view = ctx.extra["quality_view"] = quality_view(ctx, ctx.extra.get("quality"))
    return view


def quality_csvs(ctx: ReleaseContext) -> list[tuple[str, list[str], list[list[str]], list[tuple[str, str, str]]]]:
    """(file name, header, rows, column docs) of the quality CSV files, for csvfiles.write_csvs."""
    view = view_of(ctx)
    out: list[tuple[str, list[str], list[list[str]], list[tuple[str, str, str]]]] = [
        ("quality_issues.csv", list(QUALITY_ISSUE_COLUMNS),
         [[r[c] for c in QUALITY_ISSUE_COLUMNS] for r in view.issues],
         [(c, "text", QUALITY_ISSUE_DOCS[c]) for c in QUALITY_ISSUE_COLUMNS])]
    if view.validation is not None:
        docs = {
            "financial_year": "Financial year validated (empty when the table holds every year).",
            "suite": "Validation suite.", "table_name": "Table validated.", "expectation": "Expectation checked.",
            "column_name": "Column checked, empty for a whole-table expectation.",
            "severity": "blocking (a failure must stop the release) or warning.",
            "success": "yes when the expectation was met.",
            "unexpected_count": "Rows that did not meet it.", "element_count": "Rows checked.",
            "details": "What the suite reported (free text).",
        }
        out.append(("validation_results.csv", list(VALIDATION_COLUMNS),
                    [[r[c] for c in VALIDATION_COLUMNS] for r in view.validation],
                    [(c, "number" if c.endswith("_count") else "text", docs[c]) for c in VALIDATION_COLUMNS]))
    return out


def write_quality_page(out_dir: Path, ctx: ReleaseContext) -> list[Path]:
    from pipelines.release.render import STATIC_DIR, environment

    view = view_of(ctx)
    css = (STATIC_DIR / "release.css").read_text(encoding="utf-8")
    js = (STATIC_DIR / "release.js").read_text(encoding="utf-8")
    by_location = sorted(view.issues, key=lambda r: (r["financial_year"], r["file"], r["sheet"],
                                                     natural_key(r["location"]), r["issue_id"]))
    page = out_dir / "quality.html"
    page.write_text(environment().get_template("quality.html.j2").render(
        ctx=ctx, cfg=ctx.config, q=view, issues_by_location=by_location, status_words=STATUS_WORDS,
        level_words=LEVEL_WORDS, css=Markup(css), js=Markup(js), page="quality.html",
    ), encoding="utf-8", newline="\n")
    return [page]
