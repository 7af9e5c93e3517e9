"""The expectations of the validation suites, run as DuckDB SQL (the default engine).

The suites stay Great Expectations suites (`expectations/<table>.json`); this module runs
the expectation types they use as SQL over the suite's frame query, a CTE of the warehouse
that never leaves DuckDB, and returns what GX returns for them (its SUMMARY result: counts,
the first 5 unexpected values and the first rows' index columns in frame order, the observed
value), so `pipelines.validation` writes the same result rows whichever engine ran. GX on
pandas frames stays the reference engine (`engine="great_expectations"`);
tests/test_validation_engines.py proves the two equal, on the sample and on a warehouse where
every type fails.

One query per suite counts every expectation's rows in one pass (aggregates, and a grouped
subquery for uniqueness), without the frame's ORDER BY; only a failure is queried again for
its first rows, from one numbered copy of the frame in its order made for all of them (LIMIT
5). Memory stays DuckDB's, whatever the row count.

GX's semantics kept: a column-map expectation looks at the rows its `row_condition` keeps
(element_count) and ignores NULLs, except the null and not-null expectations; a pair or
compound expectation drops the rows `ignore_row_if` says; a uniqueness expectation counts
every row of a duplicated value; a regex matches anywhere (search, as pandas'
`str.contains`); an expectation on a column the frame lacks fails with nothing observed.
`$PARAMETER` values are evaluated by `evaluate` (names of the suite parameters, numbers and
+ - * / only).
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable
from typing import Any

import duckdb

SAMPLE = 5  # GX's partial_unexpected_count as the suites are run
_COLUMN_MAP = ("expect_column_values_to_be_in_set", "expect_column_values_to_be_between",
               "expect_column_values_to_not_be_null", "expect_column_values_to_be_null",
               "expect_column_values_to_match_regex", "expect_column_values_to_be_unique")
_PAIR = ("expect_column_pair_values_a_to_be_greater_than_b", "expect_column_pair_values_to_be_equal")
_COMPOUND = ("expect_compound_columns_to_be_unique",)
_TABLE = ("expect_table_columns_to_match_set", "expect_table_column_types_to_match",
          "expect_table_row_count_to_equal", "expect_table_row_count_to_be_between")
SUPPORTED = (*_COLUMN_MAP, *_PAIR, *_COMPOUND, *_TABLE)
# the kwargs each type may have (GX's own; anything else is refused, not silently ignored)
_KWARGS = {
    "expect_column_values_to_be_in_set": {"column", "value_set", "row_condition"},
    "expect_column_values_to_be_between": {"column", "min_value", "max_value", "row_condition"},
    "expect_column_values_to_not_be_null": {"column", "row_condition"},
    "expect_column_values_to_be_null": {"column", "row_condition"},
    "expect_column_values_to_match_regex": {"column", "regex", "row_condition"},
    "expect_column_values_to_be_unique": {"column", "row_condition"},
    "expect_column_pair_values_a_to_be_greater_than_b": {"column_A", "column_B", "or_equal", "ignore_row_if",
                                                         "row_condition"},
    "expect_column_pair_values_to_be_equal": {"column_A", "column_B", "ignore_row_if", "row_condition"},
    "expect_compound_columns_to_be_unique": {"column_list", "ignore_row_if", "row_condition"},
    "expect_table_columns_to_match_set": {"column_set", "exact_match"},
    "expect_table_column_types_to_match": {"column_types"},
    "expect_table_row_count_to_equal": {"value", "row_condition"},
    "expect_table_row_count_to_be_between": {"min_value", "max_value", "row_condition"},
}


class _Missing:
    """A NULL as GX's pandas frames hold it (pd.NA): it prints as `<NA>`."""

    def __repr__(self) -> str:
        return "<NA>"

    __str__ = __repr__


NA = _Missing()


