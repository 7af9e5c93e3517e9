"""Accessible spreadsheets (`.ods` and `.xlsx`) of a release, from one workbook model
(`workbook.py`), each written by its own writer (`ods.py`, `xlsx.py`)."""

from __future__ import annotations

from pathlib import Path

from pipelines.release.context import ReleaseContext
from pipelines.release.ods import write_ods
from pipelines.release.workbook import build_workbook
from pipelines.release.xlsx import write_xlsx
from pipelines.safe_paths import inside


def write_spreadsheets(out_dir: Path, ctx: ReleaseContext) -> list[Path]:
    sheets = build_workbook(ctx)
    return [
        write_ods(inside(out_dir, f"dasa-{ctx.year}.ods"), ctx, sheets),
        write_xlsx(inside(out_dir, f"dasa-{ctx.year}.xlsx"), ctx, sheets),
    ]
