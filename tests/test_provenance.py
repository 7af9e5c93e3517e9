"""Every figure traceable: provenance, the audit bundle, `dasa trace` and the trace pages.

The sample release is built once for the whole test run. Figures are picked at random (seeded),
their trace is followed to the raw workbook cells and CSV rows, and those are re-added by
reading the raw files directly (openpyxl, csv), never the pipeline's tables.
"""

from __future__ import annotations

import csv
import json
import random
import re
import shutil
from collections import defaultdict
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from pipelines import metric_catalog, provenance
from pipelines.cli import main
from pipelines.manifest import verify
from pipelines.paths import RAW_DIR, REFERENCE_DIR
from pipelines.release.render import STATIC_DIR
from tests.fixtures import builders as B

YEAR = "2024-25"


@pytest.fixture(scope="session")
def built(sample_build) -> tuple[Path, Path, Path]:
    """(release folder, audit bundle, warehouse) of the sample data: the session's build of it."""
    out, db = sample_build
    return out, B.audit_bundle_of(out, YEAR), db


@pytest.fixture(scope="session")
def public(built):
    return provenance.load_public(built[0])


@pytest.fixture(scope="session")
def audit(built):
    a = built[1]
    return {name: pl.read_parquet(a / f"{name}.parquet")
            for name in ("figures", "parts", "evidence", "record_counts")}


def _unrounded(audit, fid: str) -> dict:
    rows = audit["figures"].filter(pl.col("figure_id") == fid)
    assert rows.height == 1, fid
    return rows.row(0, named=True)


# --- reading the raw files independently ----------------------------------------------

_WORKBOOKS: dict[str, openpyxl.Workbook] = {}


def _cell(path: str, sheet: str, ref: str) -> int:
    if path not in _WORKBOOKS:
        _WORKBOOKS[path] = openpyxl.load_workbook(RAW_DIR / path, data_only=True, read_only=False)
    v = _WORKBOOKS[path][sheet][ref].value
    assert isinstance(v, int) and not isinstance(v, bool), f"{path} {sheet}!{ref} holds {v!r}, not a count"
    return v


def _expand(refs: str) -> list[str]:
    """'B2:B4 C7' -> ['B2', 'B3', 'B4', 'C7']."""
    out = []
    for tok in refs.split():
        m = re.fullmatch(r"([A-Z]+)(\d+):([A-Z]+)(\d+)", tok)
        if m:
            assert m.group(1) == m.group(3)
            out += [f"{m.group(1)}{r}" for r in range(int(m.group(2)), int(m.group(4)) + 1)]
        else:
            out.append(tok)
    return out


def _csv_rows(path: str) -> dict[int, dict]:
    with (RAW_DIR / path).open(encoding="utf-8", newline="") as f:
        return {i: row for i, row in enumerate(csv.DictReader(f), start=2)}  # header is line 1


def _region_of() -> dict[tuple[str, str], str]:
    with (REFERENCE_DIR / "tier1_by_financial_year.csv").open(encoding="utf-8", newline="") as f:
        return {(r["financial_year"], r["gss_code"]): r["region_code"] for r in csv.DictReader(f)}


def _entry(public, fid: str) -> tuple[str, dict]:
    _, fams = public
    for fam, doc in fams.items():
        if fid in doc["figures"]:
            return fam, doc["figures"][fid]
    raise AssertionError(f"{fid} has no provenance")


def _readd_authority(public, audit, fid: str, role: str) -> int:
    """Add up the cells the trace names for one figure, read from the workbooks."""
    index, _ = public
    _, entry = _entry(public, fid)
    measure, breakdown, code, year = fid.split(".")
    item = entry[role]
    if "cells" in item:  # an authority figure: its cells are public
        wb = index["workbooks"][year][code]
        return sum(_cell(wb, sheet, ref) for sheet, refs in item["cells"].items() for ref in _expand(refs))
    # regional / England: the contributing authorities are public; their cells are in the audit bundle
    units = provenance.expand_units(item["from"], index["workbooks"][year])
    ev = audit["evidence"].filter((pl.col("measure") == measure) & (pl.col("breakdown") == breakdown)
                                  & (pl.col("financial_year") == year) & (pl.col("role") == role))
    ev = ev.filter(pl.col("unit_code").is_in(units))
    assert set(ev["unit_code"].unique().to_list()) <= set(units)
    total = 0
    for r in ev.iter_rows(named=True):
        assert r["file"] == index["workbooks"][year][r["unit_code"]]
        total += _cell(r["file"], r["sheet"], f"{r['column']}{r['row']}")
    return total


