"""Rounding rules of the disclosure step, on single figures."""

from __future__ import annotations

import polars as pl
import pytest

from pipelines import metric_catalog
from pipelines.disclosure import DisclosureSettings, Publisher


def _metrics(rows):
    cols = ("measure", "breakdown", "financial_year", "geographic_level", "geography_code", "geography_name",
            "numerator", "denominator", "value", "region_code", "region_name")
    return pl.DataFrame([dict(zip(cols, r)) for r in rows], schema={
        **{c: pl.String for c in cols}, "numerator": pl.Float64, "denominator": pl.Float64, "value": pl.Float64})


def test_counts_and_rates_are_rounded_half_up_exactly():
    """The rounding the publisher runs: half up (never to even), from the exact value."""
    pub = Publisher(metric_catalog.measures(), DisclosureSettings())
    counts = (36545, 36544, 5, 15, 25)  # 36545: the 2021-22 published total; round() would give 0 for 5
    rows = [("households_supported", "all", year, "national", "E92000001", "England", n, None, n, None, None)
            for year, n in zip(("2020-21", "2021-22", "2022-23", "2023-24", "2024-25"), counts)]
    rows += [("turned_away_rate", "all", "2024-25", "national", "E92000001", "England", 909, 2000, 45.45, None, None)]
    out = {(r["measure"], r["time_period"]): r["value"] for r in pub.publish(_metrics(rows)).iter_rows(named=True)
           if r["geography_code"] == "E92000001"}
    assert [out[("households_supported", y)] for y in ("2020-21", "2021-22", "2022-23", "2023-24", "2024-25")] == [
        "36550", "36540", "10", "20", "30"]
    assert out[("turned_away_rate", "2024-25")] == "45.5"  # 45.45 is not 45.4499999


def test_rates_are_computed_before_rounding_and_counts_rounded_only_above_authorities():
    pub = Publisher(metric_catalog.measures(), DisclosureSettings())
    rows = [
        ("turned_away_rate", "all", "2024-25", "national", "E92000001", "England", 1, 16, 6.25, None, None),
        ("households_supported", "all", "2024-25", "national", "E92000001", "England", 36545, None, 36545, None, None),
        ("households_supported", "all", "2024-25", "local_authority", "E06000001", "Hartlepool", 36545, None, 36545,
         "E12000001", "North East"),
        ("households_supported", "all", "2024-25", "regional", "E12000001", "North East", 4, None, 4, None, None),
        ("commissioned_units", "all", "2024-25", "national", "E92000001", "England", 16347, None, 16347, None, None),
        ("turned_away_rate", "all", "2024-25", "local_authority", "E06000002", "Middlesbrough", None, None, None,
         "E12000001", "North East"),
    ]
    out = {(r["measure"], r["geography_code"]): r for r in pub.publish(_metrics(rows)).iter_rows(named=True)}
    rate = out[("turned_away_rate", "E92000001")]
    assert (rate["value"], rate["numerator"], rate["denominator"]) == ("6.3", "0", "20")
    assert out[("households_supported", "E92000001")]["value"] == "36550"
    assert out[("households_supported", "E92000001")]["value_status"] == "rounded"
    assert out[("households_supported", "E06000001")]["value"] == "36545"  # authority counts are not rounded
    assert out[("households_supported", "E12000001")]["value"] == "[low]"  # 4 rounds to 0 but is not 0
    assert out[("commissioned_units", "E92000001")]["value"] == "16347"  # units are not people
    assert out[("turned_away_rate", "E06000002")]["value"] == "[x]"


def test_a_value_that_disagrees_with_its_numerator_and_denominator_is_refused():
    pub = Publisher(metric_catalog.measures(), DisclosureSettings())
    rows = [("turned_away_rate", "all", "2024-25", "national", "E92000001", "England", 1, 4, 30.0, None, None)]
    with pytest.raises(ValueError, match="does not equal"):
        pub.publish(_metrics(rows))


def test_primary_suppression_of_small_authority_counts_and_rates():
    pub = Publisher(metric_catalog.measures(), DisclosureSettings())
    la = ("local_authority", "E06000001", "Hartlepool")
    rows = []
    for year, n in (("2023-24", 12), ("2024-25", 3)):
        rows.append(("households_supported", "all", year, *la, n, None, n, "E12000001", "North East"))
    rows += [
        ("households_supported", "refuge", "2024-25", *la, 0, None, 0, "E12000001", "North East"),  # a true zero
        ("households_supported", "sanctuary", "2024-25", *la, 5, None, 5, "E12000001", "North East"),
        ("turned_away_rate", "all", "2024-25", *la, 6, 9, 100 * 6 / 9, "E12000001", "North East"),
        ("turned_away_rate", "all", "2023-24", *la, 6, 10, 60.0, "E12000001", "North East"),
        ("turned_away_rate", "all", "2022-23", *la, 2, 40, 5.0, "E12000001", "North East"),
        ("commissioned_units", "all", "2024-25", *la, 3, None, 3, "E12000001", "North East"),  # units: not people
        ("households_supported", "all", "2024-25", "regional", "E12000001", "North East", 3, None, 3, None, None),
    ]
    out = {r["figure_id"]: r for r in pub.publish(_metrics(rows)).iter_rows(named=True)}
    get = lambda fid: (out[fid]["value"], out[fid]["value_status"], out[fid]["numerator"])  # noqa: E731
    assert get("households_supported.all.E06000001.2024-25") == ("[c]", "suppressed", "")
    assert get("households_supported.refuge.E06000001.2024-25")[0] == "0"
    assert get("households_supported.sanctuary.E06000001.2024-25")[0] == "5"
    assert get("turned_away_rate.all.E06000001.2024-25") == ("[c]", "suppressed", "")  # denominator 9
    assert get("turned_away_rate.all.E06000001.2023-24") == ("60.0", "published", "6")
    assert get("turned_away_rate.all.E06000001.2022-23") == ("[c]", "suppressed", "")  # numerator 2
    assert get("commissioned_units.all.E06000001.2024-25")[0] == "3"
    # a region is rounded, not suppressed, unless its figure gives an authority away: here the
    # region's only authority would be proved to hold 1 to 4 by the region's [low]
    assert get("households_supported.all.E12000001.2024-25")[0] == "[c]"
    # a change next to a suppressed figure would reveal it
    assert get("households_supported_change.all.E06000001.2024-25")[0] == "[c]"
    assert get("turned_away_rate_change.all.E06000001.2024-25")[0] == "[c]"
    assert get("turned_away_rate_change.all.E06000001.2023-24")[0] == "[c]"


