"""Write the sample inputs of one or more financial years under `raw_dir/<year>/`."""

from __future__ import annotations

import pathlib

from . import authority_returns, reference, safelives, targets, womens_aid

DEFAULT_SEED = 20250401


def generate(
    raw_dir: pathlib.Path,
    years: list[str] | None = None,
    seed: int = DEFAULT_SEED,
) -> list[pathlib.Path]:
    """Generate the three sources for each year (default: all four) and return the files written.

    Deterministic: the same seed gives byte-identical files, and a year's files do not depend
    on which other years are generated. Files already in a year's source folders are not
    removed, so generate into an empty folder (the committed `data/raw/` is written once).
    """
    raw_dir = pathlib.Path(raw_dir)
    ref = reference.load()
    chosen = list(reference.YEARS) if years is None else list(years)
    for year in chosen:
        if year not in reference.YEARS:
            raise ValueError(f"no sample data is defined for {year!r}; choose from {', '.join(reference.YEARS)}")
    written: list[pathlib.Path] = []
    for year in chosen:
        t = targets.build(ref, year)
        year_dir = raw_dir / year
        returns = authority_returns.build_returns(ref, year, t, seed)
        written += authority_returns.write_returns(returns, year_dir / "authority_returns")
        written += womens_aid.write(ref, year, t, seed, year_dir / "womens_aid")
        written += safelives.write(ref, year, t, seed, year_dir / "safelives")
    return written