class _Scalar:
    """A value printed as numpy prints its scalar (`np.int64(3)`): what a pair's values are in
    GX's results."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text


# --- $PARAMETER expressions --------------------------------------------------------------

_OPS: dict[type, Callable] = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
                              ast.Div: operator.truediv}


def evaluate(expression: str, params: dict):
    """A suite parameter expression: names of `params`, numbers, + - * / and brackets; nothing else."""
    def ev(node):
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            return node.value
        if isinstance(node, ast.Name):
            if node.id not in params:
                raise ValueError(f"unknown parameter {node.id!r} in {expression!r}")
            return params[node.id]
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            value = ev(node.operand)
            return -value if isinstance(node.op, ast.USub) else value
        raise ValueError(f"not allowed in a parameter expression: {expression!r}")

    return ev(ast.parse(expression, mode="eval"))


def resolve(kwargs: dict, params: dict) -> dict:
    """The kwargs with every `{"$PARAMETER": expression}` replaced by its value."""
    return {k: evaluate(v["$PARAMETER"], params) if isinstance(v, dict) and set(v) == {"$PARAMETER"} else v
            for k, v in kwargs.items()}


def check_supported(expectation: dict) -> None:
    kind, kwargs = expectation["type"], expectation.get("kwargs", {})
    if kind not in _KWARGS:
        raise ValueError(f"{kind}: no SQL for this expectation type (run it with engine='great_expectations', "
                         "or add it to pipelines/expectations_sql.py)")
    extra = set(kwargs) - _KWARGS[kind]
    if extra:
        raise ValueError(f"{kind}: kwargs {sorted(extra)} have no SQL in pipelines/expectations_sql.py")


# --- SQL pieces --------------------------------------------------------------------------

def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            return f"'{value}'::DOUBLE"
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise ValueError(f"no SQL literal for {value!r}")


_COMPARE = {"==": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


def condition_sql(cond: dict) -> str:
    """A GX row condition (serialised Condition object) as SQL, with pandas' `DataFrame.query`
    semantics: a comparison with NULL keeps no row, `NOT_IN` keeps NULLs (pandas' ~isin)."""
    kind = cond.get("type")
    if kind == "comparison":
        col, op, value = q(cond["column"]["name"]), cond["operator"], cond["parameter"]
        if op in ("IN", "NOT_IN"):
            values = ", ".join(literal(v) for v in value)
            if op == "IN":
                return f"({col} IN ({values}))" if values else "FALSE"
            return f"({col} IS NULL OR {col} NOT IN ({values}))" if values else "TRUE"
        if op not in _COMPARE:
            raise ValueError(f"row condition operator {op!r} has no SQL")
        return f"({col} {_COMPARE[op]} {literal(value)})"
    if kind == "nullity":
        col = q(cond["column"]["name"])
        return f"({col} IS NULL)" if cond.get("is_null", True) else f"({col} IS NOT NULL)"
    if kind in ("and", "or"):
        parts = [condition_sql(c) for c in cond["conditions"]]
        return "(" + f" {kind.upper()} ".join(parts) + ")"
    raise ValueError(f"row condition {cond!r} has no SQL")


def condition_columns(cond: dict | None) -> list[str]:
    if not cond:
        return []
    if cond.get("type") in ("and", "or"):
        return [c for sub in cond["conditions"] for c in condition_columns(sub)]
    return [cond["column"]["name"]]


def _kind_of(arrow_type) -> str:
    import pyarrow as pa

    if pa.types.is_boolean(arrow_type):
        return "bool"
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "str"
    if pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type):
        return "number"
    return "other"


