"""The disclosure audit: how far an intruder holding every public file can narrow each
suppressed cell, found by linear programming (HiGHS).

The intruder's knowledge of one year is a polytope: every published authority cell is a
constant; a suppressed cell is any count of 0 or more; a count published rounded lies in its
rounding interval; every declared relation (a breakdown and its total, a count and the
numerator or denominator printed beside a rate) and the geography (region = sum of its
authorities, England = sum of the regions) is an equation; a rate or share published to one
decimal place with a rounded numerator and denominator is two inequalities. Minimising and
maximising a suppressed cell over the polytope gives the interval the intruder can prove it
lies in, the strongest linear attack there is. The threat model and the requirement are in
docs/decisions/0012-disclosure-audit.md.

The cells fall into independent components (cells that share no constraint, directly or
through others, tell nothing about each other), each solved as one model: two solves
(maximise and minimise the sum of its secret cells) usually show most cells have room
enough; only the rest are minimised and maximised one by one, changing just the objective
of the same model, so every solve after the first starts from the last basis.
"""

from __future__ import annotations

import ctypes
import math
import os
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field

import highspy
import numpy as np

from pipelines.suppression import AUTHORITY, Cell, CellSets, Problem, figure_of

UPPER = 1e7  # above any count of people in England: keeps every maximum finite
EPS = 1e-6
DIRECTIONS = 4  # objectives of mixed signs tried before cells are solved one by one


@dataclass(frozen=True)
class Interval:
    """What the intruder can prove of one secret cell: lo <= x <= hi. `exact` is False when
    the audit stopped as soon as it had shown enough room (then the true interval is wider)."""

    lo: float
    hi: float
    exact: bool

    @property
    def values(self) -> int:
        """How many integers the interval holds."""
        if math.isinf(self.hi):
            return 10**9
        return max(0, math.floor(self.hi + EPS) - math.ceil(self.lo - EPS) + 1)


@dataclass
class AuditResult:
    intervals: dict[Cell, Interval] = field(default_factory=dict)
    failing: list[Cell] = field(default_factory=list)
    components: int = 0
    solves: int = 0
    seconds: float = 0.0

    @property
    def narrowest(self) -> int | None:
        return min((i.values for i in self.intervals.values()), default=None)


def under_protected(iv: Interval, width: int, threshold: int) -> bool:
    """Fewer than `width` feasible values, or a proof that the count is from 1 to the threshold
    (a width of 0 asks only that no cell be recovered exactly, which `protect` ensures)."""
    if width <= 0:
        return False
    lo, hi = math.ceil(iv.lo - EPS), math.floor(iv.hi + EPS)
    return iv.values < width or (lo >= 1 and hi <= threshold)


def secret_cells(problem: Problem, hidden: set[Cell]) -> set[Cell]:
    """The hidden cells whose value must stay protected: every hidden count, and the numerator
    of a hidden rate unless it is the very same number as a count (a two-term relation), which
    is then protected as that count. Denominators are counts published or protected in their
    own right. Only authority cells are secrets: a regional figure is hidden only to protect
    them (an England or regional count of people is a large count, published rounded)."""
    tied = {c for inst in problem.instances if len(inst.cells) == 2 for c in inst.cells}
    return {c for c in hidden if problem.tier.get(figure_of(c)) == AUTHORITY
            and (c[2] == "value" or (c[2] == "numerator" and c not in tied))}


