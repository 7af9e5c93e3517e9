"""Shared fixtures: a small hand-made raw folder, and the warehouse built from it."""

from __future__ import annotations

import atexit
import os
import pickle
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import dagster as dg
import duckdb
import pytest

from pipelines import warehouse
from pipelines.assets import build_assets, years_in
from pipelines.resources import DasaSettings
from tests.fixtures import builders as B
from tests.fixtures import small_inputs

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
# Builds in tests keep the build lock, their warehouses and Dagster's run history out of the
# project's data/processed (pipelines/buildstate.py): a test run never waits for, nor prunes
# the warehouses of, a real build.
_STATE = Path(tempfile.mkdtemp(prefix="dasa-test-state-"))
os.environ["DASA_STATE_DIR"] = str(_STATE)
os.environ["DASA_DAGSTER_STORAGE"] = str(_STATE / "dagster")
atexit.register(shutil.rmtree, _STATE, ignore_errors=True)


def _config_without_commentary(folder: Path) -> Path:
    """A copy of reports/release.yaml and reports/years/ without the statistician's commentary.
    The commentary is written for the bundled sample's figures, and a figure it quotes that a
    release does not have stops the build (pipelines/release/commentary.py): the hand-made
    worlds of the tests are built with this copy (DASA_RELEASE_CONFIG), in this process and in
    the `dasa` processes they start; the sample's build (`sample_build`) uses reports/ itself."""
    import yaml

    from pipelines.paths import REPORTS_DIR

    (folder / "years").mkdir(parents=True)
    release = yaml.safe_load((REPORTS_DIR / "release.yaml").read_text(encoding="utf-8"))
    if "commentary" in release:
        release.pop("commentary")
        (folder / "release.yaml").write_text(yaml.safe_dump(release, sort_keys=False), encoding="utf-8")
    else:  # as it is, line for line
        shutil.copy(REPORTS_DIR / "release.yaml", folder / "release.yaml")
    for path in sorted((REPORTS_DIR / "years").glob("*.yaml")):
        year = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        year.pop("commentary", None)
        (folder / "years" / path.name).write_text(yaml.safe_dump(year, sort_keys=False), encoding="utf-8")
    return folder / "release.yaml"


os.environ["DASA_RELEASE_CONFIG"] = str(_config_without_commentary(_STATE / "reports"))

T = TypeVar("T")
QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


def build_warehouse(raw_dir: Path, db_path: Path, protection_width: int = 0) -> Path:
    """Run every asset but the release (ingest each year, then SQL and disclosure) in-process.

    The hand-made worlds built here have a few authorities: no pattern short of suppressing
    England keeps 5 values for every small count there, so they are protected against exact
    recovery only (protection width 0); the sample release is built with the full audit."""
    years = years_in(raw_dir)
    assets = build_assets(years)
    resources = {"dasa": DasaSettings(raw_dir=str(raw_dir), db_path=str(db_path), protection_width=protection_width,
                                       final=False)}
    instance = dg.DagsterInstance.ephemeral()
    dg.materialize(assets, selection=["raw_authority_returns", "raw_womens_aid", "raw_safelives"],
                   tags={"dagster/asset_partition_range_start": years[0],
                         "dagster/asset_partition_range_end": years[-1]},
                   resources=resources, instance=instance, run_config=QUIET)
    keys = [a.key.to_user_string() for a in assets if a.partitions_def is None]
    dg.materialize(assets, selection=keys, resources=resources, instance=instance, run_config=QUIET)
    warehouse.close_all()
    return db_path


def built_once_per_run(tmp_path_factory, name: str, build: Callable[[Path], T]) -> T:
    """What `build(folder)` makes in a new folder and returns, made once per test run: with
    pytest-xdist, the first worker that asks makes it (under a file lock) in the run's
    temporary folder, and the others read it (the value returned pickled beside it); without,
    in a folder of the session. A build that failed leaves no value, so the next asker builds
    again (and fails with its own error). What is built here is only read by the tests."""
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        return build(tmp_path_factory.mktemp(name))
    from filelock import FileLock

    root = tmp_path_factory.getbasetemp().parent  # the run's folder, shared by its workers
    folder, value = root / f"shared-{name}", root / f"shared-{name}.pickle"
    with FileLock(str(root / f"shared-{name}.lock")):
        if not value.exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            made = build(folder)
            value.write_bytes(pickle.dumps(made))
            return made
    return pickle.loads(value.read_bytes())


