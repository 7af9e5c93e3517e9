"""Deterministic, seeded sample data for dasa, calibrated to the published national figures.

No authority-level data is public, so `generate()` writes realistic inputs for 2021-22 to
2024-25 (authority return workbooks, the Women's Aid and SafeLives extracts) whose national
totals equal `data/reference/published_figures.csv`. See README.md in this folder.
"""

from .generate import DEFAULT_SEED, generate

__all__ = ["DEFAULT_SEED", "generate"]
