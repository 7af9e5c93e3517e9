"""The DuckDB database every asset reads and writes, and the SQL files that build it.

A SQL file under `assets/` becomes one table named after the file. The tables it reads
are found in its text (names starting `raw_`, `ref_`, `stg_` or `metric_`), so the asset
graph is declared by the SQL itself, never restated.
"""

from __future__ import annotations

import atexit
import hashlib
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from pipelines import buildstate, metric_catalog, metric_sql
from pipelines.paths import ASSETS_DIR

_TABLE_REF = re.compile(r"\b((?:raw|ref|stg|metric)_[a-z0-9_]+)\b")
_COMMENT = re.compile(r"--[^\n]*")


@dataclass(frozen=True)
class SqlFile:
    path: Path
    table: str
    layer: str  # staging | metrics

    @property
    def text(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @property
    def is_view(self) -> bool:
        """A staging query marked `-- dasa: view` is kept as a view, not a table: what it
        reads is scanned by whatever reads it, never copied (a referrals extract of millions
        of records, decision 0022). Its order is then the reader's to give."""
        return self.layer == "staging" and VIEW_MARK in (line.strip() for line in self.text.splitlines())

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()

    @property
    def rel_path(self) -> str:
        return self.path.relative_to(ASSETS_DIR.parent).as_posix()

    @property
    def definition_path(self) -> str:
        """A metric family's YAML beside its SQL."""
        return self.path.with_suffix(".yaml").relative_to(ASSETS_DIR.parent).as_posix()

    @property
    def definition_sha256(self) -> str:
        return hashlib.sha256(self.path.with_suffix(".yaml").read_bytes()).hexdigest()

    @property
    def query(self) -> str:
        """What builds the table: the file's query; for a metric family, its parts added up,
        valued and kept at the levels its YAML declares (pipelines/metric_sql.py)."""
        if self.layer != "metrics":
            return self.text
        return self.query_of_parts(self.text)

    def query_of_parts(self, parts_query: str) -> str:
        """A metric family's query with its parts taken from `parts_query`."""
        family = metric_catalog.family(self.path.stem, self.path.parent)
        return metric_sql.family_query(family, parts_query)

    @property
    def parts_table(self) -> str:
        """A metric family's parts, as build_table keeps them (provenance reads them there
        rather than running the family's SQL again)."""
        return PARTS_PREFIX + self.path.stem

    @property
    def code_version(self) -> str:
        """The SHA-256 of the query (for a metric family it covers its YAML's kinds and levels)."""
        return hashlib.sha256(self.query.encode("utf-8")).hexdigest()

    def reads(self) -> tuple[str, ...]:
        """Tables the query reads (excluding CTE names, which never carry a layer prefix)."""
        text = _COMMENT.sub("", self.query)
        return tuple(sorted({t for t in _TABLE_REF.findall(text) if t != self.table}))


PARTS_PREFIX = "parts_"  # parts_<family>: the parts of a metric family (build_table)
VIEW_MARK = "-- dasa: view"  # a line of a staging query kept as a view (SqlFile.is_view)


def in_build_order(files: Iterable[SqlFile]) -> list[SqlFile]:
    """The SQL files each after those whose tables it reads (ValueError if they read in a circle)."""
    pending, done = list(files), []
    while pending:
        ready = [s for s in pending if all(r not in {p.table for p in pending} for r in s.reads())]
        if not ready:
            raise ValueError(f"the SQL files read each other in a circle: {[s.table for s in pending]}")
        done += ready
        pending = [s for s in pending if s not in ready]
    return done


def sql_files(layer: str) -> tuple[SqlFile, ...]:
    folder = ASSETS_DIR / layer
    prefix = {"staging": "", "metrics": "metric_"}[layer]
    return tuple(SqlFile(p, prefix + p.stem, layer) for p in sorted(folder.glob("*.sql")))


_OPEN: dict[Path, duckdb.DuckDBPyConnection] = {}


@contextmanager
def connect(db_path: Path, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to the warehouse, kept open for the life of the process.

    Every asset of a run executes in one process (in-process executor) and DuckDB allows one
    writer per file, so the assets share one connection: opening and closing the file for each
    of some 25 assets cost about 35 ms each in checkpoints. `close_all()` ends it (the build
    calls it when done, so the file can then be opened by anyone). `read_only` is honoured
    when no connection of this process is open.
    """
    key = Path(db_path).resolve()
    con = _OPEN.get(key)
    if con is None:
        if read_only:
            ro = duckdb.connect(str(key), read_only=True, config=duckdb_config(key))
            try:
                yield ro
            finally:
                ro.close()
            return
        key.parent.mkdir(parents=True, exist_ok=True)
        con = _OPEN[key] = duckdb.connect(str(key), config=duckdb_config(key))
    yield con.cursor() if read_only else con


def spill_dir(db_path: Path) -> Path:
    """Where DuckDB spills what does not fit in its memory limit: `<warehouse>.tmp/` beside
    the warehouse (a reset of the warehouse removes it)."""
    return Path(db_path).with_name(Path(db_path).name + ".tmp")


def kept_evidence_dir(db_path: Path) -> Path:
    """Where provenance keeps the evidence of each year between builds (provenance.YearEvidence):
    `<warehouse>.evidence/` beside the warehouse (a reset of the warehouse removes it)."""
    return Path(db_path).with_name(Path(db_path).name + ".evidence")


def duckdb_config(db_path: Path | None = None) -> dict:
    """DuckDB's settings for every connection of a build: two threads (the machine's cores),
    the memory limit of `$DASA_DUCKDB_MEMORY_LIMIT` (default 2GB; DuckDB's own default is 80%
    of the machine's memory, and a 10-million-record extract then took 5 GB), and a spill
    folder beside the warehouse rather than in the system's temporary folder."""
    config = {"threads": 2, "memory_limit": buildstate.memory_limit_setting()}
    if db_path is not None:
        config["temp_directory"] = str(spill_dir(db_path))
    return config


def close_all() -> None:
    """Close every warehouse connection this process holds."""
    while _OPEN:
        _, con = _OPEN.popitem()
        con.close()


atexit.register(close_all)


def one_row(result: duckdb.DuckDBPyConnection) -> tuple:
    """The row of a query that always returns one (aggregates without GROUP BY)."""
    row = result.fetchone()
    assert row is not None, "an aggregate query returned no row"
    return row


def build_table(con: duckdb.DuckDBPyConnection, sql: SqlFile) -> int:
    """(Re)create the table of one SQL file; return its row count. A metric family's parts
    are kept first in their own table (`SqlFile.parts_table`), and its figures are added up
    from them: the same rows as `sql.query`, and provenance reads the parts without running
    the family's SQL again (pipelines/provenance.py)."""
    if sql.layer == "metrics":
        con.execute(f'CREATE OR REPLACE TABLE "{sql.parts_table}" AS {sql.text.rstrip().rstrip(";")}')
        query = sql.query_of_parts(f'select * from "{sql.parts_table}"')
    else:
        query = sql.query
    view = sql.is_view
    # a table made a view (or the reverse) by an edit of its query: DuckDB replaces only its own kind
    if table_exists(con, sql.table) and is_view(con, sql.table) != view:
        con.execute(f'DROP {"TABLE" if view else "VIEW"} "{sql.table}"')
    con.execute(f'CREATE OR REPLACE {"VIEW" if view else "TABLE"} "{sql.table}" AS {query.rstrip().rstrip(";")}\n')
    return one_row(con.execute(f'SELECT count(*) FROM "{sql.table}"'))[0]


def is_view(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return one_row(con.execute("SELECT count(*) FROM duckdb_views() WHERE view_name = ? AND schema_name = 'main'",
                               [name]))[0] > 0


def table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    return one_row(con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
                               [table]))[0] > 0


def replace_table(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    """Create or replace a table with a frame's rows."""
    con.register("_frame", frame.to_arrow())
    try:
        con.execute(f'CREATE OR REPLACE TABLE "{table}" AS SELECT * FROM _frame')
    finally:
        con.unregister("_frame")


def replace_partition(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame, year: str,
                      source: str | None = None) -> None:
    """Replace one financial year's rows of a table (created from the frame's schema if absent).

    A column the frame has and the table lacks is added to the table first (NULL in the rows
    of other years until they are read again): a new version of the return template adds its
    columns to a warehouse built before it."""
    con.register("_incoming", frame.to_arrow())
    try:
        if not table_exists(con, table):
            con.execute(f'CREATE TABLE "{table}" AS SELECT * FROM _incoming LIMIT 0')
        else:
            have = {name for (name,) in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table]).fetchall()}
            for name, type_, *_ in con.execute("DESCRIBE SELECT * FROM _incoming").fetchall():
                if name not in have:
                    con.execute(f'ALTER TABLE "{table}" ADD COLUMN "{name}" {type_}')
        where = "financial_year = ?" + (" AND source = ?" if source else "")
        params = [year] + ([source] if source else [])
        con.execute(f'DELETE FROM "{table}" WHERE {where}', params)
        con.execute(f'INSERT INTO "{table}" BY NAME SELECT * FROM _incoming')
    finally:
        con.unregister("_incoming")
