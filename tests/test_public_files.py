"""Everything in a release folder is public: nothing in it says by which rule a figure is
suppressed, since the rule of a [c] would tell an intruder which ones hide 1 to 4 people.
The rules are in the restricted audit bundle only, where `dasa trace` reads them.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import polars as pl
import pytest

from pipelines import disclosure, provenance
from pipelines.cli import main
from tests.fixtures import builders as B
from tests.fixtures.public_text import RULE_WORDS, rules_beside_figure_ids, texts


def _figures(release: Path) -> list[dict[str, str]]:
    with (release / "data" / "figures.csv").open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def log(sample_build) -> pl.DataFrame:
    release, _ = sample_build
    return pl.read_parquet(B.audit_bundle_of(release, "2024-25") / provenance.SUPPRESSION_LOG_FILE)


def test_the_suppression_log_is_in_the_audit_bundle_not_in_the_release(sample_build, log):
    release, _ = sample_build
    assert not [p for p in release.rglob("*") if "suppression_log" in p.name]
    assert "suppression_log" not in (release / "data" / "metadata.csv").read_text(encoding="utf-8")
    suppressed = {f["figure_id"] for f in _figures(release) if f["value_status"] == "suppressed"}
    assert suppressed and set(log["figure_id"].to_list()) == suppressed
    assert set(log.columns) == set(disclosure.LOG_COLUMNS)
    readme = (B.audit_bundle_of(release, "2024-25") / "README.txt").read_text(encoding="utf-8")
    assert provenance.SUPPRESSION_LOG_FILE in readme


def test_no_public_file_carries_the_rule_of_a_figure(sample_build, log):
    release, _ = sample_build
    rules = set(log["rule"].to_list())
    assert {disclosure.PRIMARY_COUNT, disclosure.SECONDARY} <= rules  # the sample has both to hide
    assert len(list(texts(release))) > 20
    assert rules_beside_figure_ids(release) == []


def test_a_suppressed_figure_is_only_said_to_be_suppressed(sample_build, log):
    release, _ = sample_build
    _, fams = provenance.load_public(release)
    entries = {fid: e for doc in fams.values() for fid, e in doc["figures"].items()}
    for fid in log["figure_id"].to_list():
        assert entries[fid]["status"] == entries[fid]["disclosure"] == "suppressed", fid
        assert set(entries[fid]) <= {"denominator", "derived_from", "disclosure", "numerator", "status"}, fid


def test_dasa_trace_gives_the_rule_only_with_the_audit_bundle(sample_build, log, tmp_path, capsys):
    release, _ = sample_build
    primary = log.filter(pl.col("rule") == disclosure.PRIMARY_COUNT).row(0, named=True)
    secondary = log.filter(pl.col("rule") == disclosure.SECONDARY).row(0, named=True)
    copy = tmp_path / "copy"  # a published copy: no audit bundle beside it
    shutil.copytree(release, copy)
    for r in (primary, secondary):
        # a reader of the copy has no audit bundle (not even the project's own default one)
        assert main(["trace", r["figure_id"], "--release", str(copy), "--audit-dir", str(tmp_path / "none")]) == 0
        public = capsys.readouterr().out
        assert "suppressed [c] by disclosure control" in public
        assert not RULE_WORDS.search(public), public

        assert main(["trace", r["figure_id"], "--release", str(release),
                     "--audit-dir", str(B.audit_root_beside(release))]) == 0
        full = capsys.readouterr().out
        assert f"Suppression rule (restricted): {r['rule']}" in full
    assert f"protects {secondary['protects'].split(';')[0]}" in full


def test_no_public_file_quotes_what_a_cell_holds(bad_release, tmp_path):
    """A message quoting a cell (a count typed as text, the parts of a consistency warning)
    would publish a true count that no figure shows: the release names the check and the
    cell, and the value goes only to the authority's query list."""
    from tests.fixtures import bad_inputs as BI

    release, _ = bad_release
    found = [(name, quote) for name, text in texts(release) for quote in BI.VALUE_QUOTES if quote in text]
    assert found == []
    with (release / "data" / "issues.csv").open(encoding="utf-8", newline="") as f:
        issues = {(r["sheet"], r["location"], r["code"]): r["message"] for r in csv.DictReader(f)
                  if r["file"].endswith("free_text.xlsx")}
    assert issues[("unable_to_support", "B2", "bad_count")].startswith("Failed the check: Count cells hold")
    assert issues[("supported", "H2", "outside_area_above_individuals")].startswith("Failed the check: People from")
    # the validation suites' failures name the rule and the rows, not the values found
    with (release / "data" / "validation_results.csv").open(encoding="utf-8", newline="") as f:
        details = [r["details"] for r in csv.DictReader(f)]
    pair = [d for d in details if d.startswith("from_outside_area is at most the individuals")]
    assert pair and "free_text.xlsx" in pair[0] and pair[0].endswith("values withheld in the published report")
    assert not [d for d in details if "values: " in d or "observed " in d]
    # the query list of the authority has both, as the readers wrote them
    raw = Path(release).parent / "raw"
    assert main(["check", "--raw-dir", str(raw), "--year", "2024-25", "--out", str(tmp_path / "q")]) in (0, 1)
    lists = "".join(p.read_text(encoding="utf-8") for p in (tmp_path / "q").glob("E06000003*.csv"))
    assert all(quote in lists for quote in BI.VALUE_QUOTES)
