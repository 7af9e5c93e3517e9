"""Before any work, every command says what it lacks: one sentence per missing or inconsistent
prerequisite, exit 2, no traceback, nothing written (pipelines/preflight.py).

Each case is run as a user runs it, `python -m pipelines.cli ...`, for `dasa check` and
`dasa release` alike."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.paths import PROJECT_DIR, RAW_DIR, REFERENCE_DIR

YEAR = "2024-25"
ONE_RETURN = next((RAW_DIR / YEAR / "authority_returns").glob("E06000001_*.xlsx"))


def _dasa(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipelines.cli", *args], cwd=PROJECT_DIR, capture_output=True,
                          text=True, timeout=300)


def _raw_with_one_return(root: Path, year: str = YEAR) -> Path:
    raw = root / "raw"
    (raw / year / "authority_returns").mkdir(parents=True)
    shutil.copy(ONE_RETURN, raw / year / "authority_returns" / ONE_RETURN.name)
    return raw


def _missing(tmp: Path):
    """(name, raw folder, extra options, the sentence's words) for each missing prerequisite."""
    raw_ok = _raw_with_one_return(tmp / "ok")
    empty = tmp / "empty" / "raw"
    (empty / "2025-26" / "authority_returns").mkdir(parents=True)
    (tmp / "no_years" / "raw" / "notes").mkdir(parents=True)
    old = _raw_with_one_return(tmp / "old", "2019-20")
    partial_ref = tmp / "reference"
    shutil.copytree(REFERENCE_DIR, partial_ref)
    (partial_ref / "population.csv").unlink()
    return [
        ("no raw folder", tmp / "nowhere", [], ["The raw folder", "does not exist", "dasa new-year"]),
        ("no year folder", tmp / "no_years" / "raw", [], ["holds no financial-year folder (named like 2024-25)"]),
        ("no folder for the year", raw_ok, ["--year", "2023-24"],
         ["has no folder for 2023-24 (it has 2024-25)", f"'dasa new-year 2023-24 --raw-dir {raw_ok}'"]),
        ("an empty year folder", empty, [], ["The 2025-26 folder", "holds no input yet",
                                             "put the authority returns in"]),
        ("no geography or population", old, [],
         ["no Tier 1 authority list for 2019-20, nor for any year before it",
          "no population estimate for mid-2019 or any earlier year"]),
        ("a reference folder lacking a file", raw_ok, ["--reference-dir", str(partial_ref)],
         ["The reference folder", "lacks population.csv"]),
        ("a reference folder that is not there", raw_ok, ["--reference-dir", str(tmp / "no_reference")],
         ["The reference folder", "does not exist", "--reference-dir"]),
    ]


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    return _missing(tmp_path_factory.mktemp("preflight"))


@pytest.mark.parametrize("command", ["check", "release"])
@pytest.mark.parametrize("case", range(7))
def test_every_command_names_each_missing_prerequisite(cases, command, case, tmp_path):
    name, raw, extra, words = cases[case]
    before = sorted(p.relative_to(raw) for p in raw.rglob("*")) if raw.is_dir() else None
    out = ["--out", str(tmp_path / "queries")] if command == "check" else ["--out-dir", str(tmp_path / "site" / "x")]
    done = _dasa(command, "--raw-dir", str(raw), *out, *extra, "--wait", "0")
    assert done.returncode == 2, (name, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr + done.stdout, name
    for w in words:
        assert w in done.stderr, (name, w, done.stderr)
    assert all(line.startswith("dasa: ") for line in done.stderr.splitlines()), done.stderr
    assert not (tmp_path / "site").exists() and not (tmp_path / "queries").exists(), name
    if before is not None:  # the raw folder is never written
        assert sorted(p.relative_to(raw) for p in raw.rglob("*")) == before


@pytest.mark.parametrize("option", ["--out-dir", "--audit-dir"])
def test_release_refuses_to_write_into_the_raw_folder(tmp_path, option):
    raw = _raw_with_one_return(tmp_path)
    inside = raw / YEAR / "site"
    args = [option, str(inside)] + (["--out-dir", str(tmp_path / "site" / YEAR)] if option == "--audit-dir" else [])
    done = _dasa("release", "--raw-dir", str(raw), *args, "--wait", "0")
    assert done.returncode == 2, done.stderr
    assert f"{option} {inside} is inside the raw folder {raw}" in done.stderr
    assert "Traceback" not in done.stderr
    assert not inside.exists()


def test_check_refuses_query_lists_inside_the_raw_folder(tmp_path):
    raw = _raw_with_one_return(tmp_path)
    done = _dasa("check", "--raw-dir", str(raw), "--out", str(raw / YEAR / "queries"), "--wait", "0")
    assert done.returncode == 2 and "is inside the raw folder" in done.stderr, done.stderr
    assert not (raw / YEAR / "queries").exists()


def test_an_output_folder_above_the_raw_folder_is_refused(tmp_path):
    raw = _raw_with_one_return(tmp_path / "project")
    done = _dasa("release", "--raw-dir", str(raw), "--out-dir", str(tmp_path), "--wait", "0")
    assert done.returncode == 2 and "holds the raw folder" in done.stderr, done.stderr


def test_several_problems_are_each_one_sentence(tmp_path):
    raw = _raw_with_one_return(tmp_path, "2019-20")
    done = _dasa("release", "--raw-dir", str(raw), "--out-dir", str(raw / "site"), "--wait", "0")
    lines = done.stderr.splitlines()
    assert done.returncode == 2 and len(lines) == 3, done.stderr  # geography, population, the out-dir


def test_a_broken_template_file_is_one_sentence_not_a_traceback(tmp_path):
    from tests.fixtures.project_copy import copy_project, dasa, environment

    proj = copy_project(tmp_path)
    template = proj / "assets" / "templates" / "v1.yaml"
    lines = template.read_text(encoding="utf-8").count("\n")
    template.write_text(template.read_text(encoding="utf-8") + "sheeets: []\n", encoding="utf-8")
    env = environment(proj, tmp_path / "state")
    for command in (["check"], ["release"]):
        done = dasa(proj, env, *command, "--wait", "0")
        assert done.returncode == 2, done.stdout + done.stderr
        assert "Traceback" not in done.stderr
        assert done.stderr.startswith(f"dasa: {template}, line {lines + 1}: unknown key 'sheeets'"), done.stderr


def test_the_dagster_definitions_load_only_with_their_prerequisites(tmp_path):
    """`make dev` loads pipelines.definitions: a missing prerequisite stops it with the sentence."""
    import os

    env = {**os.environ, "DASA_REFERENCE_DIR": str(tmp_path / "no_reference")}
    done = subprocess.run([sys.executable, "-c", "import pipelines.definitions"], cwd=PROJECT_DIR, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert (f"PreflightError: The reference folder {tmp_path / 'no_reference'} does not exist"
            in done.stderr.splitlines()[-1])


@pytest.mark.parametrize("value", ["lots", "2 gigs", "-1GB"])
def test_a_memory_limit_duckdb_would_refuse_is_one_sentence(tmp_path, value):
    env = {**os.environ, "DASA_DUCKDB_MEMORY_LIMIT": value, "DASA_STATE_DIR": str(tmp_path / "state")}
    for command in (["check"], ["release"]):
        done = subprocess.run([sys.executable, "-m", "pipelines.cli", *command, "--wait", "0"], cwd=PROJECT_DIR,
                              env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert done.stderr == (f"dasa: $DASA_DUCKDB_MEMORY_LIMIT is {value!r}, which is not an amount of memory: give "
                               "a number and a unit, such as 2GB or 512MB (or unset it for the default, 2GB)\n")
    assert not (tmp_path / "state").exists()  # told before any work


def test_a_warehouse_reset_removes_what_duckdb_spilled(tmp_path):
    from pipelines import buildstate, warehouse

    db = tmp_path / "dasa.duckdb"
    with warehouse.connect(db) as con:
        settings = dict(con.execute("SELECT current_setting('temp_directory'), current_setting('memory_limit')"
                                    ).fetchall())
    warehouse.close_all()
    assert warehouse.spill_dir(db) == tmp_path / "dasa.duckdb.tmp"
    assert settings == {str(tmp_path / "dasa.duckdb.tmp"): "1.8 GiB"}  # DuckDB's way of writing 2GB
    spilled = warehouse.spill_dir(db) / "duckdb_temp_storage-0.tmp"  # as a killed build leaves it
    spilled.parent.mkdir()
    spilled.write_bytes(b"x")
    buildstate.reset_warehouse(db)
    assert not db.exists() and not warehouse.spill_dir(db).exists()
