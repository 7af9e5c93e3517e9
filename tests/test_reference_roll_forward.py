"""Reference data that rolls forward: a year the Tier 1 list does not hold carries forward the
last year it does, changed by the reorganisations in between; `--reference-dir` brings another
reference folder; the check says what it assumed."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import duckdb
import pytest

from pipelines import reference
from pipelines.cli import main
from pipelines.paths import RAW_DIR, REFERENCE_DIR


def _tier1(path: Path, year: str) -> dict[str, tuple]:
    with path.open(encoding="utf-8", newline="") as f:
        return {r["gss_code"]: (r["name"], r["la_type"], r["region_code"], r["region_name"])
                for r in csv.DictReader(f) if r["financial_year"] == year}


@pytest.fixture
def reference_without(tmp_path, monkeypatch):
    """A copy of the reference folder whose Tier 1 list stops at 2022-23, in use."""
    folder = tmp_path / "reference"
    shutil.copytree(REFERENCE_DIR, folder)
    src = REFERENCE_DIR / "tier1_by_financial_year.csv"
    lines = src.read_text(encoding="utf-8").splitlines(keepends=True)
    (folder / src.name).write_text("".join(x for x in lines if not x.startswith(("2023-24", "2024-25"))),
                                   encoding="utf-8")
    monkeypatch.setenv(reference.REFERENCE_ENV, str(folder))
    return folder


def test_a_year_without_a_list_carries_the_last_one_forward_through_the_reorganisations(reference_without):
    # Cumbria, North Yorkshire and Somerset were reorganised on 1 April 2023 (reorganisations.csv)
    got = {r["gss_code"]: (r["name"], r["la_type"], r["region_code"], r["region_name"])
           for r in reference.tier1_rows("2023-24")}
    assert got == _tier1(REFERENCE_DIR / "tier1_by_financial_year.csv", "2023-24")
    assert "E10000006" not in got and {"E06000063", "E06000064"} <= set(got)
    assert reference.carried_from("2023-24") == "2022-23"
    assert reference.carried_from("2022-23") is None
    sentence = reference.tier1_assumption("2024-25")
    assert sentence is not None and "the 2022-23 list is carried forward (121 authorities" in sentence
    assert "E10000006, E10000023, E10000027 replaced by E06000063, E06000064, E06000065, E06000066" in sentence


def test_the_warehouse_holds_the_carried_forward_years(reference_without):
    con = duckdb.connect()
    reference.load_reference(con, ["2022-23", "2025-26"])
    counts = dict(con.execute("SELECT financial_year, count(*) FROM ref_tier1_by_financial_year GROUP BY 1").fetchall())
    assert counts == {"2021-22": 120, "2022-23": 120, "2025-26": 121}


def test_no_earlier_year_means_no_list():
    assert reference.carried_from("2019-20") is None
    assert reference.tier1_rows("2019-20") == ()


def test_population_beyond_the_latest_estimate_says_so():
    sentences = reference.assumptions(["2021-22", "2025-26"])
    assert "No ONS population estimate for mid-2025 is held: 2025-26 uses mid-2022, the latest." in sentences
    assert not any("2021-22" in s for s in sentences)  # mid-2021 is held


def test_check_of_a_new_year_expects_the_carried_forward_authorities(tmp_path, capsys, monkeypatch):
    """A copy of 2024-25 as 2025-26: 121 returns expected (not 0), each set aside for the
    year its about sheet gives, with the assumption printed as a warning."""
    raw = tmp_path / "raw"
    shutil.copytree(RAW_DIR / "2024-25", raw / "2025-26", ignore=shutil.ignore_patterns("decisions.yaml"))
    monkeypatch.setenv(reference.REFERENCE_ENV, str(REFERENCE_DIR))  # undone after the test (main sets it)
    code = main(["check", "--raw-dir", str(raw), "--out", str(tmp_path / "queries"), "--wait", "0",
                 "--reference-dir", str(REFERENCE_DIR)])
    out = capsys.readouterr().out
    assert code == 1
    assert ("warning (reference data): The reference data has no Tier 1 authority list for 2025-26: the 2024-25 "
            "list is carried forward (121 authorities).") in out
    assert "returns received: 0 of 121 expected" in out
    assert "says financial_year 2024-25 but is in the 2025-26 folder" in out
    assert "not a Tier 1 authority" not in out
