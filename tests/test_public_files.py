"""Everything in a release folder is public: nothing in it says by which rule a figure is
suppressed, since the rule of a [c] would tell an intruder which ones hide 1 to 4 people.
The rules are in the restricted audit bundle only, where `dasa trace` reads them.
"""

from __future__ import annotations

import csv
import re
import shutil
import zipfile
from pathlib import Path

import polars as pl
import pytest

from pipelines import disclosure, provenance
from pipelines.cli import main

FIGURE_ID = re.compile(r"[a-z0-9_]+\.[a-z0-9_]+\.[A-Z]\d{8}\.\d{4}-\d{2}")
RULE_TEXTS = (disclosure.PRIMARY_COUNT, disclosure.PRIMARY_NUMERATOR, disclosure.PRIMARY_DENOMINATOR,
              disclosure.CHANGE, disclosure.CARRIED)
RULE_WORDS = re.compile(r"primary|secondary|carried", re.I)
NEAR = 300  # characters either side of a rule word in which no figure id may appear


def _figures(release: Path) -> list[dict[str, str]]:
    with (release / "data" / "figures.csv").open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _texts(release: Path):
    """(name, text) of every file of the release; a spreadsheet gives each of its XML parts."""
    for p in sorted(release.rglob("*")):
        if not p.is_file():
            continue
        name = p.relative_to(release).as_posix()
        if p.suffix in (".xlsx", ".ods"):
            with zipfile.ZipFile(p) as z:
                for part in z.namelist():
                    yield f"{name}:{part}", z.read(part).decode("utf-8", errors="replace")
        elif p.suffix != ".js":  # the bundled plotly.min.js holds no figure
            yield name, p.read_text(encoding="utf-8", errors="replace")


@pytest.fixture(scope="module")
def log(sample_build) -> pl.DataFrame:
    release, _ = sample_build
    return pl.read_parquet(provenance.audit_dir_for(release) / provenance.SUPPRESSION_LOG_FILE)


def test_the_suppression_log_is_in_the_audit_bundle_not_in_the_release(sample_build, log):
    release, _ = sample_build
    assert not [p for p in release.rglob("*") if "suppression_log" in p.name]
    assert "suppression_log" not in (release / "data" / "metadata.csv").read_text(encoding="utf-8")
    suppressed = {f["figure_id"] for f in _figures(release) if f["value_status"] == "suppressed"}
    assert suppressed and set(log["figure_id"].to_list()) == suppressed
    assert set(log.columns) == set(disclosure.LOG_COLUMNS)
    readme = (provenance.audit_dir_for(release) / "README.txt").read_text(encoding="utf-8")
    assert provenance.SUPPRESSION_LOG_FILE in readme


def test_no_public_file_carries_the_rule_of_a_figure(sample_build, log):
    release, _ = sample_build
    rules = set(log["rule"].to_list())
    assert {disclosure.PRIMARY_COUNT, disclosure.SECONDARY} <= rules  # the sample has both to hide
    checked = 0
    for name, text in _texts(release):
        checked += 1
        for rule in RULE_TEXTS:
            assert rule not in text, (name, rule)
        assert "primary:" not in text.lower(), name
        for m in RULE_WORDS.finditer(text):
            near = text[max(0, m.start() - NEAR):m.end() + NEAR]
            assert not FIGURE_ID.search(near), (name, near)
    assert checked > 20


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
        assert main(["trace", r["figure_id"], "--release", str(copy)]) == 0
        public = capsys.readouterr().out
        assert "suppressed [c] by disclosure control" in public
        assert not RULE_WORDS.search(public), public

        assert main(["trace", r["figure_id"], "--release", str(release)]) == 0
        full = capsys.readouterr().out
        assert f"Suppression rule (restricted): {r['rule']}" in full
    assert f"protects {secondary['protects'].split(';')[0]}" in full