def _pick(rng, ids: list[str], pattern: str, n: int = 1) -> list[str]:
    pool = sorted(i for i in ids if re.fullmatch(pattern, i))
    assert pool, pattern
    return rng.sample(pool, min(n, len(pool)))


def test_random_figures_readd_from_the_raw_workbooks_and_csv_rows(public, audit):
    rng = random.Random(20241)
    figs = audit["figures"].filter(pl.col("numerator").is_not_null())
    ids = figs["figure_id"].to_list()
    la = r"\.E(06|08|10)\d{6}\.\d{4}-\d{2}"  # an authority and any year
    authority_picks = (
        _pick(rng, ids, r"households_supported\.all" + la, 2)        # authority counts
        + _pick(rng, ids, r"turned_away_rate\.all" + la, 2)          # authority rates
        + _pick(rng, ids, r"individuals_supported\.children" + la)
        + _pick(rng, ids, r"households_unable_to_support\.[a-z_]+\.E12\d{6}\.\d{4}-\d{2}", 2)  # regional counts
        + _pick(rng, ids, r"move_on_share\.[a-z_]+\.E12\d{6}\.2024-25")  # regional share
        + _pick(rng, ids, r"turned_away_rate\.all\.E92000001\.\d{4}-\d{2}")  # England rate
        + _pick(rng, ids, r"specialist_characteristic\.[a-z_0-9]+\.E92000001\.2024-25")  # England count
        + _pick(rng, ids, r"from_outside_area_share\.all\.E12\d{6}\.2024-25")
    )
    for fid in authority_picks:
        u = _unrounded(audit, fid)
        assert _readd_authority(public, audit, fid, "numerator") == u["numerator"], fid
        if u["denominator"] is not None:
            assert _readd_authority(public, audit, fid, "denominator") == u["denominator"], fid

    # Women's Aid services extract at authority level: the public trace names the CSV lines
    index, _ = public
    for fid in _pick(rng, ids, r"refuge_bedspaces\.all" + la, 2):
        _, entry = _entry(public, fid)
        code, year = fid.split(".")[2], fid.split(".")[3]
        [path] = [p for p in index["extract_files"]["womens_aid"][year] if p.endswith("refuge_services.csv")]
        rows = _csv_rows(path)
        lines = [int(x) for x in entry["numerator"].get("cells", {}).get("(lines)", "").split()]
        assert all(rows[n]["gss_code"] == code and rows[n]["service_type"] == "refuge" for n in lines)
        assert sum(int(rows[n]["bedspaces"]) for n in lines) == _unrounded(audit, fid)["numerator"], fid

    # Women's Aid referrals at regional and England level: apply the public filter to the CSV
    region = _region_of()
    for fid in (_pick(rng, ids, r"refuge_referrals\.(all|accepted|not_accepted)\.E12\d{6}\.\d{4}-\d{2}", 2)
                + _pick(rng, ids, r"refuge_referral_rejection_rate\.all\.E92000001\.\d{4}-\d{2}")):
        measure, breakdown, code, year = fid.split(".")
        files = index["extract_files"]["womens_aid"][year]
        services = _csv_rows(next(p for p in files if p.endswith("refuge_services.csv")))
        region_of_service = {r["service_id"]: region.get((year, r["gss_code"])) for r in services.values()}
        referrals = _csv_rows(next(p for p in files if p.endswith("referrals.csv")))
        wanted = {"all": {"accepted", "declined", "withdrawn"}, "accepted": {"accepted"},
                  "not_accepted": {"declined", "withdrawn"}}
        in_area = [r for r in referrals.values()
                   if code == "E92000001" or region_of_service.get(r["service_id"]) == code]
        u = _unrounded(audit, fid)
        if measure == "refuge_referrals":
            assert sum(r["outcome"] in wanted[breakdown] for r in in_area) == u["numerator"], fid
        else:
            assert sum(r["outcome"] in {"declined", "withdrawn"} for r in in_area) == u["numerator"], fid
            assert sum(r["outcome"] in wanted["all"] for r in in_area) == u["denominator"], fid