def _in_set_values(values: list, arrow_type) -> list:
    """The members of a value set that pandas' isin could match in a column of this type."""
    kind = _kind_of(arrow_type)
    if kind == "str":
        return [v for v in values if isinstance(v, str)]
    if kind == "number":
        return [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if kind == "bool":
        return [v for v in values if isinstance(v, bool)]
    return list(values)


# --- The frame ---------------------------------------------------------------------------

_TRAILING_ORDER = re.compile(r'\s+ORDER\s+BY\s+([\w\s.,"]+)$', re.IGNORECASE)


def unordered(sql: str) -> str:
    """A frame query without the ORDER BY it ends in (of columns, ALL or positions; not one
    with a LIMIT or OFFSET, whose rows depend on it): what is counted needs no order."""
    found = _TRAILING_ORDER.search(sql)
    if found is None or re.search(r"\b(LIMIT|OFFSET)\b", found.group(1), re.IGNORECASE):
        return sql
    return sql[:found.start()]


class Frame:
    """The rows a suite sees: its frame query, run inside every query as a CTE."""

    _made = 0  # numbered copies made by this process (their names)

    def __init__(self, con: duckdb.DuckDBPyConnection, sql: str, params: dict):
        self.con = con
        self.sql = sql.strip().rstrip(";")
        # what is counted needs no order: sorting a table of 10 million records for each
        # query took 4.5 s of a count of 0.3 s (the order matters only for the first rows)
        self.unordered = unordered(self.sql)
        self.params = params
        self.numbered: str | None = None  # the temporary table of the rows in order, once a sample is wanted
        schema = self.query_arrow(f"SELECT * FROM {self.ref} LIMIT 0").schema
        self.arrow_types = {f.name: f.type for f in schema}

    ref = "__dasa_frame"

    def wrap(self, body: str) -> str:
        return f"WITH {self.ref} AS NOT MATERIALIZED (\n{self.unordered}\n)\n{body}"

    def query(self, body: str, numbered: bool = False) -> list[tuple]:
        """Rows of a query over the frame (`numbered`: over `__dasa_numbered`, the frame's rows
        in its order, each with its place `__dasa_row`, made once for all the samples)."""
        if not numbered:
            return self.con.execute(self.wrap(body), self.params).fetchall()
        if self.numbered is None:
            Frame._made += 1
            name = f"__dasa_numbered_{Frame._made}"
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT row_number() OVER () AS __dasa_row, * "
                             f"FROM (\n{self.sql}\n)", self.params)
            self.numbered = name
        return self.con.execute(f"WITH __dasa_numbered AS (SELECT * FROM {self.numbered})\n{body}").fetchall()

    def close(self) -> None:
        if self.numbered is not None:
            self.con.execute(f"DROP TABLE IF EXISTS {self.numbered}")
            self.numbered = None

    def query_arrow(self, body: str):
        return self.con.execute(self.wrap(body), self.params).to_arrow_table()

    @property
    def columns(self) -> list[str]:
        return list(self.arrow_types)

    def dtypes(self, names: list[str]) -> dict[str, str]:
        """The pandas dtypes of these columns (worked out once per column)."""
        cache = self.__dict__.setdefault("_dtypes", {})
        todo = [n for n in names if n not in cache]
        if todo:
            cache.update(pandas_dtypes(self, todo))
        return {n: cache[n] for n in names}


# --- pandas dtypes, as GX's frames have them ---------------------------------------------

def to_pandas(table):
    """A DuckDB result (Arrow) as the pandas frame GX validates: nullable dtypes, HUGEINT sums
    as Int64."""
    import pandas as pd
    import pyarrow as pa

    cols = []
    for field in table.schema:
        col = table.column(field.name)
        if pa.types.is_decimal(field.type) and field.type.scale == 0:
            col = col.cast(pa.int64())  # HUGEINT sums: whole numbers
        cols.append(col)
    table = pa.Table.from_arrays(cols, names=table.column_names)
    mapping = {pa.int64(): pd.Int64Dtype(), pa.int32(): pd.Int32Dtype(), pa.string(): pd.StringDtype(),
               pa.large_string(): pd.StringDtype(), pa.bool_(): pd.BooleanDtype(), pa.float64(): pd.Float64Dtype()}
    return table.to_pandas(types_mapper=mapping.get)


def _fixed_dtype(arrow_type) -> str | None:
    """The pandas dtype `to_pandas` gives a column of this Arrow type whatever its values
    (None: it depends on them, e.g. a SMALLINT column with a NULL becomes float64)."""
    import pyarrow as pa

    if arrow_type in (pa.int64(),) or (pa.types.is_decimal(arrow_type) and arrow_type.scale == 0):
        return "Int64"
    if arrow_type == pa.int32():
        return "Int32"
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "string"
    if pa.types.is_boolean(arrow_type):
        return "boolean"
    if arrow_type == pa.float64():
        return "Float64"
    return None


def pandas_dtypes(frame: Frame, names: list[str]) -> dict[str, str]:
    """The pandas dtype of each column of the frame, as `to_pandas` makes it, without building
    the frame: fixed by the type, or else seen on at most two rows (one NULL, one not)."""
    out = {}
    for name in names:
        dtype = _fixed_dtype(frame.arrow_types[name])
        if dtype is None:
            c = q(name)
            sample = frame.query_arrow(f"(SELECT {c} FROM {frame.ref} WHERE {c} IS NULL LIMIT 1) UNION ALL "
                                       f"(SELECT {c} FROM {frame.ref} WHERE {c} IS NOT NULL LIMIT 1)")
            dtype = str(to_pandas(sample)[name].dtype)
        out[name] = dtype
    return out


