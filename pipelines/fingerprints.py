"""What a build can reuse from the last one, decided from content hashes (decision 0024).

Every asset of the graph has a fingerprint, a SHA-256 of what it is made from:

- an ingest asset, per financial year: the code, the reference data, and the path and SHA-256
  of every file in the year's folder of its source;
- the reference tables: the code, the reference files and the years;
- a SQL table: the code version of its query (pipelines/warehouse.py) and the fingerprints of
  the assets it reads;
- the published figures: the fingerprints of the metric tables, the disclosure settings and
  the figures the kept vintages withhold;
- the release of a year: the code and the commit it is at, everything under assets/, expectations/ and reports/ (and
  the release configuration in use), the settings of the build, the decisions files and the
  kept vintages of the years it shows, the fingerprints of their inputs, and a hash of the
  content of every derived table, cut to the years it shows (the figures' hash).

An asset whose fingerprint is the one recorded in the warehouse (`build_fingerprints`) when it
last ran, and whose output is still there, is not run again: it reports the same data version
to Dagster. An asset forgets its fingerprint before it writes and records it once it has
written, so a build stopped half way redoes what it did not finish. The code's own version
(`code_version`: every module of pipelines/, the return templates, the input limits, the lock
file and the versions of Python and of the libraries) and the years of the build are recorded
for the whole warehouse: when either differs, the warehouse starts empty (build.py).
"""

from __future__ import annotations

import hashlib
import json
import platform
from collections.abc import Iterable
from functools import cache
from importlib import metadata
from pathlib import Path

import duckdb

from pipelines import warehouse
from pipelines.manifest import sha256 as file_sha256
from pipelines.paths import ASSETS_DIR, PROJECT_DIR, REPORTS_DIR

TABLE = "build_fingerprints"
SOLVED_TABLE = "build_solved"  # a year's suppression and audit solutions, by what they are worked out from
WAREHOUSE = "warehouse"  # the row of the whole warehouse: the code version and the years of the build
# fingerprint: what the asset was made from; data_version: what it made (what readers of it see)
_DDL = (f"CREATE TABLE IF NOT EXISTS {TABLE} (asset VARCHAR, partition VARCHAR, fingerprint VARCHAR, "
        "data_version VARCHAR)")
UNHASHED_COLUMNS = ("seconds",)  # how long the disclosure audit took: not a figure, and never the same twice
_LIBRARIES = ("duckdb", "polars", "pyarrow", "dagster", "great-expectations", "python-calamine", "openpyxl",
              "xlsxwriter", "odfpy", "highspy", "scipy", "jinja2", "pyyaml", "pydantic", "numpy", "pandas")


def digest(*parts: object) -> str:
    """The SHA-256 of `parts`, each written as JSON (so no two different lists give one text)."""
    h = hashlib.sha256()
    for part in parts:
        h.update(json.dumps(part, sort_keys=True, default=str).encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()


def tree(folder: Path, pattern: str = "**/*") -> list[tuple[str, str]]:
    """(path under `folder`, SHA-256) of every file in it, sorted; empty when it is not a folder."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return [(p.relative_to(folder).as_posix(), file_sha256(p)) for p in sorted(folder.glob(pattern)) if p.is_file()]


@cache
def code_version() -> str:
    """The version of everything but the SQL, the reports and the inputs that a build's output
    depends on: every module of pipelines/, the return templates, the input limits, the lock
    file, and the versions of Python and the libraries."""
    versions = {}
    for name in _LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    lock = PROJECT_DIR / "uv.lock"
    return digest(tree(PROJECT_DIR / "pipelines", "**/*.py"), tree(ASSETS_DIR / "templates"),
                  file_sha256(ASSETS_DIR / "input_limits.yaml"), file_sha256(lock) if lock.is_file() else None,
                  platform.python_version(), versions)


def reference_version(folder: Path) -> str:
    return digest(str(Path(folder).resolve()), tree(folder))


def declarations_version(release_config: Path) -> str:
    """What a release is written with beyond the code: assets/ (metric families, their labels
    and lineage), expectations/ (the suites whose results it shows), reports/ (templates,
    styles, the release settings and years) and the release configuration in use with its
    years/ folder."""
    config = Path(release_config).resolve()
    return digest(tree(ASSETS_DIR), tree(PROJECT_DIR / "expectations"), tree(REPORTS_DIR), str(config),
                  file_sha256(config) if config.is_file() else None, tree(config.parent / "years"))


# --- the table of fingerprints ------------------------------------------------------------


def ensure(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(_DDL)


def recorded(con: duckdb.DuckDBPyConnection, asset: str, partition: str = "") -> str | None:
    ensure(con)
    row = con.execute(f"SELECT fingerprint FROM {TABLE} WHERE asset = ? AND partition = ?",
                      [asset, partition]).fetchone()
    return row[0] if row else None


def forget(con: duckdb.DuckDBPyConnection, asset: str, partition: str | None = None) -> None:
    """Before an asset writes: a build stopped while it writes finds no fingerprint, so redoes it."""
    ensure(con)
    if partition is None:
        con.execute(f"DELETE FROM {TABLE} WHERE asset = ?", [asset])
    else:
        con.execute(f"DELETE FROM {TABLE} WHERE asset = ? AND partition = ?", [asset, partition])


def record(con: duckdb.DuckDBPyConnection, asset: str, fingerprint: str, partition: str = "",
           data_version: str | None = None) -> None:
    """Once an asset has written: what it was made from and (default: the same) what it made."""
    forget(con, asset, partition)
    con.execute(f"INSERT INTO {TABLE} VALUES (?, ?, ?, ?)", [asset, partition, fingerprint, data_version or fingerprint])


def data_version(con: duckdb.DuckDBPyConnection, asset: str, partition: str = "") -> str | None:
    ensure(con)
    row = con.execute(f"SELECT data_version FROM {TABLE} WHERE asset = ? AND partition = ?",
                      [asset, partition]).fetchone()
    return row[0] if row else None


def of_assets(con: duckdb.DuckDBPyConnection, assets: Iterable[str]) -> str | None:
    """One hash of the recorded data versions of `assets` (every partition of each), or None when
    one of them has none (it has not run in this warehouse: whatever reads it is run). A table
    made again with the same rows has the same data version, so what reads it is not made again."""
    ensure(con)
    names = sorted(set(assets))
    rows = con.execute(f"SELECT asset, partition, data_version FROM {TABLE} WHERE asset IN (SELECT unnest(?)) "
                       "ORDER BY asset, partition", [names]).fetchall()
    if {r[0] for r in rows} != set(names):
        return None
    return digest([list(r) for r in rows])


def table_content(con: duckdb.DuckDBPyConnection, table: str, where: str = "", params: list | None = None) -> list:
    """The columns, row count and sum of the rows' `hash()` of a table (the rows `where` keeps)."""
    columns = [c for (c,) in con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE table_name = ? AND schema_name = 'main' ORDER BY column_index",
        [table]).fetchall() if c not in UNHASHED_COLUMNS]
    row = ", ".join(f'"{c}"' for c in columns)
    count, total = warehouse.one_row(con.execute(
        f'SELECT count(*), sum(hash(row({row})))::VARCHAR FROM "{table}" {where}', params or []))
    return [table, columns, count, total]


