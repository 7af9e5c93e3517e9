"""The whole pipeline on the bundled sample data, and on a folder with only a few returns."""

from __future__ import annotations

import csv
import filecmp
import re
import shutil
import subprocess
import sys
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import dagster as dg

from pipelines import metric_catalog
from pipelines.build import build_release
from pipelines.disclosure import FIGURE_COLUMNS
from pipelines.paths import PROJECT_DIR, RAW_DIR, REFERENCE_DIR

YEAR = "2024-25"


def _build(tmp: Path, audit_root: Path) -> Path:
    out = tmp / "release"
    build_release(raw_dir=RAW_DIR, year=YEAR, out_dir=out, db_path=tmp / "dasa.duckdb",
                  instance=dg.DagsterInstance.ephemeral(), audit_dir=audit_root)
    return out


def _figures(release: Path) -> list[dict]:
    with (release / "data" / "figures.csv").open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_figures_csv_has_exactly_the_release_columns(sample_release):
    with (sample_release / "data" / "figures.csv").open(encoding="utf-8", newline="") as f:
        header = next(csv.reader(f))
    assert tuple(header) == FIGURE_COLUMNS
    rows = _figures(sample_release)
    ids = [r["figure_id"] for r in rows]
    assert len(ids) == len(set(ids))
    assert {r["time_period"] for r in rows} == {"2021-22", "2022-23", "2023-24", "2024-25"}


def _oracle() -> list[dict]:
    with (REFERENCE_DIR / "published_figures.csv").open(encoding="utf-8", newline="") as f:
        return [r for r in csv.DictReader(f) if r["oracle"] == "yes"]


def test_england_figures_equal_every_published_oracle_figure(sample_release):
    """Same measure and breakdown names; equal at the published precision; a count published
    exactly may differ by the release's own rounding to 10."""
    ours = {(r["measure"], r["breakdown"], r["time_period"]): r for r in _figures(sample_release)
            if r["geography_code"] == "E92000001"}
    measures = metric_catalog.measures()
    checked = 0
    for pub in _oracle():
        key = (pub["measure"], pub["breakdown"], pub["financial_year"])
        assert key in ours, f"no England figure for {key}"
        got = ours[key]["value"]
        want = Decimal(pub["value"])
        m = measures[pub["measure"]]
        if m.kind == "count":
            expected = (want / 10).quantize(Decimal(1), ROUND_HALF_UP) * 10 if m.counts_people else int(want)
            assert Decimal(got) == expected, f"{key}: published {want}, release {got}"
        else:
            places = -want.as_tuple().exponent if want.as_tuple().exponent < 0 else 0
            shown = Decimal(got).quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)
            assert shown == want, f"{key}: published {want}, release {got}"
        checked += 1
    assert checked == len(_oracle()) > 60


def test_two_builds_from_scratch_are_byte_identical(sample_release, tmp_path, audit_root, monkeypatch):
    monkeypatch.delenv("DASA_RELEASE_CONFIG")  # the sample's own configuration, as sample_release is built
    second = _build(tmp_path, audit_root)
    first_files = sorted(p.relative_to(sample_release) for p in sample_release.rglob("*") if p.is_file())
    second_files = sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    assert first_files == second_files
    differing = [str(p) for p in first_files if not filecmp.cmp(sample_release / p, second / p, shallow=False)]
    assert differing == ["build.json"]


def test_release_has_its_parts(sample_release):
    assert (sample_release / "index.html").is_file()
    assert (sample_release / "build.json").is_file()
    html = (sample_release / "index.html").read_text(encoding="utf-8")
    assert "coverage-caveat" not in html  # every expected authority made a return
    for heading in ("Main points", "Data quality and coverage", "Methodology", "Downloads", "Contact and feedback"):
        assert heading in html
    for page in ("tables.html", "authorities.html", "data-quality.html", "methodology.html", "technical.html"):
        assert (sample_release / page).is_file(), page
    # works offline: nothing loaded from the network
    for attr in ('src="http', "src='http", 'href="http://', '@import url(http'):
        assert attr not in html


def _dasa(*args: str, cwd: Path = PROJECT_DIR) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipelines.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=600)


FEW = ("E06000001", "E08000025", "E10000014",  # Hartlepool is the only return of the North East
       "E06000015", "E06000023", "E06000043", "E08000003", "E08000035", "E10000003", "E61000001")


