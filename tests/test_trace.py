"""`dasa trace` for people: the figure's name, value as published and status first; a summary of
at most 40 lines (`--full` for every unit and cell); the release found without `--release`;
a change figure followed down to the inputs of both years, its unrounded value in the audit
bundle. The sample release is built once (tests/conftest.py, `sample_build`)."""

from __future__ import annotations

import csv
import json
import shutil
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import polars as pl
import pytest

from pipelines import paths, provenance, trace
from pipelines.cli import main
from pipelines.release.model import with_commas
from tests.fixtures import builders as B

YEAR = "2024-25"
ENGLAND = f"turned_away_rate.all.E92000001.{YEAR}"
CHANGE = f"households_supported_change.all.E92000001.{YEAR}"


@pytest.fixture(scope="session")
def figures(sample_release) -> dict[str, dict[str, str]]:
    with (sample_release / "data" / "figures.csv").open(encoding="utf-8", newline="") as f:
        return {r["figure_id"]: r for r in csv.DictReader(f)}


@pytest.fixture(scope="session")
def audit_figures(sample_release) -> pl.DataFrame:
    return pl.read_parquet(B.audit_bundle_of(sample_release, YEAR) / "figures.parquet")


@pytest.fixture(scope="session")
def index(sample_release) -> dict:
    return json.loads((sample_release / provenance.INDEX_FILE).read_text(encoding="utf-8"))


def _trace(capsys, release: Path, *args: str) -> tuple[int, list[str], str]:
    code = main(["trace", *args, "--release", str(release), "--audit-dir", str(B.audit_root_beside(release))])
    out = capsys.readouterr()
    return code, out.out.splitlines(), out.err


def test_the_summary_of_an_england_figure_starts_with_its_name_value_and_status_in_at_most_40_lines(
        sample_release, figures, audit_figures, index, capsys):
    code, lines, _ = _trace(capsys, sample_release, ENGLAND)
    assert code == 0 and len(lines) <= 40, "\n".join(lines)
    row = figures[ENGLAND]
    assert lines[0] == f"Percentage of households turned away, England, {YEAR}"
    assert lines[1].startswith(f"Value as published: {with_commas(row['value'])}% (numerator "
                               f"{with_commas(row['numerator'])}, denominator {with_commas(row['denominator'])}")
    assert lines[2] == "Status: published" and lines[3] == f"Figure id: {ENGLAND}"
    assert lines[4] == f"Read from the {YEAR} release ({sample_release})."
    text = "\n".join(lines)
    n = len(index["workbooks"][YEAR])
    # the chain with its counts, the input files summarised, the restricted values summarised
    assert f"Numerator: {n} authorities, " in text and f"cells in {n} workbooks" in text
    assert f"Input files ({n}): {n} authority return workbooks of {YEAR}" in text
    u = audit_figures.filter(pl.col("figure_id") == ENGLAND).row(0, named=True)
    assert f"Unrounded (restricted): numerator {int(u['numerator']):,}" in text
    assert "Numerator by unit (restricted)" in text and "!B" not in text and "SHA-256 " + "0" * 4 not in text

    code, full, _ = _trace(capsys, sample_release, ENGLAND, "--full")
    assert code == 0 and full[:4] == lines[:4] and len(full) > 1000
    wb = index["workbooks"][YEAR]["E06000001"]
    assert any(line.strip().startswith(f"{wb}  SHA-256 {index['inputs'][wb]['sha256']}") for line in full)
    assert any("unable_to_support!B2" in line for line in full)


@pytest.mark.parametrize("figure_id", [
    f"turned_away_rate.all.E06000002.{YEAR}",  # an authority figure: its own cells
    f"households_supported.all.E12000007.{YEAR}",  # a region
    f"marac_cases_per_10000_women.all.E92000001.{YEAR}",  # police force areas
    f"refuge_referral_rejection_rate.alcohol.E92000001.{YEAR}",  # referrals, counted per region
    f"refuge_bedspaces.all.E06000002.{YEAR}",  # an authority figure of the services extract
    f"turned_away_rate_change.all.E06000002.{YEAR}",  # an authority's change
    "households_supported_change_percent.all.E92000001.2022-23",  # an earlier year's percentage change
])
def test_every_summary_is_at_most_40_lines_and_starts_with_the_name(sample_release, figures, figure_id, capsys):
    assert figure_id in figures
    code, lines, err = _trace(capsys, sample_release, figure_id)
    assert code == 0, err
    assert len(lines) <= 40, "\n".join(lines)
    assert lines[0] == trace.figure_name(figure_id, figures[figure_id]) and figures[figure_id]["geography_name"] in lines[0]
    assert lines[2].startswith(f"Status: {figures[figure_id]['value_status']}")