def tables_content(con: duckdb.DuckDBPyConnection, up_to_year: str, skip_prefixes: tuple[str, ...] = ("raw_",)) -> str:
    """A hash of the content of every table of the warehouse but the raw ones and this one's:
    each table's rows of the years up to `up_to_year` where it has a year column
    (`financial_year` or `time_period`), else all its rows; and each view's query. Rows are hashed with DuckDB's
    `hash()` and summed, so their order does not matter and a repeated row counts twice."""
    tables = con.execute(
        "SELECT t.table_name, list(c.column_name) FROM duckdb_tables() t "
        "JOIN duckdb_columns() c ON c.table_name = t.table_name AND c.schema_name = t.schema_name "
        "WHERE t.schema_name = 'main' GROUP BY t.table_name ORDER BY t.table_name").fetchall()
    parts = []
    for name, columns in tables:
        if name in (TABLE, SOLVED_TABLE) or name.startswith(skip_prefixes):
            continue
        year = next((c for c in ("financial_year", "time_period") if c in columns), None)
        parts.append(table_content(con, name, f'WHERE "{year}" <= ?' if year else "", [up_to_year] if year else []))
    # a view is its query over tables hashed here or raw tables the inputs' fingerprints cover
    parts += [["view", name, sql] for name, sql in con.execute(
        "SELECT view_name, sql FROM duckdb_views() WHERE schema_name = 'main' AND NOT internal AND NOT temporary "
        "ORDER BY view_name").fetchall()]
    return digest(parts)


class Solved(dict):
    """The disclosure results of one kind ("secure", "audit" or "publish") the last build kept (table
    build_solved: a hash of what each is worked out from, and the solution as pickled by this
    code, whose version the hash includes; the warehouse is the pipeline's own file). `save`
    keeps those this build used, and no others of the kind."""

    # `used`: read or made by this build; `made`: set by it; `stored`: as the table holds them

    def __init__(self, con: duckdb.DuckDBPyConnection, kind: str):
        con.execute(f"CREATE TABLE IF NOT EXISTS {SOLVED_TABLE} (kind VARCHAR, key VARCHAR, result BLOB)")
        super().__init__(con.execute(f"SELECT key, result FROM {SOLVED_TABLE} WHERE kind = ?", [kind]).fetchall())
        self.con, self.kind = con, kind
        self.used: set[str] = set()
        self.stored = frozenset(self)  # as the table holds them: `save` writes only what changed
        self.made: set[str] = set()  # set by this build

    def __contains__(self, key: object) -> bool:
        found = super().__contains__(key)
        if found and isinstance(key, str):
            self.used.add(key)
        return found

    def __setitem__(self, key: str, value: object) -> None:
        self.used.add(key)
        self.made.add(key)
        super().__setitem__(key, value)

    def save(self) -> None:
        """The table left holding the results used, and only those: the entries not used are
        deleted and those made added; an entry kept is not written again (a year's published
        figures are some 9 MB pickled). A key is a hash of everything its result is worked out
        from, so an entry under a kept key is the same result."""
        drop = sorted((self.stored - self.used) | (self.stored & self.made))
        if drop:
            self.con.execute(f"DELETE FROM {SOLVED_TABLE} WHERE kind = ? AND list_contains(?, key)", [self.kind, drop])
        add = [(self.kind, k, self[k]) for k in sorted(self.made)]
        if add:
            self.con.executemany(f"INSERT INTO {SOLVED_TABLE} VALUES (?, ?, ?)", add)
        self.stored, self.made = frozenset(self.used), set()
