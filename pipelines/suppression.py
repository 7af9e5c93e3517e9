"""Secondary suppression: choose the extra cells to hide so that no suppressed cell can be
recovered from what is published.

The published figures of one year are tied together by exact linear relations: the
relations declared in the metric definitions (a breakdown and its total, a count and the
numerator or denominator printed beside a rate) at every authority and region, and the
geography hierarchy (a region's figure is the sum of its authorities'). A suppressed cell
is recoverable when it is determined by those relations and the published cells:

- a relation with exactly one suppressed cell gives it away by subtraction;
- chains and combinations of relations can pin a cell down too (found by linear algebra);
- bounds can: a cell suppressed as a count of 1 to 4 in `total = a + b`, with `b` a
  suppressed 0, is pinned when the total shows 1.

`protect` adds suppressions until none of these applies, preferring the smallest non-zero
authority cells and using a regional figure only when no authority can protect a cell.
A figure published rounded gives a reader an interval, not a value: relations through
rounded regional figures are checked with those intervals, and they become exact equations
when the settings switch rounding off for a level. The method and the
reasons for it are in docs/decisions/0006-secondary-suppression.md.
"""

from __future__ import annotations

import math
from collections import defaultdict, deque
from dataclasses import dataclass, field

import numpy as np

Cell = tuple[str, str, str, str]  # measure, breakdown, field (value|numerator|denominator), geography code
Figure = tuple[str, str, str]  # measure, breakdown, geography code

# preference tiers of the cells that may be suppressed: an England figure only when nothing
# else can protect a cell (a table of a few authorities with a handful of people)
AUTHORITY, REGION, NATIONAL = 0, 1, 2


def figure_of(cell: Cell) -> Figure:
    return (cell[0], cell[1], cell[3])




class CellSets:
    """Disjoint sets of cells (union-find): the cells tied together by shared constraints."""

    def __init__(self) -> None:
        self.parent: dict[Cell, Cell] = {}

    def find(self, x: Cell) -> Cell:
        parent = self.parent
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def join(self, cells) -> None:
        root = self.find(cells[0])
        for c in cells[1:]:
            r = self.find(c)
            if r != root:
                self.parent[r] = root


@dataclass(frozen=True)
class Instance:
    """One relation at one place: sum(coef x cell) == 0, exactly, on the unrounded values."""

    label: str
    cells: tuple[Cell, ...]
    coefs: tuple[int, ...]


@dataclass(frozen=True)
class Protection:
    figure: Figure
    protects: tuple[Figure, ...]
    relation: str


class UnprotectableError(ValueError):
    """A suppressed cell that no permitted suppression can protect."""


@dataclass
class Problem:
    """One year's cells, relations, and what may be suppressed."""

    values: dict[Cell, int]  # unrounded value of every cell that appears in an instance (absent: not published)
    instances: list[Instance]
    tier: dict[Figure, int]  # the figures that may be suppressed, and their preference tier
    # what a reader knows of a suppressed cell from the rule that hid it: (low, high)
    bounds: dict[Cell, tuple[int, float]]
    # cells published rounded: the interval a reader knows the value lies in
    rounded: dict[Cell, tuple[int, int]]
    # the cells that must not be recoverable when hidden: the value of a count, and the
    # numerator of a rate hidden because it is a small count of people. The numerator and
    # denominator of any other hidden rate are hidden with it, but they are counts published
    # (or protected) in their own right, so pinning them down discloses nothing new.
    secret_rates: set[Figure]
    # a rate published to one decimal place over a rounded numerator and denominator:
    # (numerator cell, denominator cell, k, a, b) with a*den <= k*num < b*den
    ratios: list[tuple[Cell, Cell, int, int, int]] = field(default_factory=list)

    def is_secret(self, cell: Cell) -> bool:
        return cell[2] == "value" or (cell[2] == "numerator" and figure_of(cell) in self.secret_rates)

    def bound(self, cell: Cell) -> tuple[float, float]:
        return self.bounds.get(cell, (0, math.inf))