def _numpy_repr(value, arrow_type, frame: Frame, column: str) -> object:
    """A value of a pair as it prints in GX's results (numpy scalars from the pandas frame)."""
    if value is None:
        return NA
    dtype = _fixed_dtype(arrow_type)
    if dtype in ("Int64", "Int32"):
        return _Scalar(f"np.{dtype.lower()}({int(value)})")
    if dtype == "Float64":
        return _Scalar(f"np.float64({float(value)!r})")
    if dtype == "boolean":
        return _Scalar(f"np.{bool(value)}_")
    if dtype == "string":
        return value
    dtype = frame.dtypes([column])[column]  # e.g. a SMALLINT column: int16, or float64 with a NULL
    if dtype == "object":
        return value
    import numpy as np

    return _Scalar(repr(np.dtype(dtype).type(value)))


# --- Running the expectations ------------------------------------------------------------

class _Plan:
    """One expectation compiled: the SQL of its rows (domain), of its unexpected rows, and how
    its sample values are read."""

    def __init__(self, kind: str, kwargs: dict, frame: Frame):
        self.kind, self.kwargs, self.frame = kind, kwargs, frame
        cond = kwargs.get("row_condition")
        self.domain = condition_sql(cond) if cond else "TRUE"
        self.value_columns: list[str] = []
        self.window: str | None = None  # a uniqueness rule: rows of a value held more than once
        self.unexpected = "FALSE"
        if kind in _COLUMN_MAP:
            self._column_map()
        elif kind in _PAIR:
            self._pair()
        elif kind in _COMPOUND:
            self._compound()

    def _column_map(self) -> None:
        kind, kw = self.kind, self.kwargs
        column = kw["column"]
        c = q(column)
        self.value_columns = [column]
        if kind == "expect_column_values_to_not_be_null":
            self.unexpected = f"{c} IS NULL"
            return
        if kind == "expect_column_values_to_be_null":
            self.unexpected = f"{c} IS NOT NULL"
            return
        if kind == "expect_column_values_to_be_unique":
            self.keep = f"{c} IS NOT NULL"
            self.window = c
            return
        if kind == "expect_column_values_to_be_in_set":
            values = _in_set_values(list(kw.get("value_set") or []), self.frame.arrow_types[column])
            ok = f"{c} IN ({', '.join(literal(v) for v in values)})" if values else "FALSE"
            if kw.get("value_set") is None:
                ok = "TRUE"
        elif kind == "expect_column_values_to_be_between":
            parts = []
            if kw.get("min_value") is not None:
                parts.append(f"{c} >= {literal(kw['min_value'])}")
            if kw.get("max_value") is not None:
                parts.append(f"{c} <= {literal(kw['max_value'])}")
            ok = " AND ".join(parts) or "TRUE"
        else:  # regex: anywhere in the text (pandas' str.contains)
            ok = f"regexp_matches(CAST({c} AS VARCHAR), {literal(kw['regex'])})"
        self.unexpected = f"{c} IS NOT NULL AND NOT coalesce({ok}, FALSE)"

    def _pair(self) -> None:
        kw = self.kwargs
        a, b = q(kw["column_A"]), q(kw["column_B"])
        self.value_columns = [kw["column_A"], kw["column_B"]]
        ignore = kw.get("ignore_row_if", "both_values_are_missing")
        self.keep = {"both_values_are_missing": f"NOT ({a} IS NULL AND {b} IS NULL)",
                     "either_value_is_missing": f"({a} IS NOT NULL AND {b} IS NOT NULL)",
                     "neither": "TRUE", "never": "TRUE"}[ignore]
        if self.kind == "expect_column_pair_values_to_be_equal":
            ok = f"{a} = {b}"
        else:
            ok = f"{a} >= {b}" if kw.get("or_equal") else f"{a} > {b}"
        # a comparison with NULL is neither expected nor unexpected (pandas' NA)
        self.unexpected = f"{self.keep} AND NOT ({ok})"

    def _compound(self) -> None:
        kw = self.kwargs
        cols = [q(c) for c in kw["column_list"]]
        self.value_columns = list(kw["column_list"])
        ignore = kw.get("ignore_row_if", "all_values_are_missing")
        self.keep = {"all_values_are_missing": "NOT (" + " AND ".join(f"{c} IS NULL" for c in cols) + ")",
                     "any_value_is_missing": "(" + " AND ".join(f"{c} IS NOT NULL" for c in cols) + ")",
                     "never": "TRUE"}[ignore]
        self.window = ", ".join(cols)

    # the aggregates of the one counting query
    def aggregates(self) -> list[str]:
        ref = self.frame.ref
        elements = f"count(*) FILTER (WHERE {self.domain})"
        if self.window is not None:
            unexpected = (f"(SELECT coalesce(sum(n), 0) FROM (SELECT count(*) AS n FROM {ref} "
                          f"WHERE ({self.domain}) AND ({self.keep}) GROUP BY {self.window} HAVING count(*) > 1))")
        else:
            unexpected = f"count(*) FILTER (WHERE ({self.domain}) AND ({self.unexpected}))"
        return [elements, unexpected]

    def samples(self, index_cols: list[str]) -> list[dict]:
        wanted = list(dict.fromkeys([*self.value_columns, *index_cols]))
        select = ", ".join(q(c) for c in wanted)
        if self.window is not None:
            body = (f"SELECT {select} FROM (SELECT *, count(*) OVER (PARTITION BY {self.window}) AS __dasa_n "
                    f"FROM __dasa_numbered WHERE ({self.domain}) AND ({self.keep})) "
                    f"WHERE __dasa_n > 1 ORDER BY __dasa_row LIMIT {SAMPLE}")
        else:
            body = (f"SELECT {select} FROM __dasa_numbered WHERE ({self.domain}) AND ({self.unexpected}) "
                    f"ORDER BY __dasa_row LIMIT {SAMPLE}")
        rows = self.frame.query(body, numbered=True)
        return [dict(zip(wanted, r)) for r in rows]

    def value(self, row: dict):
        if self.kind in _COLUMN_MAP:
            v = row[self.value_columns[0]]
            return NA if v is None else v
        if self.kind in _PAIR:
            types = self.frame.arrow_types
            return tuple(_numpy_repr(row[c], types[c], self.frame, c) for c in self.value_columns)
        return {c: row[c] for c in self.value_columns}  # GX gives these as plain values, NULL as None


