"""Exact integer arithmetic for the sample data: seeded streams, noise, apportionment.

Everything here uses only `random.Random` (seeded from a string, so independent of
PYTHONHASHSEED) and the four IEEE operations, never `exp`/`log`/`pow`, so the same seed gives
the same numbers on every platform.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence


def stream(seed: int, *parts: object) -> random.Random:
    """An independent random stream for one purpose (adding a stream never shifts another)."""
    return random.Random("|".join(str(p) for p in (seed, *parts)))


def jitter(rng: random.Random, spread: float) -> float:
    """A multiplicative noise factor, uniform on [1 - spread, 1 + spread]."""
    return 1.0 + spread * (2.0 * rng.random() - 1.0)


def skewed(rng: random.Random, low: float, high: float) -> float:
    """A right-skewed positive factor between low and high (product of two uniforms)."""
    u = rng.random() * rng.random()
    return low + (high - low) * u


def apportion(
    total: int,
    weights: Sequence[float],
    *,
    caps: Sequence[int | None] | None = None,
    mins: Sequence[int] | None = None,
) -> list[int]:
    """Split `total` into integers proportional to `weights` (largest remainder).

    `mins` are given first; `caps` are upper bounds (None = unbounded). Items with weight 0
    get only their minimum. The result always sums to `total` exactly; ties go to the
    earlier item, so the result depends only on the order of the inputs.
    """
    n = len(weights)
    lo = list(mins) if mins is not None else [0] * n
    hi = [math.inf if c is None else c for c in caps] if caps is not None else [math.inf] * n
    if total < 0:
        raise ValueError(f"cannot apportion a negative total {total}")
    for i in range(n):
        if lo[i] > hi[i]:
            raise ValueError(f"item {i}: minimum {lo[i]} above cap {hi[i]}")
    alloc = lo[:]
    remaining = total - sum(alloc)
    if remaining < 0:
        raise ValueError(f"minimums {sum(alloc)} exceed total {total}")
    while remaining > 0:
        active = [i for i in range(n) if weights[i] > 0 and alloc[i] < hi[i]]
        if not active:
            raise ValueError(f"cannot place {remaining} more: every item with weight is at its cap")
        wsum = sum(weights[i] for i in active)
        quotas = {i: remaining * weights[i] / wsum for i in active}
        capped = [i for i in active if alloc[i] + quotas[i] >= hi[i]]
        if capped:
            # Fill the items whose share reaches their cap, then share out the rest again.
            for i in capped:
                give = int(hi[i] - alloc[i])
                give = min(give, remaining)
                alloc[i] += give
                remaining -= give
            continue
        floors = {i: int(quotas[i]) for i in active}
        for i in active:
            alloc[i] += floors[i]
        remaining -= sum(floors.values())
        order = sorted(active, key=lambda i: (-(quotas[i] - floors[i]), i))
        for i in order[:remaining]:
            alloc[i] += 1
        remaining = 0
    return alloc


def shares_to_counts(total: int, shares: dict[str, float]) -> dict[str, int]:
    """Counts whose shares of `total` are as close as possible to `shares` (percent).

    Published shares are rounded, so they need not add to 100 (2021-22 move-on adds to 99);
    the difference is spread evenly, which moves each share by less than the rounding.
    """
    keys = list(shares)
    residual = (100.0 - sum(shares.values())) / len(keys)
    weights = [shares[k] + residual for k in keys]
    return dict(zip(keys, apportion(total, weights), strict=True))


def fit_matrix(
    row_totals: dict[str, int],
    col_totals: dict[str, int],
    seed_weights: dict[str, dict[str, float]],
    col_order: Sequence[str],
) -> dict[str, dict[str, int]]:
    """An integer matrix with exactly these row and column totals, shaped like `seed_weights`.

    Iterative proportional fitting gives the real-valued shape; the integer matrix is then
    built one column at a time (largest remainder, capped by what each row still has room
    for); the last column in `col_order` takes what is left of every row, which adds up to its
    total because the row and column totals have the same sum.
    """
    rows = list(row_totals)
    if sum(row_totals.values()) != sum(col_totals.values()):
        raise ValueError("row and column totals differ")
    m = {r: {c: float(seed_weights[r][c]) for c in col_order} for r in rows}
    for _ in range(200):
        for r in rows:
            s = sum(m[r].values())
            for c in col_order:
                m[r][c] = m[r][c] * row_totals[r] / s if s else 0.0
        for c in col_order:
            s = sum(m[r][c] for r in rows)
            for r in rows:
                m[r][c] = m[r][c] * col_totals[c] / s if s else 0.0
    out = {r: {} for r in rows}
    room = dict(row_totals)
    for c in col_order[:-1]:
        alloc = apportion(col_totals[c], [m[r][c] for r in rows], caps=[room[r] for r in rows])
        for r, v in zip(rows, alloc, strict=True):
            out[r][c] = v
            room[r] -= v
    last = col_order[-1]
    for r in rows:
        out[r][last] = room[r]
    return out
