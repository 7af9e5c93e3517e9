"""The referrals extract read by DuckDB (pipelines/ingest/referrals_sql.py, decision 0022).

1. On every bad input of the corpus that touches the referrals (CSV as written, and the same
   records as Parquet where a Parquet file can hold them), and on random damage, the DuckDB
   reader gives exactly the raw rows and issues (ids, messages, order) of the polars reader
   the other extracts use (`engine="polars"`, the reference).
2. Hostile values typed cell by cell the same way (whitespace, dates, codes, huge counts,
   quotes and control characters in messages).
3. A generated extract of 200,000 records: the published rejection rate equals a direct
   DuckDB computation over the file, and its lineage is a filter and a count, never a list.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines import schemas
from pipelines.ingest import read_extracts, referrals_sql
from tests.fixtures import bad_inputs as BI
from tests.fixtures import builders as B
from tests.fixtures import small_inputs as S

Y = BI.Y
REFERRALS = f"{Y}/womens_aid/referrals.csv"


def _both(raw: Path, year: str = Y):
    """(DuckDB read, polars read) of the year's referrals, as comparable values."""
    out = []
    for engine in ("duckdb", "polars"):
        reads = read_extracts(raw, year, "womens_aid", engine=engine)
        r = reads[1]
        assert r.table is schemas.REFERRALS
        out.append((r.status, r.frame.to_dicts() if r.frame is not None else None,
                    [(i.issue_id, i.level, i.code, i.row, i.field, i.location(), i.message) for i in r.issues]))
    return out


def _as_parquet(raw: Path, year: str = Y) -> bool:
    """The year's referrals.csv written as referrals.parquet (every column text, as read), if
    polars can read the CSV as a table; True when done."""
    csv_path = raw / year / "womens_aid" / "referrals.csv"
    try:
        df = pl.read_csv(csv_path, infer_schema=False)
    except Exception:  # noqa: BLE001 - ragged or not CSV at all: no Parquet file holds it
        return False
    df.write_parquet(csv_path.with_suffix(".parquet"))
    csv_path.unlink()
    return True


REFERRAL_CASES = [c for c in BI.CASES if c.source == "womens_aid"]


@pytest.mark.parametrize("case", REFERRAL_CASES, ids=lambda c: c.id)
def test_the_duckdb_reader_gives_the_rows_and_issues_of_the_polars_reader(case, small_raw, tmp_path):
    raw = tmp_path / "raw"
    shutil.copytree(small_raw, raw)
    case.make(raw)
    new, old = _both(raw)
    assert new == old
    if _as_parquet(raw):
        new, old = _both(raw)
        assert new == old
        assert all(loc.startswith(("record", "column", "")) for *_, loc, _ in new[2])


def test_the_corpus_reaches_every_check_of_the_duckdb_reader():
    codes = {e.code for c in REFERRAL_CASES for e in c.expected}
    assert {"duplicate_key", "outside_year", "missing_decline_reason", "unknown_service", "bad_count",
            "ragged_line", "missing_column"} <= codes


HOSTILE = [" R1 ", "R1", "", "  ", "\u3000", "O'Brien", 'say "hi"', "back\\slash", "tab\there", "\x1c", "é" * 50,
           "x" * 45, "=1+1", "\u2028", "R\x00"]
DATES = ["2024-04-01", "2024-4-1", " 2024-04-01 ", "2024- 4- 1", "+2024-04-01", "-2024-04-01", "2024-02-30",
         "2025-02-29", "2024-02-29", "24-04-01", "02024-04-01", "2024/04/01", "2025-03-31", "2025-04-01", "",
         "2024-04-01T00:00", "0-01-01", "2024-\xa004-01", "2024-04-01x"]
COUNTS = ["0", "3", " 4 ", "-1", "1.0", "1e3", "999999999999999", "9999999999999999", "", "two", "٣", "+3"]
NEEDS = ["", "nrpf", "nrpf;drugs", "nrpf; drugs ", "nrpf;;drugs", ";", "NRPF", "nrpf;unknown", " "]
OUTCOMES = ["accepted", "declined", " declined ", "Declined", "withdrawn", "pending", "", "x"]
REASONS = ["", "nrpf", " other ", "bogus", "\t"]