class _Counted(dict):
    """A cache that counts what it is given."""

    def __init__(self):
        super().__init__()
        self.put = 0

    def __setitem__(self, key, value):
        self.put += 1
        super().__setitem__(key, value)


def _one_more(metrics: pl.DataFrame, year: str) -> pl.DataFrame:
    """The metrics with one authority count of `year` one more."""
    index = metrics.with_row_index().filter(
        (pl.col("financial_year") == year) & (pl.col("geographic_level") == "local_authority")
        & (pl.col("denominator").is_null()) & (pl.col("numerator") > 10)).row(0, named=True)["index"]
    bump = pl.int_range(pl.len()) == index
    return metrics.with_columns(pl.when(bump).then(pl.col(c) + 1).otherwise(pl.col(c)).alias(c)
                                for c in ("numerator", "value"))


def test_a_year_is_published_again_only_when_its_rows_or_the_year_befores_changed(small_db):
    """With a cache of each year's published figures (what a build keeps in its warehouse), the
    figures and the suppression log are those made with none: as made, as read back, and after
    one count of a year changes, when that year and the year after it are made again."""
    import duckdb

    from pipelines.disclosure import previous_year
    from pipelines.release_assets import collect_metrics

    with duckdb.connect(str(small_db), read_only=True) as con:
        tables = [t for (t,) in con.execute("SELECT table_name FROM duckdb_tables() "
                                            "WHERE starts_with(table_name, 'metric_') ORDER BY 1").fetchall()]
        metrics = collect_metrics(con, tables)
    years = sorted(set(metrics["financial_year"]))
    assert len(years) >= 2

    def published(frame: pl.DataFrame, cache) -> tuple[pl.DataFrame, pl.DataFrame]:
        pub = Publisher(metric_catalog.measures(), DisclosureSettings(), published=cache)
        return pub.publish(frame), pub.suppression_log

    cache = _Counted()
    expected = published(metrics, None)
    assert expected[1].height > 0  # something is suppressed, so the year before's pattern matters
    for _ in range(2):  # made, then read back
        got = published(metrics, cache)
        assert got[0].equals(expected[0]) and got[1].equals(expected[1])
    assert cache.put == len(years)
    for year in (years[-1], years[0]):
        changed = _one_more(metrics, year)
        before = cache.put
        got, want = published(changed, cache), published(changed, None)
        assert got[0].equals(want[0]) and got[1].equals(want[1])
        assert not got[0].equals(expected[0])
        again = [y for y in years if y == year or previous_year(y) == year]
        assert cache.put - before == len(again)  # that year and the one after it


def test_the_kept_results_are_those_used_and_an_entry_kept_is_not_written_again(tmp_path):
    """fingerprints.Solved, the disclosure results a build keeps in its warehouse: after `save`,
    the table holds the entries the build read or made and no others of the kind; an entry read
    is left as it is (the same row: a year's published figures are megabytes), one made again
    is replaced, and another kind's entries are untouched."""
    import duckdb

    from pipelines.fingerprints import SOLVED_TABLE, Solved

    def table(con) -> dict[tuple[str, str], tuple[bytes, int]]:
        return {(k, key): (bytes(v), rowid) for k, key, v, rowid in
                con.execute(f"SELECT kind, key, result, rowid FROM {SOLVED_TABLE}").fetchall()}

    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        first, other = Solved(con, "publish"), Solved(con, "secure")
        first["a"], first["b"], other["a"] = b"A", b"B", b"other"
        first.save()
        other.save()
        before = table(con)
        assert {k: v for k, (v, _) in before.items()} == {("publish", "a"): b"A", ("publish", "b"): b"B",
                                                          ("secure", "a"): b"other"}

        second = Solved(con, "publish")
        assert "a" in second and second["a"] == b"A"  # read: kept as it is
        second["c"] = b"C"  # made
        second.save()
        after = table(con)
        assert set(after) == {("publish", "a"), ("publish", "c"), ("secure", "a")}  # b was not used
        assert after[("publish", "a")] == before[("publish", "a")]  # the same row, not written again
        assert after[("secure", "a")] == before[("secure", "a")]
        assert after[("publish", "c")][0] == b"C"

        third = Solved(con, "publish")
        assert "c" in third
        third["a"] = b"A2"  # made again (as when its stored result could not be used)
        third.save()
        assert {k: v for k, (v, _) in table(con).items()} == {("publish", "a"): b"A2", ("publish", "c"): b"C",
                                                              ("secure", "a"): b"other"}
        assert len(con.execute(f"SELECT * FROM {SOLVED_TABLE}").fetchall()) == 3  # one row per entry