def test_declared_cells_add_up_to_every_part_of_every_figure(audit):
    """The declared lineage reproduces what each authority contributes, for every measure
    that has one: a change to a metric's SQL that the lineage does not follow fails here."""
    key = ["measure", "breakdown", "financial_year", "unit_code", "role"]
    sums = pl.concat([
        audit["evidence"].group_by(key).agg(pl.col("value").sum().alias("cells")),
        audit["record_counts"].group_by(key).agg(pl.col("records").sum().alias("cells")),
    ])
    declared = {(m, b) for m, b in audit["parts"].select("measure", "breakdown").unique().iter_rows()
                if isinstance(metric_catalog.measures()[m].basis(b).get("numerator"), tuple)}
    parts = audit["parts"].filter(pl.struct("measure", "breakdown").map_elements(
        lambda s: (s["measure"], s["breakdown"]) in declared, return_dtype=pl.Boolean))
    got = parts.join(sums, on=key, how="left").with_columns(pl.col("cells").fill_null(0))
    role_declared = got.filter(pl.struct("measure", "breakdown", "role").map_elements(
        lambda s: isinstance(metric_catalog.measures()[s["measure"]].basis(s["breakdown"]).get(s["role"]), tuple),
        return_dtype=pl.Boolean))
    bad = role_declared.filter(pl.col("cells").cast(pl.Float64) != pl.col("part_value"))
    assert role_declared.height > 50_000
    assert bad.is_empty(), bad.head(5)


def _numbers_in(obj) -> list:
    if isinstance(obj, bool):
        return []
    if isinstance(obj, (int, float)):
        return [obj]
    if isinstance(obj, dict):
        return [x for v in obj.values() for x in _numbers_in(v)]
    if isinstance(obj, list):
        return [x for v in obj for x in _numbers_in(v)]
    return []


_NUMBER = re.compile(r"(?<![A-Za-z0-9_.])(?<!\d-)(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?(?![\d])")


def _numbers_of(text: str, csv_line: bool = False) -> set[str]:
    """Every number written in a text (thousands separators removed); a CSV line by cell."""
    if csv_line:
        return {c.replace(",", "") for c in next(csv.reader([text]))}
    return {m.group(1).replace(",", "") + (f".{m.group(2)}" if m.group(2) else "") for m in _NUMBER.finditer(text)}


def _standalone(value: float, text: str, csv_line: bool = False) -> bool:
    n = int(value) if float(value).is_integer() else value
    return str(n) in _numbers_of(text, csv_line)


def test_nothing_public_reveals_a_suppressed_value_or_an_unrounded_regional_or_england_count(
        built, public, audit):
    release, audit_dir, _ = built
    # the audit bundle is outside the release and nothing of it is inside
    assert release.resolve() not in audit_dir.resolve().parents
    assert not [p for p in release.rglob("*") if p.suffix == ".parquet" or p.name == "README.txt"]
    index, fams = public
    figs = {r["figure_id"]: r for r in audit["figures"].iter_rows(named=True)}

    suppressed = [fid for fid, r in figs.items() if r["value_status"] == "suppressed"]
    assert len(suppressed) > 100
    for fid in suppressed:
        _, entry = _entry(public, fid)
        assert _numbers_in(entry) == [], f"{fid}: numbers in its provenance"
        text = json.dumps(entry).replace(fid, "")
        for v in (figs[fid]["numerator"], figs[fid]["value"]):
            if v is not None and v > 0:
                assert not _standalone(v, text), f"{fid}: its value {v} appears in its provenance"
    # no number at all in any entry: provenance carries locations, never values
    assert all(_numbers_in(doc["figures"]) == [] for doc in fams.values())

    # unrounded England and regional counts of people, where rounding changed them
    counts_people = {m for doc in fams.values() for m, info in doc["measures"].items()
                     if info["counts_people"] and info["kind"] == "count"}
    secret = {}
    for fid, r in figs.items():
        measure, _, code, _ = fid.split(".")
        if measure in counts_people and r["value_status"] == "rounded" and (code == "E92000001" or code.startswith("E12")):
            if r["numerator"] is not None and r["numerator"] % 10:
                secret[fid] = r["numerator"]
    assert len(secret) > 500
    by_figure: dict[str, list[str]] = defaultdict(list)
    id_pattern = re.compile(r"[a-z_0-9]+\.[a-z_0-9]+\.E\d{8}\.\d{4}-\d{2}")
    for p in sorted(release.rglob("*")):
        if p.suffix not in (".json", ".csv", ".html"):
            continue
        text = p.read_text(encoding="utf-8")
        if p.suffix == ".html" and p.parent.name == "trace":
            chunks = text.split("<section")
        else:
            chunks = text.splitlines()
        for chunk in chunks:
            for fid in set(id_pattern.findall(chunk)):
                if fid in secret:
                    by_figure[fid].append((id_pattern.sub("", chunk), p.suffix == ".csv"))
    assert len(by_figure) > 500  # the checked figures do appear in public files
    for fid, chunks in by_figure.items():
        for chunk, is_csv in chunks:
            assert not _standalone(secret[fid], chunk, is_csv), f"{fid}: unrounded {secret[fid]} appears beside it"