def _gx_kwargs(kind: str, kwargs: dict) -> dict:
    """The kwargs as GX's models hold them (pydantic v1 coercion; a result's `expected` is
    printed from them): the bounds of a column's values as floats, a row count as an int
    (truncated, as int() does)."""
    out = dict(kwargs)
    if kind == "expect_column_values_to_be_between":
        for k in ("min_value", "max_value"):
            if isinstance(out.get(k), int) and not isinstance(out.get(k), bool):
                out[k] = float(out[k])
    keys = {"expect_table_row_count_to_equal": ("value",),
            "expect_table_row_count_to_be_between": ("min_value", "max_value")}.get(kind, ())
    for k in keys:
        if isinstance(out.get(k), float):
            out[k] = int(out[k])
    return out


def _referenced(kind: str, kwargs: dict) -> list[str]:
    if kind in _COLUMN_MAP:
        return [kwargs["column"]]
    if kind in _PAIR:
        return [kwargs["column_A"], kwargs["column_B"]]
    if kind in _COMPOUND:
        return list(kwargs["column_list"])
    return []


def run(con: duckdb.DuckDBPyConnection, sql: str, params: dict, expectations: list[dict],
        index_candidates: tuple[str, ...], suite_params: dict | None = None) -> dict:
    """Run a suite's expectations on its frame query. Returns the frame's row count, the index
    columns the results locate rows by, and per expectation (in order) a plain result:
    `kwargs` (as GX holds them), `success`, `result` (GX's SUMMARY keys) and `exception`."""
    frame = Frame(con, sql, params)
    try:
        return _run(frame, expectations, index_candidates, params, suite_params)
    finally:
        frame.close()