def test_a_suppressed_figure_says_its_symbol_and_a_long_list_is_shortened(sample_release, figures, capsys):
    log = pl.read_parquet(B.audit_bundle_of(sample_release, YEAR) / provenance.SUPPRESSION_LOG_FILE)
    most = log.with_columns(pl.col("protects").str.count_matches(";").alias("n")).sort("n", descending=True)
    fid = most["figure_id"][0]
    code, lines, _ = _trace(capsys, sample_release, fid)
    assert code == 0 and len(lines) <= 40, "\n".join(lines)
    assert lines[1] == "Value as published: [c]" and lines[2] == "Status: suppressed (confidential, suppressed)"


def _releases(tmp_path: Path, sample_release: Path) -> Path:
    """A releases folder: the sample release as 2024-25; a 2023-24 release that holds an
    earlier figure too; a 2025-26 folder that was never completed (no provenance.json)."""
    root = tmp_path / "releases"
    root.mkdir()
    (root / YEAR).symlink_to(sample_release, target_is_directory=True)
    older = root / "2023-24"
    (older / "data").mkdir(parents=True)
    shutil.copy(sample_release / provenance.INDEX_FILE, older / provenance.INDEX_FILE)
    lines = (sample_release / "data" / "figures.csv").read_text(encoding="utf-8").splitlines()
    (older / "data" / "figures.csv").write_text("\n".join([lines[0]] + [x for x in lines if ".2022-23," in x]) + "\n",
                                                encoding="utf-8")
    (root / "2025-26" / "data").mkdir(parents=True)
    return root