def _small_raw(folder: Path) -> Path:
    small_inputs.write_all(folder)
    return folder


@pytest.fixture(scope="session")
def small_raw(tmp_path_factory) -> Path:
    """The small hand-made raw folder (tests/fixtures/small_inputs.py), written once per run."""
    return built_once_per_run(tmp_path_factory, "small_raw", _small_raw)


@pytest.fixture(scope="session")
def small_db(small_raw, tmp_path_factory) -> Path:
    """The warehouse of the small raw folder (build_warehouse), built once per run."""
    return built_once_per_run(tmp_path_factory, "small_db", lambda tmp: build_warehouse(small_raw, tmp / "dasa.duckdb"))


def _sample_build(tmp: Path) -> tuple[Path, Path]:
    from pipelines.build import build_release
    from pipelines.paths import RAW_DIR

    out, db = tmp / "release", tmp / "dasa.duckdb"
    with pytest.MonkeyPatch.context() as mp:  # the project's own configuration, commentary and all
        mp.delenv("DASA_RELEASE_CONFIG")
        build_release(raw_dir=RAW_DIR, year="2024-25", out_dir=out, db_path=db,
                      instance=dg.DagsterInstance.ephemeral(), audit_dir=B.audit_root_beside(out))
    return out, db


@pytest.fixture(scope="session")
def sample_build(tmp_path_factory) -> tuple[Path, Path]:
    """The 2024-25 release of the bundled sample data, built once per run: (release folder, warehouse)."""
    return built_once_per_run(tmp_path_factory, "sample_release", _sample_build)


@pytest.fixture(scope="session")
def sample_release(sample_build) -> Path:
    return sample_build[0]


@pytest.fixture(scope="session")
def bad_release(small_raw, tmp_path_factory):
    """The 2024-25 release of the small raw folder with many bad and hostile inputs
    (tests/fixtures/bad_inputs.py, build_bad_release), built once per run: (release folder, result)."""
    from tests.fixtures import bad_inputs

    def build(tmp: Path):
        (tmp / "build").mkdir()
        (tmp / "audit").mkdir()
        return bad_inputs.build_bad_release(small_raw, tmp / "build", tmp / "audit")

    return built_once_per_run(tmp_path_factory, "bad_release", build)


@pytest.fixture()
def audit_root(tmp_path_factory) -> Path:
    """A restricted folder for the audit bundles of a test build: apart from the test's own
    tmp_path (a build refuses an audit folder beside its release folder), and never the
    project's data/processed/audit."""
    return tmp_path_factory.mktemp("audit")


@pytest.fixture()
def con(small_db):
    c = duckdb.connect(str(small_db), read_only=True)
    yield c
    c.close()


# --- how the tests are shared between pytest-xdist's workers ----------------------------------
# A file's tests run in one worker, one after another (its module fixtures, often a whole build
# or a copy of the project, are then made once, not once per worker), and the files are handed
# out heaviest first, so the last file to finish is a short one. The seconds are a file's own
# time, measured with -n 2 on a 2-core machine; a file not listed counts as light.
FILE_SECONDS = {
    "test_incremental_builds.py": 290, "test_build_faults.py": 190, "test_same_graph.py": 125,
    "test_next_year.py": 95, "test_quality_gates.py": 76, "test_secondary_suppression.py": 75,
    "test_revisions.py": 70, "test_provenance.py": 50, "test_release_end_to_end.py": 65,
    "test_extracts_at_scale.py": 44, "test_lp_attack_generated.py": 42, "test_validation_engines.py": 41,
    "test_new_measure.py": 40, "test_bad_inputs.py": 34, "test_preflight.py": 34, "test_dagster_storage.py": 31,
    "test_lp_attack.py": 27, "test_validation.py": 24, "test_trace.py": 15, "test_hostile_names.py": 17,
    "test_audit_location.py": 16, "test_sample_data.py": 14, "test_template_versions.py": 13,
    "test_public_files.py": 13,
}


def pytest_collection_modifyitems(config, items):
    """The heaviest files first (FILE_SECONDS); each file's tests in their own order."""
    def seconds(item) -> int:
        return FILE_SECONDS.get(item.path.name, 0)

    items.sort(key=lambda item: -seconds(item))  # a stable sort: the order within a file is kept


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """`pytest -n N` (the default `--dist load`) schedules by file, as `--dist loadfile` does;
    any other `--dist` asked for is left to pytest-xdist."""
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadFileScheduling

    return LoadFileScheduling(config, log)