class Constraints:
    """The constraints on the unknown cells, constants moved to the right-hand side: rows
    (cells, coefficients, lower, upper) with lower <= sum(coef x cell) <= upper, one per
    relation instance and two per rate over rounded figures.

    Kept across the rounds of the secondary-suppression loop: when more cells are hidden,
    only the rows of the relations they are in are made again."""

    def __init__(self, problem: Problem):
        self.problem = problem
        self.hidden: set[Cell] = set()
        self.by_cell: dict[Cell, list[tuple[str, int]]] = defaultdict(list)
        self.rows: dict[tuple[str, int], list] = {}
        for i, inst in enumerate(problem.instances):
            for c in inst.cells:
                self.by_cell[c].append(("i", i))
            self.rows[("i", i)] = self._make(("i", i))
        for j, (num, den, *_) in enumerate(problem.ratios):
            self.by_cell[num].append(("r", j))
            self.by_cell[den].append(("r", j))
            self.rows[("r", j)] = self._make(("r", j))

    def update(self, hidden: set[Cell]) -> list:
        """Every row, for this set of hidden cells (a superset of the last one, or all anew)."""
        if not self.hidden <= hidden:
            self.hidden = set()
            keys = list(self.rows)
        else:
            keys = {k for c in hidden - self.hidden for k in self.by_cell.get(c, ())}
        self.hidden = set(hidden)
        for k in keys:
            self.rows[k] = self._make(k)
        return [row for rows in self.rows.values() for row in rows]

    def _known(self, cell: Cell) -> bool:
        return cell not in self.hidden and cell not in self.problem.rounded

    def _make(self, key: tuple[str, int]) -> list:
        problem = self.problem
        kind, i = key
        if kind == "i":
            inst = problem.instances[i]
            coef: dict[Cell, int] = defaultdict(int)
            rhs = 0
            for cell, k in zip(inst.cells, inst.coefs):
                if self._known(cell):
                    rhs -= k * problem.values.get(cell, 0)
                else:
                    coef[cell] += k
            coef = {c: k for c, k in coef.items() if k}
            return [(tuple(coef), tuple(coef.values()), rhs, rhs)] if coef else []
        num, den, k, a, b = problem.ratios[i]  # a*den <= k*num <= b*den - 1, integers (half up: b excluded)
        if num in self.hidden:
            return []  # the rate itself is suppressed
        rows = []
        for lower in (True, False):
            d = a if lower else b
            terms: dict[Cell, int] = defaultdict(int)
            rhs = 0 if lower else -1
            for cell, c in ((num, k), (den, -d)):
                if self._known(cell):
                    rhs -= c * problem.values.get(cell, 0)
                else:
                    terms[cell] += c
            terms = {c: v for c, v in terms.items() if v}
            if terms:
                rows.append((tuple(terms), tuple(terms.values()), rhs if lower else -math.inf,
                             math.inf if lower else rhs))
        return rows


def _bounds(problem: Problem, cell: Cell, hidden: set[Cell]) -> tuple[float, float]:
    if cell in hidden:
        return 0.0, UPPER
    lo, hi = problem.rounded[cell]
    return float(lo), float(hi)


def components(problem: Problem, hidden: set[Cell], constraints: Constraints | None = None,
               ) -> list[tuple[list[Cell], list]]:
    """The independent groups of unknown cells, each with its constraints (union-find)."""
    rows = (constraints or Constraints(problem)).update(hidden)
    sets = CellSets()
    for cells, *_ in rows:
        sets.join(cells)
    groups: dict[Cell, list] = defaultdict(list)
    for row in rows:
        groups[sets.find(row[0][0])].append(row)
    for c in hidden:  # a hidden cell in no constraint at all is a component of its own
        sets.find(c)
    members: dict[Cell, list[Cell]] = defaultdict(list)
    for c in list(sets.parent):
        members[sets.find(c)].append(c)
    return [(sorted(cells), groups.get(root, [])) for root, cells in sorted(members.items())]


_banner_done = False


def _highs() -> highspy.Highs:
    """A HiGHS instance, silent: its copyright banner (printed by the library on the first
    instance of a process, before any option can be set) does not reach the build's output."""
    global _banner_done
    if _banner_done:
        return highspy.Highs()
    sys.stdout.flush()
    libc = ctypes.CDLL(None)
    saved, devnull = os.dup(1), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        h = highspy.Highs()
        libc.fflush(None)
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)
    _banner_done = True
    return h