def test_an_earlier_years_figure_is_traced_in_the_latest_release_that_holds_it(
        sample_release, figures, monkeypatch, tmp_path, capsys):
    root = _releases(tmp_path, sample_release)
    monkeypatch.setattr(paths, "RELEASES_DIR", root)
    fid = "turned_away_rate.all.E92000001.2022-23"
    assert fid in figures
    assert trace.find_release(fid, root) == (root / YEAR, [root / YEAR, root / "2023-24"])
    assert main(["trace", fid, "--audit-dir", str(B.audit_root_beside(sample_release))]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Percentage of households turned away, England, 2022-23"
    assert lines[4] == f"Read from the {YEAR} release ({root / YEAR}), the latest release that holds this figure."
    # the audit bundle is that release's year's
    assert lines[5].startswith(f"Summary, with restricted values from the audit bundle "
                               f"{B.audit_bundle_of(sample_release, YEAR).resolve()}")
    assert any(line.startswith("Unrounded (restricted): numerator ") for line in lines)

    # --year: that release (here one not built)
    assert main(["trace", fid, "--year", "2021-22"]) == 2
    err = capsys.readouterr().err
    assert "no release folder" in err and "2021-22" in err


def test_an_id_in_no_release_is_one_sentence(sample_release, monkeypatch, tmp_path, capsys):
    root = _releases(tmp_path, sample_release)
    monkeypatch.setattr(paths, "RELEASES_DIR", root)
    assert main(["trace", f"households_suported.all.E12000001.{YEAR}"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "no release in" in err and f"({YEAR}, 2023-24)" in err
    assert f"households_supported.all.E12000001.{YEAR}" in err  # the close id
    monkeypatch.setattr(paths, "RELEASES_DIR", tmp_path / "none")
    assert main(["trace", f"households_supported.all.E12000001.{YEAR}"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "there is no release in" in err


def test_a_change_figure_chains_down_to_the_inputs_of_both_years(sample_release, figures, audit_figures, index,
                                                                 capsys):
    code, lines, _ = _trace(capsys, sample_release, CHANGE)
    assert code == 0 and len(lines) <= 40, "\n".join(lines)
    assert lines[0] == f"Households supported: change on previous year, England, {YEAR}"
    assert lines[1] == f"Value as published: {with_commas(figures[CHANGE]['value'])} households"
    text = "\n".join(lines)
    now, before = f"households_supported.all.E92000001.{YEAR}", "households_supported.all.E92000001.2023-24"
    assert f"    {now}: Households supported, England, {YEAR}: {with_commas(figures[now]['value'])} households" in text
    assert f"    {before}: Households supported, England, 2023-24" in text
    assert "difference of the published (rounded) figures of both years" in text
    for year in (YEAR, "2023-24"):
        n = len(index["workbooks"][year])
        assert f"{year} numerator: {n} authorities, " in text and f"{year} input files ({n})" in text
        assert f"{year} numerator by unit (restricted): {n} unit(s)" in text
    v = audit_figures.filter(pl.col("figure_id") == CHANGE).row(0, named=True)
    assert f"Unrounded (restricted): value {int(v['value']):,}, the change of {provenance.CHANGE_OF_PUBLISHED}" in text

    code, full, _ = _trace(capsys, sample_release, CHANGE, "--full")
    text = "\n".join(full)
    for year in (YEAR, "2023-24"):  # every input file of both years, with its SHA-256
        for wb in index["workbooks"][year].values():
            assert f"    {wb}  SHA-256 {index['inputs'][wb]['sha256']}" in text
    assert f"{YEAR} numerator by unit, with cell values (restricted)" in text
    assert "2023-24 numerator by unit, with cell values (restricted)" in text


def _half_up(x: float, places: int) -> Decimal:
    return Decimal(repr(x)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def test_the_audit_bundle_holds_the_unrounded_value_of_every_change_figure(figures, audit_figures):
    a = {r["figure_id"]: r for r in audit_figures.iter_rows(named=True)}
    checked = {"published": 0, "unrounded": 0, "percent": 0}
    for fid, row in figures.items():
        measure, breakdown, code, year = fid.split(".")
        base, suffix = trace.base_of(measure)
        if not suffix:
            assert a[fid]["change_of"] is None
            continue
        got = a[fid]
        assert got["numerator"] is None and got["denominator"] is None
        assert got["change_of"] in (provenance.CHANGE_OF_PUBLISHED, provenance.CHANGE_OF_UNROUNDED), fid
        if row["value_status"] in ("break_in_series", "not_available"):
            assert got["value"] is None, fid
            continue
        if row["value_status"] not in ("published", "rounded"):
            continue
        # the published change is its unrounded value rounded like any figure
        assert got["value"] is not None, fid
        places = len(row["value"].partition(".")[2])
        assert _half_up(got["value"], places) == Decimal(row["value"]), fid
        now, before = f"{base}.{breakdown}.{code}.{year}", f"{base}.{breakdown}.{code}.{int(year[:4]) - 1}-{year[2:4]}"
        if suffix == "_change_percent":
            checked["percent"] += 1
        elif got["change_of"] == provenance.CHANGE_OF_PUBLISHED:
            # at England and regional level: the difference of the published figures, exactly
            assert got["value"] == pytest.approx(float(figures[now]["value"]) - float(figures[before]["value"]),
                                                 abs=1e-9), fid
            checked["published"] += 1
        else:
            # elsewhere: the difference of the unrounded values
            assert got["value"] == pytest.approx(a[now]["value"] - a[before]["value"], rel=1e-9, abs=1e-9), fid
            checked["unrounded"] += 1
    assert min(checked.values()) > 100, checked


def test_the_trace_page_of_a_figure_starts_with_its_name_value_and_status(sample_release, figures):
    page = (sample_release / "trace" / "turned_away_rate_england.html").read_text(encoding="utf-8")
    sections = {s.split('"')[3]: s for s in page.split("<section")[1:]}
    england = sections[ENGLAND]
    assert f"<h2 id=\"h-{ENGLAND}\">Percentage of households turned away, England, {YEAR}</h2>" in england
    value = f"<dt>Value as published</dt>\n<dd>{with_commas(figures[ENGLAND]['value'])}%"
    assert england.index(value) < england.index("<dt>Status</dt>\n<dd>published</dd>") < england.index("Metric")
    change = next(s for fid, s in sections.items() if "_change." in fid)
    assert "<dt>Computed from</dt>" in change and change.count(" numerator: from ") == 2