def _hostile_rows(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        rows.append({
            "referral_id": rng.choice(HOSTILE + [f"R{i:05d}"] * 6),
            "service_id": rng.choice(["WA001", "WA001", " WA001", "WA999", "", "O'X", "é"]),
            "referral_date": rng.choice(DATES),
            "outcome": rng.choice(OUTCOMES),
            "decline_reason": rng.choice(REASONS),
            "children": rng.choice(COUNTS),
            "support_needs": rng.choice(NEEDS),
        })
    return rows


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_hostile_values_are_typed_and_reported_as_the_polars_reader_does(tmp_path, seed):
    B.write_refuge_services(tmp_path, Y, [{"gss_code": S.HARTLEPOOL, "bedspaces": 3}])
    rows = _hostile_rows(300, seed)
    pl.DataFrame(rows, schema={c: pl.String for c in schemas.REFERRALS.names}).write_parquet(
        tmp_path / Y / "womens_aid" / "referrals.parquet")
    new, old = _both(tmp_path)
    assert new[2], "the hostile rows raise issues"
    assert new == old
    # the same records typed as numbers where Parquet can: children as integers
    df = pl.DataFrame([{**r, "children": int(r["children"]) if r["children"].strip().lstrip("-").isdigit()
                        and r["children"].strip().isascii() else None} for r in rows],
                      schema={**{c: pl.String for c in schemas.REFERRALS.names}, "children": pl.Int64})
    df.write_parquet(tmp_path / Y / "womens_aid" / "referrals.parquet")
    new, old = _both(tmp_path)
    assert new == old


def test_random_damage_to_the_referrals_reads_as_the_polars_reader_reads_it(small_raw, tmp_path):
    rng = random.Random(7)
    raw = tmp_path / "raw"
    shutil.copytree(small_raw, raw)
    f = raw / REFERRALS
    original = f.read_bytes()
    pieces = [b"\x00", b"\r", b"\n", b'"', b",", b";", b"\xff", b"\t", b"\r\n", b"-", b"9" * 20, b"\xe2\x80\xa8"]
    for _ in range(40):
        data = bytearray(original)
        for _ in range(rng.randint(1, 4)):
            pos = rng.randrange(len(data) + 1)
            if rng.random() < 0.6:
                data[pos:pos] = rng.choice(pieces)
            else:
                del data[pos:pos + rng.randint(1, 20)]
        f.write_bytes(bytes(data))
        new, old = _both(raw)
        assert new == old


def test_a_parquet_file_that_cannot_be_read_or_lacks_columns_is_set_aside(tmp_path):
    B.write_refuge_services(tmp_path, Y, [{"gss_code": S.HARTLEPOOL, "bedspaces": 3}])
    p = tmp_path / Y / "womens_aid" / "referrals.parquet"
    names = list(schemas.REFERRALS.names)
    cases = {
        "truncated": lambda: p.write_bytes(b"PAR1" + b"\x00" * 100),
        "missing": lambda: pl.DataFrame({c: ["x"] for c in names[:-1]}).write_parquet(p),
        "nested": lambda: pl.DataFrame({**{c: ["x"] for c in names}, "support_needs": [["nrpf"]]}).write_parquet(p),
    }
    for name, make in cases.items():
        make()
        reads = read_extracts(tmp_path, Y, "womens_aid")
        r = reads[1]
        assert r.status == "quarantined" and r.frame is not None and r.frame.height == 0, name
        assert [i.level for i in r.issues] == ["structural"], (name, r.issues)
    # a column given twice (names stripped of spaces, as in a CSV header)
    import pyarrow as pa
    import pyarrow.parquet as pq
    pq.write_table(pa.table([pa.array(["x"])] * (len(names) + 1), names=[*names, " outcome"]), p)
    r = read_extracts(tmp_path, Y, "womens_aid")[1]
    assert [(i.code, i.message) for i in r.issues] == [("duplicate_column", "has the column 'outcome' twice in its header")]


# --- at scale --------------------------------------------------------------------------------

N = 200_000


@pytest.fixture(scope="module")
def big_warehouse(tmp_path_factory):
    """The small raw folder with a generated referrals.parquet of N records (the benchmark's
    generator), ingested into a warehouse with the staging and metric tables built."""
    from benchmarks.extract_at_scale import make_referrals
    from tests.conftest import build_warehouse

    raw = tmp_path_factory.mktemp("big_raw")
    S.write_all(raw)
    (raw / REFERRALS).unlink()
    services = [r["service_id"] for r in pl.read_csv(raw / Y / "womens_aid" / "refuge_services.csv",
                                                       infer_schema=False).to_dicts()]
    parquet = raw / Y / "womens_aid" / "referrals.parquet"
    make_referrals(parquet, N, Y, services)
    db = build_warehouse(raw, tmp_path_factory.mktemp("big_db") / "dasa.duckdb")
    return raw, parquet, db


def test_a_large_extract_is_read_whole_and_its_rates_are_duckdbs_own(big_warehouse):
    raw, parquet, db = big_warehouse
    con = duckdb.connect(str(db), read_only=True)
    try:
        n = con.execute(f"select count(*) from {referrals_sql.RAW_TABLE} where financial_year = ?", [Y]).fetchone()
        assert n == (N,)
        issues = con.execute("select count(*) from raw_issues where financial_year = ? and source = 'womens_aid'",
                             [Y]).fetchone()
        assert issues == (0,)
        got = dict(((r, b), (num, den)) for r, b, num, den in con.execute("""
            select coalesce(geography_code, ''), breakdown, numerator, denominator from metric_refuge_referrals
            where measure = 'refuge_referral_rejection_rate' and financial_year = ?
              and geographic_level in ('national', 'regional')""", [Y]).fetchall())
        # the same figures straight from the file
        want = dict(((r, b), (num, den)) for r, b, num, den in con.execute(f"""
            with s as (select service_id, region_code from stg_womens_aid__refuge_services where financial_year = ?),
            r as (select s.region_code, f.outcome, f.support_needs
                  from read_parquet('{parquet}') f left join s using (service_id)),
            parts as (select region_code, 'all' as b, outcome from r
                      union all select region_code, trim(x), outcome
                      from r, unnest(string_split(coalesce(support_needs, ''), ';')) t(x) where trim(x) <> '')
            select coalesce(region_code, 'E92000001'), b,
                   count(*) filter (where outcome in ('declined', 'withdrawn')),
                   count(*) filter (where outcome in ('accepted', 'declined', 'withdrawn'))
            from parts group by grouping sets ((region_code, b), (b))""", [Y]).fetchall())
    finally:
        con.close()
    assert want and {k: v for k, v in got.items() if k in want} == want
    assert got[("E92000001", "all")][1] > N // 2


def test_the_lineage_of_a_referral_figure_is_a_filter_and_a_count(sample_build, tmp_path):
    """In the audit bundle: for each part the file, the number of records and the SQL filter
    that selects exactly them; no record or line of the referrals is listed anywhere."""
    from pipelines import provenance, trace
    from tests.fixtures import builders as B2

    release, db = sample_build
    audit = B2.audit_bundle_of(release, "2024-25")
    counts = pl.read_parquet(audit / "record_counts.parquet")
    mine = counts.filter((pl.col("measure") == "refuge_referral_rejection_rate") & (pl.col("breakdown") == "nrpf")
                         & (pl.col("financial_year") == "2024-25"))
    assert mine.height and set(mine.columns) >= {"file", "records", "filter"}
    ev = pl.read_parquet(audit / "evidence.parquet")
    assert not ev.filter(pl.col("file").str.contains("referrals")).height  # no record listed
    con = duckdb.connect(str(db), read_only=True)
    try:
        for r in mine.iter_rows(named=True):  # each filter selects exactly the records counted
            n = con.execute(f"select count(*) from stg_womens_aid__referrals where {r['filter']}").fetchone()
            assert n == (r["records"],), r
    finally:
        con.close()
    fams = {p.stem: json.loads(p.read_text()) for p in (release / provenance.FAMILY_DIR).glob("*.json")}
    index = json.loads((release / provenance.INDEX_FILE).read_text())
    steps = trace.audit_chain("refuge_referral_rejection_rate.nrpf.E92000001.2024-25", audit, index, fams)
    text = "\n".join(line for s in steps for line in [s.label, s.text, *s.items])
    assert "records selected by the filter financial_year = '2024-25'" in text
    assert "line " not in text and "record " not in text
