"""A folder whose name holds `*`, `?` or `[` is read as that folder, never as a pattern.

DuckDB's readers and polars' take such a path as a glob: a raw, reference or release folder
named `d*ir` would also read (or clear) what sits in `dAir`. Each test puts a decoy beside the
folder that the name matches as a pattern, shows that a naive read does reach the decoy, and
then that the pipeline reads (or removes) only what is its own.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines import buildstate, reference
from pipelines.paths import REFERENCE_DIR
from pipelines.safe_paths import duckdb_file

NAMES = ["d*ir", "d?ir", "d[ab]ir", "[x]*?"]
DECOY = {"d*ir": "dAir", "d?ir": "dBir", "d[ab]ir": "dair", "[x]*?": "xyz"}


@pytest.mark.parametrize("name", NAMES)
def test_duckdb_reads_the_one_file_a_path_names(tmp_path, name):
    own, decoy = tmp_path / name / "f.parquet", tmp_path / DECOY[name] / "f.parquet"
    for path, values in ((own, [1]), (decoy, [2, 3])):
        path.parent.mkdir()
        pl.DataFrame({"a": values}).write_parquet(path)
    con = duckdb.connect()
    # the name as a pattern reaches the decoy (and, with a class like [ab], misses the folder itself)
    assert {2, 3} <= {r[0] for r in con.execute("select a from read_parquet(?)", [str(own)]).fetchall()}
    assert con.execute("select a from read_parquet(?)", [duckdb_file(own)]).fetchall() == [(1,)]
    assert {r[0] for r in con.execute("select file_name from parquet_schema(?)", [duckdb_file(own)]).fetchall()} \
        == {str(own)}


def _csv_rows(path: Path) -> int:
    with path.open(encoding="utf-8", newline="") as f:
        return sum(1 for _ in csv.DictReader(f))


def test_a_reference_folder_named_like_a_pattern_loads_its_own_files(tmp_path, monkeypatch):
    own, decoy = tmp_path / "ref*", tmp_path / "refX"
    shutil.copytree(REFERENCE_DIR, own)
    shutil.copytree(REFERENCE_DIR, decoy)  # the same files twice: a pattern would read each twice
    monkeypatch.setenv(reference.REFERENCE_ENV, str(own))
    con = duckdb.connect()
    reference.load_reference(con)
    for table, file in reference.REFERENCE_TABLES.items():
        if table == "ref_tier1_by_financial_year":
            continue  # it may hold carried-forward years besides the file's rows
        got = con.execute(f'select count(*) from "{table}"').fetchone()
        assert got is not None and got[0] == _csv_rows(own / file), table


def test_leftovers_of_a_release_named_like_a_pattern_are_its_own_only(tmp_path):
    target = tmp_path / "rel*"
    target.mkdir()
    own_building = tmp_path / ".rel*.building-1"
    other_building, other_old = tmp_path / ".relX.building-1", tmp_path / ".relX.old-1"
    for folder in (own_building, other_building, other_old):
        folder.mkdir()
    done = buildstate.leftovers_beside(target)
    assert done == [f"removed {own_building}"]
    assert other_building.is_dir() and other_old.is_dir() and target.is_dir()


@pytest.mark.parametrize("engine", ["duckdb", "polars"])
def test_a_raw_folder_named_like_a_pattern_reads_its_own_referrals_parquet(tmp_path, engine):
    from pipelines import schemas
    from pipelines.ingest import extracts

    year = "2024-25"
    sample = pl.read_csv(Path(__file__).resolve().parent.parent / "data/raw" / year / "womens_aid/referrals.csv",
                         infer_schema=False).head(50).with_columns(pl.col("children").cast(pl.Int64))
    own, decoy = tmp_path / "r*w", tmp_path / "rAw"
    for raw, frame in ((own, sample.head(20)), (decoy, sample)):
        folder = raw / year / "womens_aid"
        folder.mkdir(parents=True)
        frame.write_parquet(folder / "referrals.parquet")
    # the name as a pattern reads the decoy's records too
    naive = duckdb.connect().execute("select count(*) from read_parquet(?)",
                                     [str(own / year / "womens_aid/referrals.parquet")]).fetchone()
    assert naive is not None and naive[0] == 70
    read = extracts.read_extract(own, year, schemas.REFERRALS, engine=engine)
    assert read.status == "ok", read.issues
    assert read.frame["referral_id"].to_list() == sample.head(20)["referral_id"].to_list()
