"""Dagster's run history as the UI reads it: the storages dagster.yaml names
(pipelines/dagster_storage.py, one SQLite engine each) record every run of a build, and a
new instance (another process, the UI) reads them back from the files."""

from __future__ import annotations

import json

import dagster as dg

from pipelines import build
from pipelines.build import build_release
from pipelines.dagster_storage import EventLogStorage, RunStorage


def _fresh_instance(monkeypatch, storage) -> dg.DagsterInstance:
    """The instance a new process would load from the project's dagster.yaml."""
    monkeypatch.setenv("DASA_DAGSTER_STORAGE", str(storage))
    return build.dagster_instance()


def test_a_build_s_runs_are_in_the_history_a_new_instance_reads(small_raw, tmp_path, monkeypatch):
    storage = tmp_path / "dagster"
    site, restricted = tmp_path / "site", tmp_path / "restricted"
    instance = _fresh_instance(monkeypatch, storage)
    assert isinstance(instance.run_storage, RunStorage)
    assert isinstance(instance.event_log_storage, EventLogStorage)

    build_release(small_raw, year="2024-25", out_dir=site / "first", audit_dir=restricted, clean=True)
    first = json.loads((site / "first" / "build.json").read_text())["dagster_run_id"]
    build_release(small_raw, year="2024-25", out_dir=site / "second", audit_dir=restricted, clean=True)
    second = json.loads((site / "second" / "build.json").read_text())["dagster_run_id"]

    reader = _fresh_instance(monkeypatch, storage)
    records = reader.get_run_records()
    ids = {r.dagster_run.run_id for r in records}
    assert {first, second} <= ids and first != second
    # every run of both builds (reading, the gate, the metrics, the release) ended in success
    assert len(records) == 8 and {r.dagster_run.status for r in records} == {dg.DagsterRunStatus.SUCCESS}
    # each run's events are there in full, from its start to its end
    for record in records:
        events = [e.dagster_event.event_type for e in reader.all_logs(record.dagster_run.run_id)
                  if e.dagster_event is not None]
        assert dg.DagsterEventType.RUN_START in events and dg.DagsterEventType.STEP_SUCCESS in events
        assert events[-1] == dg.DagsterEventType.RUN_SUCCESS
    # the UI's asset view: the last materialization of the release of the year, by the last build
    latest = reader.get_latest_materialization_event(dg.AssetKey("release"))
    assert latest is not None and latest.run_id == second
    assert latest.asset_materialization is not None and latest.asset_materialization.partition == "2024-25"
    assert (storage / "event_log.db").is_file() and (storage / "runs.db").is_file()