def _range(problem: Problem, cell: Cell, hidden: bool) -> tuple[float, float]:
    """What a reader knows of a cell: its bounds when hidden, its rounding interval when
    published rounded, else its exact value."""
    if hidden:
        return problem.bound(cell)
    if cell in problem.rounded:
        return problem.rounded[cell]
    v = problem.values.get(cell, 0)
    return (v, v)


def _pinned(problem: Problem, inst: Instance, hidden: list[int]) -> list[int]:
    """Positions in `inst` of hidden secret cells a reader can pin down from this relation
    alone: sum(coef x cell) == 0 with every other cell within what the reader knows of it."""
    hidden_set = set(hidden)
    spans = []
    for k, (cell, c) in enumerate(zip(inst.cells, inst.coefs)):
        lo, hi = _range(problem, cell, k in hidden_set)
        spans.append((min(c * lo, c * hi), max(c * lo, c * hi)))
    pinned = []
    for k in hidden:
        cell = inst.cells[k]
        if not problem.is_secret(cell):
            continue
        rest_lo = sum(a for j, (a, _) in enumerate(spans) if j != k)
        rest_hi = sum(b for j, (_, b) in enumerate(spans) if j != k)
        # coef * x == -rest
        lo, hi = (-rest_hi, -rest_lo) if inst.coefs[k] > 0 else (rest_lo, rest_hi)
        own_lo, own_hi = problem.bound(cell)
        lo, hi = max(lo, own_lo), min(hi, own_hi)
        if math.isfinite(lo) and math.isfinite(hi) and math.floor(hi) - math.ceil(lo) < 1:
            pinned.append(k)
    return pinned


def determined_cells(problem: Problem, hidden: set[Cell]) -> set[Cell]:
    """Hidden secret cells whose value follows from the relations and the published cells.

    A hidden cell x_j is determined exactly when the unit vector e_j lies in the row space
    of the relations restricted to the hidden cells, that is, when every solution of the
    homogeneous system has x_j == 0: row j of a null-space basis is zero. Solved per
    connected group of hidden cells, with a singular value decomposition.
    """
    rows = []
    for inst in problem.instances:
        if any(cell in problem.rounded for cell in inst.cells):
            continue  # a rounded figure gives an interval, not an equation
        row = {}
        for cell, c in zip(inst.cells, inst.coefs):
            if cell in hidden:
                row[cell] = row.get(cell, 0) + c
        row = {k: v for k, v in row.items() if v}
        if row:
            rows.append(row)
    sets = CellSets()
    for row in rows:
        sets.join(list(row))
    groups: dict[Cell, list[dict]] = defaultdict(list)
    for row in rows:
        groups[sets.find(next(iter(row)))].append(row)
    out: set[Cell] = set()
    for group_rows in groups.values():
        cols = sorted({c for row in group_rows for c in row})
        index = {c: i for i, c in enumerate(cols)}
        a = np.zeros((len(group_rows), len(cols)))
        for i, row in enumerate(group_rows):
            for c, v in row.items():
                a[i, index[c]] = v
        _, s, vt = np.linalg.svd(a)
        rank = int((s > 1e-9 * max(1.0, s[0] if s.size else 0)).sum())
        null = vt[rank:]  # rows span the null space
        for c, i in index.items():
            if problem.is_secret(c) and (null.shape[0] == 0 or np.abs(null[:, i]).max() < 1e-9):
                out.add(c)
    return out