def _run(frame: Frame, expectations: list[dict], index_candidates: tuple[str, ...], params: dict,
         suite_params: dict | None) -> dict:
    columns = frame.columns
    index_cols = [c for c in index_candidates if c in columns][:3]
    resolved = [resolve(e.get("kwargs", {}), suite_params or params) for e in expectations]
    for e in expectations:
        check_supported(e)
    plans: list[_Plan | None] = []
    outcomes: list[dict] = []
    resolved = [_gx_kwargs(e["type"], kwargs) for e, kwargs in zip(expectations, resolved)]
    for e, kwargs in zip(expectations, resolved):
        kind = e["type"]
        out: dict[str, Any] = {"kwargs": kwargs, "success": True, "result": {}, "exception": None}
        outcomes.append(out)
        missing = [c for c in (*_referenced(kind, kwargs), *condition_columns(kwargs.get("row_condition")))
                   if c not in columns]
        if missing:  # GX: the expectation fails and observes nothing
            out["success"] = False
            plans.append(None)
            continue
        plans.append(_Plan(kind, kwargs, frame) if kind not in _TABLE else None)

    # one pass over the frame: the row count and every expectation's counts
    aggs = ["count(*)"]
    where: dict[int, int] = {}
    for i, (e, kwargs, plan, out) in enumerate(zip(expectations, resolved, plans, outcomes)):
        if plan is not None:
            where[i] = len(aggs)
            aggs += plan.aggregates()
        elif e["type"] in ("expect_table_row_count_to_equal", "expect_table_row_count_to_be_between") \
                and out["success"]:
            where[i] = len(aggs)
            cond = kwargs.get("row_condition")
            aggs.append(f"count(*) FILTER (WHERE {condition_sql(cond)})" if cond else "count(*)")
    counts = frame.query(f"SELECT {', '.join(aggs)} FROM {frame.ref}")[0]
    row_count = int(counts[0])

    dtypes: dict[str, str] | None = None
    for i, (e, kwargs, plan, out) in enumerate(zip(expectations, resolved, plans, outcomes)):
        kind = e["type"]
        if not out["success"]:
            continue
        if plan is not None:
            elements, unexpected = int(counts[where[i]]), int(counts[where[i] + 1])
            if unexpected == 0:
                continue
            samples = plan.samples(index_cols)
            out["success"] = False
            out["result"] = {
                "element_count": elements, "unexpected_count": unexpected,
                "partial_unexpected_list": [plan.value(r) for r in samples],
                "partial_unexpected_index_list": [{k: (NA if r[k] is None else r[k]) for k in index_cols}
                                                  for r in samples],
            }
        elif kind == "expect_table_row_count_to_equal":
            observed = int(counts[where[i]])
            out["success"] = observed == kwargs["value"]
            out["result"] = {"observed_value": observed}
        elif kind == "expect_table_row_count_to_be_between":
            observed = int(counts[where[i]])
            lo, hi = kwargs.get("min_value"), kwargs.get("max_value")
            out["success"] = (lo is None or observed >= lo) and (hi is None or observed <= hi)
            out["result"] = {"observed_value": observed}
        elif kind == "expect_table_columns_to_match_set":
            expected, actual = set(kwargs.get("column_set") or []), set(columns)
            mismatched: dict[str, list[str]] = {}
            if actual - expected:
                mismatched["unexpected"] = sorted(actual - expected)
            if expected - actual:
                mismatched["missing"] = sorted(expected - actual)
            exact = kwargs.get("exact_match", True)
            out["success"] = not mismatched or (not exact and "missing" not in mismatched)
            result: dict[str, Any] = {"observed_value": sorted(actual)}
            if mismatched:
                result["details"] = {"mismatched": mismatched}
            out["result"] = result
        elif kind == "expect_table_column_types_to_match":
            expected = kwargs["column_types"]
            if dtypes is None:
                dtypes = frame.dtypes(columns)
            observed = {name: dtypes.get(name, "missing") for name in expected}
            wrong = {name: observed[name] for name, dtype in sorted(expected.items()) if dtypes.get(name) != dtype}
            out["success"] = not wrong
            out["result"] = {"observed_value": observed, "details": {"mismatched": wrong}}
    for out in outcomes:
        if out["success"]:
            out["result"] = {}  # as GX's first run (pass or fail only) leaves a pass
    return {"row_count": row_count, "index_cols": index_cols, "results": outcomes}