def test_two_writes_of_the_provenance_are_byte_identical(built, tmp_path):
    """Provenance depends only on the warehouse and the code: collect and write it again from
    the same warehouse and compare every byte (the build itself is compared end to end in
    test_release_end_to_end)."""
    import duckdb

    from pipelines.release_assets import gather_release_inputs, with_provenance, write_release_atomically

    release, a1, db = built
    a2 = tmp_path / "audit" / YEAR
    con = duckdb.connect(str(db), read_only=True)
    try:
        inputs = with_provenance(con, gather_release_inputs(con, YEAR), a2)
    finally:
        con.close()
    write_release_atomically(tmp_path / "again", inputs)
    again = tmp_path / "again"
    names = sorted(p.relative_to(release).as_posix() for p in release.rglob("*")
                   if p.is_file() and (p.name == provenance.INDEX_FILE or p.parent.name in ("provenance", "trace")))
    assert len(names) > 20
    for name in names:
        assert (again / name).read_bytes() == (release / name).read_bytes(), name
    assert pl.read_parquet(a1 / "figures.parquet").equals(pl.read_parquet(a2 / "figures.parquet"))


def test_provenance_records_code_version_queries_and_inputs(built, public):
    index, fams = public
    assert all((built[0] / info["file"]).is_file() for info in index["families"].values())
    assert re.fullmatch(r"[0-9a-f]{40}|unknown", index["code_version"]["git_commit"])
    assert re.fullmatch(r"[0-9a-f]{64}", index["code_version"]["lockfile_sha256"])
    for fam, info in index["families"].items():
        assert info["sql_file"] == f"assets/metrics/{fam}.sql" and re.fullmatch(r"[0-9a-f]{64}", info["sql_sha256"])
        assert "stg_authority_returns__counts" in info["reads"] or info["source"] != "authority_returns" \
            or fam in ("by_and_for", "commissioned_units", "coverage")
    for path, info in index["inputs"].items():
        assert re.fullmatch(r"[0-9a-f]{64}", info["sha256"]) and info["checks"], path
    _, entry = _entry(public, f"turned_away_rate.all.E06000002.{YEAR}")
    assert set(entry["numerator"]["cells"]) == {"unable_to_support"}
    assert set(entry["denominator"]["cells"]) == {"unable_to_support", "supported"}
    _, change = _entry(public, f"households_supported_change.all.E92000001.{YEAR}")
    assert change["derived_from"] == [f"households_supported.all.E92000001.{YEAR}",
                                      "households_supported.all.E92000001.2023-24"]


def test_dasa_trace_prints_the_full_chain_with_the_audit_bundle_and_the_public_one_without(
        built, audit, tmp_path, capsys):
    release, audit_dir, _ = built
    fid = f"households_supported.all.E12000001.{YEAR}"
    assert main(["trace", fid, "--full", "--release", str(release), "--audit-dir", str(audit_dir.parent)]) == 0
    full = capsys.readouterr().out
    u = _unrounded(audit, fid)
    assert f"audit bundle {audit_dir.resolve()}" in full and f"{int(u['numerator']):,}" in full
    assert "supported!B" in full and ".xlsx" in full and "git commit" in full
    # without --full, a summary: the same unrounded values, no cell
    assert main(["trace", fid, "--release", str(release), "--audit-dir", str(audit_dir.parent)]) == 0
    summary = capsys.readouterr().out
    assert f"{int(u['numerator']):,}" in summary and "supported!B" not in summary
    assert len(summary.splitlines()) <= 40 < len(full.splitlines())

    copy = tmp_path / "copy"  # a published copy, read where no audit bundle is
    shutil.copytree(release, copy)
    empty = tmp_path / "no_audit"
    assert main(["trace", fid, "--release", str(copy), "--audit-dir", str(empty)]) == 0
    pub = capsys.readouterr().out
    assert "Public chain" in pub and not _standalone(u["numerator"], pub.replace(fid, ""))
    assert f"no audit bundle in {(empty / YEAR).resolve()}" in pub
    assert "nearest 10" in pub

    assert main(["trace", f"households_suported.all.E12000001.{YEAR}", "--release", str(release)]) == 1
    err = capsys.readouterr().err
    assert "no figure" in err and f"households_supported.all.E12000001.{YEAR}" in err and "Traceback" not in err