def test_release_from_a_folder_with_only_a_few_returns(tmp_path, audit_root):
    raw = tmp_path / "raw"
    returns = sorted((RAW_DIR / YEAR / "authority_returns").glob("*.xlsx"))
    chosen = [p for p in returns if p.name.startswith(FEW)]
    assert len(chosen) == 10, [p.name for p in chosen]
    (raw / YEAR / "authority_returns").mkdir(parents=True)
    for p in chosen:
        shutil.copy(p, raw / YEAR / "authority_returns" / p.name)
    shutil.copytree(RAW_DIR / YEAR / "womens_aid", raw / YEAR / "womens_aid")  # the sector data is whole
    out = tmp_path / "out"
    result = _dasa("release", "--raw-dir", str(raw), "--out-dir", str(out), "--audit-dir", str(audit_root))
    assert result.returncode == 0, result.stderr
    assert "returns received: 10 of 121 expected" in result.stdout
    assert "[3/3] Writing the 2024-25 release" in result.stdout
    rows = {r["figure_id"]: r for r in _figures(out)}
    newcastle = rows[f"individuals_supported.all.E08000021.{YEAR}"]
    assert (newcastle["value"], newcastle["value_status"]) == ("[x]", "not_available")
    hartlepool = rows[f"individuals_supported.all.E06000001.{YEAR}"]
    # the only return of its region: published, or withheld to protect a small count beside it
    assert hartlepool["value_status"] in {"published", "suppressed"}
    assert hartlepool["value_status"] == "suppressed" or int(hartlepool["value"]) > 0
    coverage = rows[f"return_coverage.all.E92000001.{YEAR}"]
    assert (coverage["numerator"], coverage["denominator"]) == ("10", "121")
    # 10 of 121 is short of full coverage: said in the main points, beside each national figure of
    # the returns there, in the tables' notes, and in figures.csv's metadata
    html = (out / "index.html").read_text(encoding="utf-8")
    main = html[html.index('id="main-points"'):html.index("</section>", html.index('id="main-points"'))]
    assert '<p class="coverage-caveat"><strong>Coverage:</strong> 2024-25: returns were received from 10 of 121' in main
    assert f"individuals in England in {YEAR} (from 10 of 121 authorities)" in main
    catalog = metric_catalog.measures()
    points = re.findall(r'<li data-figure-id="([a-z_0-9]+)\.[^"]*">(.*?)</li>', main)
    assert {catalog[m].source for m, _ in points} >= {"authority_returns", "womens_aid"}
    for m, text in points:  # only the figures made from the returns say how few they are from
        assert ("(from 10 of 121 authorities)" in text) == (catalog[m].source == "authority_returns"), text
    assert "North East 1 of 12" in main
    with (out / "data" / "metadata.csv").open(encoding="utf-8", newline="") as f:
        value = next(r for r in csv.DictReader(f) if (r["file"], r["column"]) == ("figures.csv", "value"))
    assert "Coverage: 2024-25: returns were received from 10 of 121 authorities" in value["description"]
    # the raw folder is never written
    assert sorted(p.name for p in (raw / YEAR / "authority_returns").iterdir()) == sorted(p.name for p in chosen)


def test_cli_suggests_the_command_on_a_typo():
    result = _dasa("relase")
    assert result.returncode == 2
    assert "did you mean 'release'?" in result.stderr


def test_cli_names_a_missing_year(tmp_path):
    result = _dasa("release", "--raw-dir", str(RAW_DIR), "--year", "2030-31", "--out-dir", str(tmp_path / "o"))
    assert result.returncode == 2
    assert "has no folder for 2030-31" in result.stderr
    assert "Traceback" not in result.stderr


def test_verify_finds_a_changed_byte_in_any_output(sample_release, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(sample_release, copy)
    ok = _dasa("verify", str(copy))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "OK:" in ok.stdout
    for rel in ("data/figures.csv", "index.html", "dasa-2024-25.xlsx"):
        target = copy / rel
        data = bytearray(target.read_bytes())
        data[len(data) // 2] ^= 0x01
        target.write_bytes(bytes(data))
        bad = _dasa("verify", str(copy))
        assert bad.returncode == 1
        assert f"{rel}: changed" in bad.stdout
        data[len(data) // 2] ^= 0x01
        target.write_bytes(bytes(data))
    manifest = (copy / "manifest.json").read_text()
    assert "2024-25/authority_returns/" in manifest and "build.json" not in manifest.split('"note"')[0]
