"""Dagster's SQLite run and event storage (dagster.yaml), each keeping one SQLite engine.

Dagster's own SQLite storages make a new SQLAlchemy engine, and so a new SQLite connection,
for every read and write: a build records some 300 events and opening a connection for each
cost about 2 s of a build that reuses everything. These classes are Dagster's, with one engine
per storage (SQLAlchemy's pool for a file database hands a connection to one caller at a time)
and SQLite's `synchronous=NORMAL`, which in the WAL mode Dagster sets keeps the file consistent
and can lose only the last runs' events on a power cut. The tables, files and migrations are
Dagster's, so the UI reads the history as before.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy import event
from dagster._core.storage.event_log.sqlite.consolidated_sqlite_event_log import ConsolidatedSqliteEventLogStorage
from dagster._core.storage.runs.sqlite.sqlite_run_storage import SqliteRunStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS


def _engine(conn_string: str) -> sa.Engine:
    engine = sa.create_engine(conn_string, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _record) -> None:
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")

    return engine


class _OneEngine:
    _conn_string: str
    _one_engine: sa.Engine | None = None

    @contextmanager
    def _transaction(self) -> Iterator[sa.Connection]:
        if self._one_engine is None:
            self._one_engine = _engine(self._conn_string)
        with self._one_engine.connect() as conn, conn.begin():
            yield conn


class EventLogStorage(_OneEngine, ConsolidatedSqliteEventLogStorage):
    """The event log in one SQLite file (`event_log.db`), through one engine."""

    @contextmanager
    def _connect(self):
        with self._transaction() as conn:
            yield conn


class RunStorage(_OneEngine, SqliteRunStorage):
    """The run history (`runs.db`), through one engine."""

    @classmethod
    def from_config_value(cls, inst_data, config_value):  # Dagster's names SqliteRunStorage, not cls
        return cls.from_local(inst_data=inst_data, **config_value)

    @contextmanager
    def connect(self):
        with self._transaction() as conn:
            yield conn