def test_every_table_cell_links_to_its_trace_entry(built):
    release, _, _ = built
    index_html = "\n".join(p.read_text(encoding="utf-8") for p in sorted(release.glob("*.html")))  # every page
    links = re.findall(r'href="trace/([a-z0-9_]+)\.html#([^"]+)"', index_html)
    assert len(links) > 1000
    anchors: dict[str, set[str]] = {}
    for page, fid in links:
        if page not in anchors:
            anchors[page] = set(re.findall(r'<section class="trace-figure" id="([^"]+)"',
                                           (release / "trace" / f"{page}.html").read_text(encoding="utf-8")))
        assert fid in anchors[page], (page, fid)


def test_every_page_carries_the_style_sheet_unescaped(built):
    """The style sheet is inlined in every page; escaped (&#34; for a quote) it would lose the
    font and layout rules that follow the first quote."""
    release, _, _ = built
    css = (STATIC_DIR / "release.css").read_text(encoding="utf-8")
    pages = [*sorted(release.glob("*.html")), *sorted((release / "trace").glob("*.html"))]
    assert len(pages) > 8
    for page in pages:
        style = re.search(r"<style>(.*?)</style>", page.read_text(encoding="utf-8"), re.S).group(1)
        assert css.strip() in style, page.name


def test_verify_detects_a_changed_byte_in_provenance_and_in_a_trace_page(built, tmp_path):
    release, _, _ = built
    manifest = json.loads((release / "manifest.json").read_text(encoding="utf-8"))
    listed = {e["path"] for e in manifest["outputs"]}
    assert "provenance.json" in listed and "provenance/turned_away.json" in listed
    assert "trace/authorities.html" in listed
    for rel in ("provenance/turned_away.json", "trace/authorities.html"):
        copy = tmp_path / rel.replace("/", "_")
        shutil.copytree(release, copy)
        p = copy / rel
        data = bytearray(p.read_bytes())
        data[len(data) // 2] ^= 0x01
        p.write_bytes(bytes(data))
        result = verify(copy)
        assert not result.ok and any(rel in problem for problem in result.problems)


@pytest.mark.parametrize("text", ['plain', 'a "quoted" word', 'back\\slash', 'tab\there', 'new\nline', 'Ynys Môn',
                                  '\x01', ''])
def test_entries_escape_text_exactly_as_json_does(text):
    """The public entries are written as JSON text column by column; any text in them reads
    back unchanged."""
    df = provenance._as_json_strings(pl.DataFrame({"t": [text, "other"]}), "t")
    assert df["t"][0] == json.dumps(text, ensure_ascii=False)
    assert json.loads(df["t"][0]) == text


def test_kept_evidence_is_reused_only_for_the_years_whose_rows_are_unchanged(built, tmp_path):
    """The evidence a collection keeps for a year (provenance.YearEvidence) is read back only
    while the year's rows are those it was made from: after one count of an earlier year
    changes, that year's evidence is made again (what a collection keeping nothing gives) and
    the other years' kept files are left as they were."""
    import duckdb

    from pipelines.release_assets import gather_release_inputs, with_provenance

    db = tmp_path / "dasa.duckdb"
    shutil.copy(built[2], db)
    kept = tmp_path / "kept"
    con = duckdb.connect(str(db))

    def evidence(name: str, kept_years: Path | None) -> pl.DataFrame:
        audit_dir = tmp_path / name / YEAR
        with_provenance(con, gather_release_inputs(con, YEAR), audit_dir, kept_years=kept_years)
        return pl.read_parquet(provenance._staging_of(audit_dir) / "evidence.parquet")

    def entries() -> dict[str, int]:
        return {p.name: p.stat().st_mtime_ns for p in kept.iterdir()}

    try:
        first = evidence("first", kept)
        made = entries()
        years = sorted({name.split(".")[0] for name in made})
        assert years == ["2021-22", "2022-23", "2023-24", YEAR]
        assert evidence("again", kept).equals(first)
        assert entries() == made  # read back, not written again

        changed_year = "2022-23"
        con.execute("UPDATE stg_authority_returns__counts SET value = value + 1 WHERE rowid = (SELECT min(rowid) "
                    "FROM stg_authority_returns__counts WHERE financial_year = ? AND value > 0)", [changed_year])
        after = evidence("after", kept)
        assert after.equals(evidence("nothing_kept", None))
        assert not after.equals(first)
    finally:
        con.close()
    now = entries()
    assert {n: t for n, t in now.items() if not n.startswith(changed_year)} == \
        {n: t for n, t in made.items() if not n.startswith(changed_year)}
    old_entry = {n for n in made if n.startswith(changed_year)}
    new_entry = {n for n in now if n.startswith(changed_year)}
    assert len(new_entry) == 3 and not new_entry & old_entry  # one entry per year, under its new key
