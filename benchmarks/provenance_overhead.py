"""Benchmark: the build time that provenance adds, and the size of what it writes.

Builds the latest sample release in this process several times with provenance and
several times without it (the release asset's provenance step replaced by one that leaves
the inputs as they are), alternating so that a busy machine slows both alike, and prints
the median wall time of each, the difference, and the size of the provenance files and
trace pages against the whole release. Each build goes to a temporary folder (its audit
bundle to another); nothing in data/processed/releases or data/processed/audit changes. Run it with `make bench`; it is not a test.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from pipelines import build, release_assets

ROUNDS = 3


def _size(folder: Path, *parts: str) -> int:
    paths = [folder / p for p in parts] if parts else [folder]
    total = 0
    for p in paths:
        if p.is_file():
            total += p.stat().st_size
        elif p.is_dir():
            total += sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
    return total


def main() -> int:
    with_prov = release_assets.with_provenance
    times: dict[bool, list[float]] = {True: [], False: []}
    sizes: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="dasa-bench-") as tmp:
        site, restricted = Path(tmp) / "site", Path(tmp) / "restricted"
        build.build_release(out_dir=site / "warm-up", audit_dir=restricted)  # imports and caches, not timed
        for i in range(ROUNDS):
            for on in (True, False):
                release_assets.with_provenance = with_prov if on else (lambda con, inputs, audit_dir: inputs)
                out = site / f"{'with' if on else 'without'}-{i}"
                start = time.perf_counter()
                build.build_release(out_dir=out, audit_dir=restricted)
                times[on].append(time.perf_counter() - start)
                if on and not sizes:
                    sizes = {"release": _size(out), "provenance": _size(out, "provenance", "provenance.json"),
                             "trace": _size(out, "trace")}
        release_assets.with_provenance = with_prov
    on, off = statistics.median(times[True]), statistics.median(times[False])
    print(f"build of the latest sample release, median of {ROUNDS} each (in one process, after a warm-up build)")
    print(f"  with provenance:    {on:.1f} s  ({', '.join(f'{t:.1f}' for t in times[True])})")
    print(f"  without provenance: {off:.1f} s  ({', '.join(f'{t:.1f}' for t in times[False])})")
    print(f"  overhead:           {on - off:.1f} s = {100 * (on - off) / off:.0f}% (target: under 20%)")
    print(f"  release size:       {sizes['release'] / 1e6:.1f} MB, of which provenance {sizes['provenance'] / 1e6:.1f} MB"
          f" and trace pages {sizes['trace'] / 1e6:.1f} MB (target: provenance under 50 MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
