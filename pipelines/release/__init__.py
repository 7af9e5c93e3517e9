"""The release writer: published figures in, release folder out.

`write_release(out_dir, inputs)` writes `index.html` and the pages beside it
(`tables.html`, `authorities.html`, `data-quality.html`, `methodology.html`, `technical.html`),
`data/figures.csv`, one CSV per table, `data/returns.csv`, `data/issues.csv`,
`data/quality_issues.csv`, `data/metadata.csv`, the Explore Education Statistics files
`data/ees/<family>.csv` with their `.meta.csv`, `quality.html` (the quality report) and
`dasa-<year>.ods` / `.xlsx`. Everything it writes is public, so it is never given the rule
that suppressed a figure (the suppression log goes to the restricted audit bundle, see
pipelines/provenance.py). It never changes a published figure (values arrive as strings;
the only display change is thousands separators in HTML), never reads the clock, and never
writes `build.json` (the caller does).

Modules: `config` (reports/release.yaml), `model` (figure index and labels), `tables`
(table and chart layout), `context` (everything assembled once), `csvfiles`, `ees`
(the EES-shaped files), `spreadsheet`, `charts`, `commentary`, `render` (HTML).
"""

from __future__ import annotations

import pathlib
from dataclasses import dataclass, field
from typing import Any

import polars as pl

__all__ = ["ReleaseInputs", "write_release"]


@dataclass(frozen=True)
class ReleaseInputs:
    year: str  # the release year, e.g. "2024-25"
    years: tuple[str, ...]  # years shown, oldest first (the release year last)
    figures: pl.DataFrame  # published figures of every year shown (see docs/architecture.md)
    returns: pl.DataFrame  # one row per expected authority per year shown
    issues: pl.DataFrame  # problems found reading the inputs
    inputs: pl.DataFrame  # raw input files of the years shown: financial_year, source, path, sha256
    settings: dict = field(default_factory=dict)  # disclosure settings recorded in the release; "draft"
    notes: dict[str, str] = field(default_factory=dict)  # extra notes by id (may be empty)
    quality: Any = None  # pipelines.quality.Assessment of the years shown, or None when not assessed
    # the disclosure audit's summary per year (pub_disclosure_audit) and the information lost per
    # measure and year (pub_information_loss), by table name; empty when not audited
    disclosure: dict[str, pl.DataFrame] = field(default_factory=dict)
    # comparison with the last kept release of the year (pipelines.revisions.Revisions), None when not compared
    revisions: Any = None
    provenance: Any = None  # pipelines.provenance.Provenance: written as provenance files and trace pages


def _check(out_dir: pathlib.Path, inputs: ReleaseInputs) -> None:
    if not out_dir.is_dir():
        raise ValueError(f"{out_dir} is not an existing folder")
    if not inputs.years or inputs.years[-1] != inputs.year:
        raise ValueError(f"years {inputs.years!r} must end with the release year {inputs.year!r}")
    if list(inputs.years) != sorted(set(inputs.years)):
        raise ValueError(f"years {inputs.years!r} must be distinct and oldest first")
    extra_years = set(inputs.figures["time_period"].unique().to_list()) - set(inputs.years)
    if extra_years:
        raise ValueError(f"figures hold years not shown: {sorted(extra_years)}")


def write_release(
    out_dir: pathlib.Path, inputs: ReleaseInputs, *, config_path: pathlib.Path | None = None
) -> list[pathlib.Path]:
    """Write every release file into out_dir (an existing empty temporary folder the caller
    later moves into place). Return the written paths, sorted. Must not write build.json
    (the caller writes it) and must not read the clock."""
    from pipelines.metric_catalog import measures
    from pipelines.release.config import load_config
    from pipelines.release.context import build_context
    from pipelines.release.csvfiles import write_csvs
    from pipelines.release.ees import write_ees
    from pipelines.release.quality_page import write_quality_page
    from pipelines.release.render import write_html
    from pipelines.release.spreadsheet import write_spreadsheets

    out_dir = pathlib.Path(out_dir)
    _check(out_dir, inputs)
    config = load_config(config_path)
    ctx = build_context(inputs, config, measures())
    ctx.extra["quality"] = inputs.quality
    written: list[pathlib.Path] = []
    written += write_csvs(out_dir, ctx)
    written += write_ees(out_dir, ctx)
    written += write_spreadsheets(out_dir, ctx)
    if inputs.provenance is not None:
        from pipelines.release.trace_pages import write_provenance_and_trace

        written += write_provenance_and_trace(out_dir, ctx, inputs.provenance)
    written += write_html(out_dir, ctx, written)
    written += write_quality_page(out_dir, ctx)
    return sorted(written)