def protect(problem: Problem, primary: set[Figure]) -> dict[Figure, Protection]:
    """The secondary suppressions that protect every primary one (and each other)."""
    suppressed: set[Figure] = set(primary)
    added: dict[Figure, Protection] = {}
    by_figure: dict[Figure, list[int]] = defaultdict(list)
    for i, inst in enumerate(problem.instances):
        for cell in inst.cells:
            by_figure[figure_of(cell)].append(i)
    queue: deque[int] = deque(range(len(problem.instances)))
    queued = [True] * len(problem.instances)

    def hidden_in(inst: Instance) -> list[int]:
        return [k for k, cell in enumerate(inst.cells) if figure_of(cell) in suppressed]

    def cheapest(inst: Instance) -> Cell | None:
        best, best_key = None, None
        for cell in inst.cells:
            fig = figure_of(cell)
            if fig in suppressed or fig not in problem.tier:
                continue
            v = problem.values.get(cell, 0)
            key = (problem.tier[fig], v == 0, v, fig)
            if best_key is None or key < best_key:
                best, best_key = cell, key
        return best

    def suppress(fig: Figure, protects: tuple[Figure, ...], label: str) -> None:
        suppressed.add(fig)
        added[fig] = Protection(fig, protects, label)
        for i in by_figure[fig]:
            if not queued[i]:
                queued[i] = True
                queue.append(i)

    while True:
        while queue:
            i = queue.popleft()
            queued[i] = False
            inst = problem.instances[i]
            hidden = hidden_in(inst)
            if not hidden:
                continue
            pinned = _pinned(problem, inst, hidden)
            if not pinned:
                continue
            cell = cheapest(inst)
            if cell is None:
                raise UnprotectableError(
                    f"{inst.label}: {', '.join('.'.join(figure_of(inst.cells[k])) for k in pinned)} would be "
                    "recoverable and no figure in the relation may be suppressed to protect it")
            suppress(figure_of(cell), tuple(sorted({figure_of(inst.cells[k]) for k in pinned})), inst.label)
            if not queued[i]:
                queued[i] = True
                queue.append(i)
        hidden_cells = {c for inst in problem.instances for c in inst.cells if figure_of(c) in suppressed}
        exposed = sorted(determined_cells(problem, hidden_cells))
        if not exposed:
            return added
        cell = exposed[0]
        options = []
        for i in by_figure[figure_of(cell)]:
            inst = problem.instances[i]
            if cell in inst.cells:
                cand = cheapest(inst)
                if cand is not None:
                    fig = figure_of(cand)
                    v = problem.values.get(cand, 0)
                    options.append(((problem.tier[fig], v == 0, v, fig), fig, inst.label))
        if not options:
            raise UnprotectableError(f"{'.'.join(figure_of(cell))} is determined by the published figures and "
                                     "no figure related to it may be suppressed to protect it")
        _, fig, label = min(options)
        suppress(fig, (figure_of(cell),), label + " (with other relations)")


def _held_at_zero(problem: Problem, cell: Cell, containing: dict[Cell, list[Instance]],
                  hidden_figs: set[Figure]) -> bool:
    """Whether a cell is a part of a total published as exactly 0: hiding it protects nothing
    (every part of a zero total is 0, and a reader knows it)."""
    for inst in containing.get(cell, []):
        total = inst.cells[0]
        if inst.coefs[0] != 1 or total == cell or figure_of(total) in hidden_figs:
            continue
        if all(k == -1 for k in inst.coefs[1:]) and problem.values.get(total, 0) == 0 and \
                problem.rounded.get(total, (0, 0)) == (0, 0):
            return True
    return False


def _repair(problem: Problem, cell: Cell, containing: dict[Cell, list[Instance]], hidden_figs: set[Figure],
            width: int) -> tuple[Figure | None, Instance | None]:
    """The figure to hide next for an under-protected cell: the cheapest authority figure in
    the relations it is in; when there is none, the cheapest in the relations of the hidden
    cells of those, and so on outwards (a lone authority of a region whose England total is
    [low] is protected by a figure hidden elsewhere). A regional figure only when no
    authority figure is reachable at all, and an England figure only when no regional one is."""
    seen_cells, seen_insts = {cell}, set()
    frontier = [cell]
    fallback, fallback_key = None, None
    while frontier:
        best, best_key = None, None
        nxt = []
        for c0 in frontier:
            for inst in containing.get(c0, []):
                if id(inst) in seen_insts:
                    continue
                seen_insts.add(id(inst))
                n_hidden = sum(1 for c in inst.cells if figure_of(c) in hidden_figs)
                for c in inst.cells:
                    fig = figure_of(c)
                    if fig in hidden_figs:
                        if c not in seen_cells:
                            seen_cells.add(c)
                            nxt.append(c)
                        continue
                    if fig not in problem.tier or _held_at_zero(problem, c, containing, hidden_figs):
                        continue
                    v = problem.values.get(c, 0)
                    key = (n_hidden, v < width, v, fig)
                    if problem.tier[fig] == AUTHORITY:
                        if best_key is None or key < best_key:
                            best, best_key = (fig, inst), key
                    elif fallback is None:
                        key = (problem.tier[fig], *key)
                        if fallback_key is None or key < fallback_key:
                            fallback_key, fallback_pending = key, (fig, inst)
        if best is not None:
            return best
        if fallback is None and fallback_key is not None:
            fallback = fallback_pending  # the cheapest regional figure of the nearest relations
        frontier = sorted(nxt)
    return fallback if fallback is not None else (None, None)


