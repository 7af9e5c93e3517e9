"""`python -m pipelines.sample_data [--out DIR] [--year YYYY-YY] [--seed N]`"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

from .generate import DEFAULT_SEED, generate
from .reference import YEARS

DEFAULT_OUT = pathlib.Path(__file__).resolve().parents[2] / "data" / "raw"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.sample_data", description=__doc__)
    parser.add_argument("--out", type=pathlib.Path, default=DEFAULT_OUT, help="raw data folder (default: data/raw)")
    parser.add_argument("--year", action="append", choices=YEARS, help="a financial year; repeat for more (default: all)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    files = generate(args.out, args.year, args.seed)
    size = sum(f.stat().st_size for f in files)
    print(f"wrote {len(files)} files ({size / 1e6:.1f} MB) under {args.out} in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