class _Model:
    """One component as a HiGHS model whose objective alone changes between solves."""

    def __init__(self, cells: list[Cell], rows: list, problem: Problem, hidden: set[Cell]):
        self.index = {c: i for i, c in enumerate(cells)}
        self.n = len(cells)
        self.h = _highs()
        self.h.setOptionValue("output_flag", False)
        self.h.setOptionValue("presolve", "off")  # re-solves start from the last basis
        lo, hi = zip(*(_bounds(problem, c, hidden) for c in cells))
        self.h.addVars(self.n, np.array(lo), np.array(hi))
        inf = highspy.kHighsInf
        for row_cells, coefs, lower, upper in rows:
            idx = np.array([self.index[c] for c in row_cells], dtype=np.int32)
            self.h.addRow(-inf if math.isinf(lower) else lower, inf if math.isinf(upper) else upper,
                          len(idx), idx, np.array(coefs, dtype=float))
        self.solves = 0

    def optimise(self, costs: dict[int, float], maximise: bool) -> np.ndarray:
        all_idx = np.arange(self.n, dtype=np.int32)
        c = np.zeros(self.n)
        for i, v in costs.items():
            c[i] = v
        self.h.changeColsCost(self.n, all_idx, c)
        self.h.changeObjectiveSense(highspy.ObjSense.kMaximize if maximise else highspy.ObjSense.kMinimize)
        self.h.run()
        self.solves += 1
        status = self.h.getModelStatus()
        if status != highspy.HighsModelStatus.kOptimal:
            raise RuntimeError(f"the disclosure audit's linear program ended {self.h.modelStatusToString(status)}; "
                               "the published figures are inconsistent with the relations they are audited on")
        return np.array(self.h.getSolution().col_value)


def audit(problem: Problem, hidden: set[Cell], width: int, threshold: int,
          only: set[Cell] | None = None, constraints: Constraints | None = None) -> AuditResult:
    """The interval of every secret cell (or of those in `only`), and the cells with too
    little room.

    Hiding one more figure only takes information away, so the interval of a cell hidden
    before can only widen: the secondary-suppression loop re-audits, after each round, only
    the cells that failed and the cells it has just hidden (`only`)."""
    started = time.perf_counter()
    secrets = secret_cells(problem, hidden)
    if only is not None:
        secrets &= only
    result = AuditResult()
    for cells, rows in components(problem, hidden, constraints):
        mine = [c for c in cells if c in secrets]
        if not mine:
            continue
        result.components += 1
        result.intervals.update(_audit_component(cells, rows, mine, problem, hidden, width, threshold, result))
    result.failing = sorted(c for c, iv in result.intervals.items() if under_protected(iv, width, threshold))
    result.seconds = time.perf_counter() - started
    return result


def _audit_component(cells, rows, mine, problem, hidden, width, threshold, result) -> dict[Cell, Interval]:
    if not rows:  # constrained by nothing but 0 <= x
        return {c: Interval(0.0, UPPER, False) for c in mine}
    model = _Model(cells, rows, problem, hidden)
    truth = {c: float(problem.values.get(c, 0)) for c in mine}
    seen = {c: [truth[c], truth[c]] for c in mine}

    def note(x: np.ndarray) -> None:
        for c in mine:
            v = x[model.index[c]]
            seen[c][0], seen[c][1] = min(seen[c][0], v), max(seen[c][1], v)

    def roomy(c: Cell) -> bool:
        return not under_protected(Interval(seen[c][0], seen[c][1], False), width, threshold)

    # every point the solver returns is feasible: the hull of the truth and those points is
    # inside the feasible set, so a cell already seen spread over `width` values has room
    costs = {model.index[c]: 1.0 for c in mine}
    for maximise in (True, False):
        note(model.optimise(costs, maximise))
    # then objectives of mixed signs, fixed by the cells' order (no randomness): cells that
    # move against each other (two parts of one total) are pushed apart
    for k in range(DIRECTIONS):
        pending = [c for c in mine if not roomy(c)]
        if len(pending) < 8:
            break
        signs = {model.index[c]: (1.0 if (j >> k) & 1 else -1.0) for j, c in enumerate(pending)}
        for maximise in (True, False):
            note(model.optimise(signs, maximise))
    out: dict[Cell, Interval] = {}
    for c in mine:
        if roomy(c):
            out[c] = Interval(seen[c][0], seen[c][1], False)
            continue
        i = model.index[c]
        hi = model.optimise({i: 1.0}, True)[i]
        seen[c][1] = max(seen[c][1], hi)
        lo = model.optimise({i: 1.0}, False)[i]
        seen[c][0] = min(seen[c][0], lo)
        out[c] = Interval(lo, hi, True)
    result.solves += model.solves
    return out