def secure(problem: Problem, primary: set[Figure], width: int, threshold: int):
    """Secondary suppressions that pass the disclosure audit: the exact-recovery protection of
    `protect` first, then rounds of audit and repair until every secret cell has at least
    `width` feasible values (pipelines/disclosure_audit.py). A repair hides one more figure
    from a relation of each under-protected cell: an authority figure before a regional one,
    from the relation with the fewest hidden cells (the one most likely to be pinning it),
    then one with at least `width` people before a smaller one, the smallest first. A figure
    that is the same number as another (a count and the numerator printed beside a rate) is
    hidden with it.

    Hiding more only widens what a reader can prove of the cells hidden before, so a round
    re-audits just the cells that failed and those it hid. Returns the added suppressions and
    the audit: every secret cell with the interval it was last proved to have."""
    from pipelines.disclosure_audit import AuditResult, Constraints, audit

    added = protect(problem, primary)
    if width <= 0:  # exact recovery only (a hand-made test world)
        return added, AuditResult()
    containing: dict[Cell, list[Instance]] = defaultdict(list)
    for inst in problem.instances:
        for cell in inst.cells:
            containing[cell].append(inst)
    # a figure hidden takes with it every figure that prints the same number: a count, the
    # rates printing it as numerator or denominator (not the other way: a hidden rate's
    # denominator is a count published in its own right)
    ties: dict[Figure, set[Figure]] = defaultdict(set)
    for inst in problem.instances:
        if len(inst.cells) == 2:
            x, y = inst.cells
            if not (x[2] != "value" and y[2] == "value"):
                ties[figure_of(x)].add(figure_of(y))
            if not (y[2] != "value" and x[2] == "value"):
                ties[figure_of(y)].add(figure_of(x))
    proved = AuditResult()
    only = None
    constraints = Constraints(problem)
    cells_of: dict[Figure, list[Cell]] = defaultdict(list)
    for c in problem.values:
        cells_of[figure_of(c)].append(c)
    while True:
        suppressed = set(primary) | set(added)
        hidden = {c for f in suppressed for c in cells_of.get(f, ())}
        result = audit(problem, hidden, width, threshold, only, constraints)
        proved.intervals.update(result.intervals)
        proved.components += result.components
        proved.solves += result.solves
        proved.seconds += result.seconds
        if not result.failing:
            proved.failing = []
            return added, proved
        chosen: set[Figure] = set()
        helped: set[int] = set()
        for cell in result.failing:
            insts = containing.get(cell, [])
            if any(id(i) in helped for i in insts):
                continue  # a relation of this cell already gets a suppression this round
            best, best_inst = _repair(problem, cell, containing, suppressed | chosen, width)
            if best is None and chosen:
                continue  # what this round hides may be enough: the next round audits it again
            if best is None:
                raise UnprotectableError(
                    f"{'.'.join(figure_of(cell))} can be narrowed to fewer than {width} values from the published "
                    "figures and no figure related to it may be suppressed to protect it")
            assert best_inst is not None  # _repair gives a figure with the relation it is in
            helped.add(id(best_inst))
            todo = [(best, figure_of(cell), best_inst.label)]
            while todo:  # the figure and every figure that is the same number
                fig, protects, label = todo.pop()
                if fig in suppressed or fig in chosen or fig not in problem.tier:
                    continue
                chosen.add(fig)
                added[fig] = Protection(fig, (protects,), f"{label} (disclosure audit)")
                todo += [(t, protects, label) for t in sorted(ties[fig])]
        only = set(result.failing) | {c for f in chosen for c in cells_of.get(f, ())}
