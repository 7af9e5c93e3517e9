"""The release writer (`pipelines.release.write_release`) on a small synthetic release.

The inputs (tests/fixtures/release_inputs.py) hold five authorities in two regions over two
years, every symbol, negative changes, a missing return and free text written to break
HTML and spreadsheets.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import re
import sys
import time
import zipfile
from html.parser import HTMLParser
from xml.etree import ElementTree
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from pipelines.cell_text import neutralise
from pipelines.release import write_release
from pipelines.release.csvfiles import safe_cell, safe_text
from pipelines.release.model import FIGURE_COLUMNS, with_commas

_spec = importlib.util.spec_from_file_location(
    "release_inputs_fixture", Path(__file__).parent / "fixtures" / "release_inputs.py"
)
fixture = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = fixture
_spec.loader.exec_module(fixture)

SYMBOLS = {"[c]", "[x]", "[z]", "[low]", "[b]", "[r]", "[p]"}
NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def _write(tmp_path_factory, name: str, **kwargs) -> Path:
    out = tmp_path_factory.mktemp(name)
    write_release(out, fixture.build_inputs(**kwargs))
    return out


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    return _write(tmp_path_factory, "release")


@pytest.fixture(scope="module")
def draft(tmp_path_factory) -> Path:
    return _write(tmp_path_factory, "draft", draft=True)


PAGES = ("index.html", "tables.html", "authorities.html", "data-quality.html", "methodology.html", "technical.html",
         "quality.html")


@pytest.fixture(scope="module")
def html(release) -> str:
    """The main page."""
    return (release / "index.html").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def pages(release) -> dict[str, str]:
    """Every page of the release, by file name."""
    return {name: (release / name).read_text(encoding="utf-8") for name in PAGES}


@pytest.fixture(scope="module")
def site(pages) -> str:
    """Every page, one after the other."""
    return "\n".join(pages.values())


def _read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    raw = path.read_bytes()
    assert b"\r\n" not in raw, f"{path.name}: CRLF line endings"
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8"), newline="")))
    return rows[0], rows[1:]


def _metadata(release: Path) -> dict[str, list[tuple[str, str]]]:
    header, rows = _read_csv(release / "data" / "metadata.csv")
    assert header == ["file", "column", "position", "type", "description"]
    out: dict[str, list[tuple[str, str]]] = {}
    for file, column, position, typ, _ in rows:
        out.setdefault(file, []).append((column, typ))
        assert int(position) == len(out[file])
    return out


# --- what is written ----------------------------------------------------------------------
def test_writes_the_release_files_and_returns_them_sorted(tmp_path):
    paths = write_release(tmp_path, fixture.build_inputs())
    assert paths == sorted(paths)
    on_disk = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    assert paths == on_disk
    names = {p.relative_to(tmp_path).as_posix() for p in paths}
    for expected in (*PAGES, "data/figures.csv", "data/metadata.csv",
                     "data/returns.csv", "data/issues.csv", "dasa-2024-25.ods", "dasa-2024-25.xlsx"):
        assert expected in names
    assert not [n for n in names if n.endswith(".js")]  # no script file: charts are drawn without one
    assert "build.json" not in names


def test_figures_csv_has_exactly_the_columns_and_one_row_per_figure(release):
    header, rows = _read_csv(release / "data" / "figures.csv")
    assert header == list(FIGURE_COLUMNS)
    figures = fixture.build_inputs().figures
    assert len(rows) == figures.height
    assert sorted(r[0] for r in rows) == sorted(figures["figure_id"].to_list())
    assert rows == sorted(rows, key=lambda r: (r[1], r[2], r[3], ["national", "regional", "local_authority",
                                                                "police_force_area"].index(r[4]), r[5]))
    by_id = {r[0]: dict(zip(header, r)) for r in rows}
    # Published values pass through untouched, negative numbers included.
    assert by_id["households_unable_to_support_change.all.E92000001.2024-25"]["value"] == "-120"
    assert by_id["turned_away_rate.all.E92000001.2024-25"]["value"] == "28.3"


def test_writing_twice_gives_byte_identical_files(tmp_path, monkeypatch):
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    write_release(first, fixture.build_inputs(draft=True))
    # A different clock for the second build: nothing written may depend on it.
    later = time.time() + 86400 * 400
    monkeypatch.setattr(time, "time", lambda: later)
    monkeypatch.setattr(time, "localtime", lambda secs=None: time.gmtime(later))
    write_release(second, fixture.build_inputs(draft=True))
    a = {p.relative_to(first).as_posix(): p.read_bytes() for p in first.rglob("*") if p.is_file()}
    b = {p.relative_to(second).as_posix(): p.read_bytes() for p in second.rglob("*") if p.is_file()}
    assert a.keys() == b.keys()
    different = [name for name in a if a[name] != b[name]]
    assert different == []


def test_spreadsheets_do_not_depend_on_what_the_process_built_before(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    write_release(first, fixture.build_inputs())
    # odfpy records every namespace it meets in state shared by all documents of the process.
    from odf.draw import Frame
    from odf.element import Element

    Frame(width="1cm", height="1cm", anchortype="paragraph")
    assert "urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" in Element.namespaces
    write_release(second, fixture.build_inputs())
    for name in ("dasa-2024-25.ods", "dasa-2024-25.xlsx"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_metadata_describes_every_column_of_every_csv(release):
    meta = _metadata(release)
    csvs = sorted(p.name for p in (release / "data").glob("*.csv"))
    assert sorted(meta) == csvs
    for name in csvs:
        header, _ = _read_csv(release / "data" / name)
        assert [c for c, _ in meta[name]] == header, name


# --- HTML ------------------------------------------------------------------------------------
class _Tables(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tables: list[dict] = []
        self.external: list[str] = []
        self.headings: list[int] = []
        self.scripts_src: list[str] = []
        self._stack: list[dict] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("src", "href", "action", "data"):
            v = (a.get(key) or "").strip().lower()
            if v.startswith(("http:", "https:", "//", "ftp:")):
                self.external.append(v)
        if tag == "script" and a.get("src"):
            self.scripts_src.append(a["src"])
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        if tag == "table":
            self._stack.append({"th": 0, "th_without_scope": 0, "caption": False, "td": 0})
            self.tables.append(self._stack[-1])
        elif self._stack and tag == "th":
            self._stack[-1]["th"] += 1
            if "scope" not in a:
                self._stack[-1]["th_without_scope"] += 1
        elif self._stack and tag == "td":
            self._stack[-1]["td"] += 1
        elif self._stack and tag == "caption":
            self._stack[-1]["caption"] = True

    def handle_endtag(self, tag):
        if tag == "table" and self._stack:
            self._stack.pop()


def _parse(text: str) -> _Tables:
    p = _Tables()
    p.feed(text)
    return p


def test_html_loads_nothing_from_the_network(pages):
    for name, html in pages.items():
        parsed = _parse(html)
        assert parsed.external == [], name
        assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, re.I), name
        assert not re.search(r"url\(\s*['\"]?(https?:)?//", html, re.I), name
        assert parsed.scripts_src == [], name  # the one small script is inlined where it is used
    assert "<script" not in pages["index.html"]  # the main page reads in full with no script


def test_every_table_has_a_caption_and_scoped_header_cells(pages):
    assert len(_parse(pages["index.html"]).tables) >= 4
    for name, html in pages.items():
        parsed = _parse(html)
        assert parsed.tables, name
        for t in parsed.tables:
            assert t["caption"], (name, t)
            assert t["th"] > 0, (name, t)
            assert t["th_without_scope"] == 0, (name, t)


def test_headings_are_in_order(pages):
    for name, html in pages.items():
        levels = _parse(html).headings
        assert levels[0] == 1 and levels.count(1) == 1, name
        for before, after in zip(levels, levels[1:]):
            assert after <= before + 1, (name, before, after)


def test_accessibility_basics(pages):
    for name, html in pages.items():
        assert '<html lang="en-GB">' in html, name
        assert 'class="skip-link" href="#main-content"' in html, name
        assert 'id="main-content"' in html, name
        assert f'<a href="{name}" aria-current="page">' in html, name  # every page names itself in the navigation
        for div_id in re.findall(r'<figure class="chart" id="([^"]+)"', html):
            assert f'id="{div_id}-title"' in html and f'id="{div_id}-desc"' in html
            assert f'id="{div_id}-plot"' in html  # the fixed id of the drawing
    assert re.search(r'role="img" aria-label="[^"]+"', pages["index.html"])


def test_every_table_is_on_one_page_and_the_main_page_links_to_it(pages, html):
    from pipelines.metric_catalog import measures
    from pipelines.release.config import load_config
    from pipelines.release.context import build_context

    ctx = build_context(fixture.build_inputs(), load_config(), measures())
    for t in ctx.tables:
        shown = [name for name, text in pages.items() if f'<caption id="caption-{t.id}">' in text]
        assert shown == [t.page], (t.id, shown)
        assert f'id="{t.id}"' in html  # trace pages link back to index.html#<table id>
        if t.page != "index.html":
            assert f'href="{t.page}#{t.id}"' in html, t.id
    assert {t.page for t in ctx.tables} >= {"index.html", "tables.html", "authorities.html"}


def test_free_text_is_escaped(site):
    html = site
    assert fixture.SCRIPT not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Redcar &amp; Cleveland" in html
    assert "Redcar & Cleveland" not in html


def test_symbols_are_shown_as_published_never_as_zero(release, site):
    html = site
    cells = re.findall(r'<td class="num[^"]*" data-sort="[^"]*"[^>]*>([^<]*)</td>', html)  # figure cells
    assert cells
    assert "0" not in cells  # the fixture has no true zero
    assert {"[c]", "[x]", "[z]", "[low]", "[b]"} <= set(cells)
    header, rows = _read_csv(release / "data" / "figures.csv")
    for r in rows:
        row = dict(zip(header, r))
        if row["value_status"] in ("suppressed", "not_available", "not_applicable", "low", "break_in_series"):
            assert row["value"] in SYMBOLS
    for path in (release / "data").glob("*.csv"):
        if path.name in ("metadata.csv", "returns.csv", "issues.csv"):
            continue
        _, rows = _read_csv(path)
        assert all(cell != "0" for r in rows for cell in r), path.name


def test_thousands_separators_only_change_the_display(site):
    html = site
    assert with_commas("36550") == "36,550"
    assert with_commas("-1234.5") == "-1,234.5"
    assert with_commas("46.2") == "46.2"
    assert with_commas("[c]") == "[c]"
    assert ">1,320<" in html and ">1320<" not in html


def test_draft_banner_only_when_draft(site, draft):
    assert "DRAFT" not in site
    assert 'class="draft-banner"' not in site
    for name in PAGES:
        draft_html = (draft / name).read_text(encoding="utf-8")
        assert 'class="draft-banner"' in draft_html, name
        assert "<strong>DRAFT</strong>" in draft_html, name
        assert "<title>DRAFT:" in draft_html, name
    cover = openpyxl.load_workbook(draft / "dasa-2024-25.xlsx")["Cover"]
    assert "DRAFT" in cover["A1"].value


def test_main_points_give_last_years_value_and_the_change(html):
    block = html.split('id="main-points"', 1)[1].split("</ul>", 1)[0]
    points = {re.sub(r"<[^>]+>", "", li).strip() for li in re.findall(r"<li[^>]*>(.*?)</li>", block, re.S)}
    text = " ".join(points)
    # the hand-made world has returns from 4 of its 5 authorities: short of full coverage (90%)
    assert "1,320 households in England in 2024-25 (from 4 of 5 authorities), up 70 households (5.6%) from 1,250 households in 2023-24" in text
    assert "28.3% in England in 2024-25 (from 4 of 5 authorities), down 5.6 percentage points from 33.9% in 2023-24" in text
    assert "520 households in England in 2024-25 (from 4 of 5 authorities), down 120 households (18.8%) from 640 households in 2023-24" in text


def test_notes_passed_in_are_attached_to_their_tables(pages, site):
    marac = site.split('<div class="block" id="marac_england"', 1)[1].split('class="block"', 1)[0]
    assert "1 Marac(s) missed one quarter" in marac
    assert "referrals still pending" in pages["data-quality.html"]  # listed there even with no referral table


def test_publication_date_and_status_come_from_the_configuration(html):
    assert "16 October 2025" in html
    assert "Management information" in html


def test_data_quality_lists_missing_returns_and_issue_locations(pages):
    section = pages["data-quality.html"].split('id="data-quality"', 1)[1].replace("<wbr>", "")
    assert "Middlesbrough" in section  # missing return in 2024-25
    assert "D7" in section and "line 12" in section
    assert "2024-25/authority_returns/E06000003.xlsx" in section
    assert "partial" in section and "not collected" in section


def test_methodology_is_generated_from_the_catalog(pages, html):
    from pipelines.metric_catalog import measures

    m = measures()["turned_away_rate"]
    section = pages["methodology.html"].split('id="methodology"', 1)[1]
    assert m.definition.replace('"', "&#34;") in section or m.definition in section
    assert m.sql_file in section
    assert "mid-2022" in section
    assert "There are no revisions" in html


# --- CSV and spreadsheets ---------------------------------------------------------------------
def test_csv_cells_are_formula_safe(release):
    meta = _metadata(release)
    for path in (release / "data").glob("*.csv"):
        header, rows = _read_csv(path)
        numeric = {i for i, (_, typ) in enumerate(meta[path.name]) if typ in ("number or symbol", "number")}
        for r in [header, *rows]:
            for i, cell in enumerate(r):
                if i in numeric and (NUMBER.match(cell) or cell in SYMBOLS or cell == ""):
                    continue
                assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (path.name, cell)
    _, issues = _read_csv(release / "data" / "issues.csv")
    messages = [r[-1] for r in issues]
    assert "'@SUM(1+1) is not a Tier 1 authority" in messages
    assert any("=HYPERLINK" in m for m in messages)
    files = [r[2] for r in issues]
    assert "2024-25/authority_returns/=cmd.xlsx" in files  # a formula inside a text is harmless


def test_safe_text_rules():
    assert safe_text('=HYPERLINK("http://x","y")') == '\'=HYPERLINK("http://x","y")'
    assert safe_text("+1") == "'+1" and safe_text("@x") == "'@x" and safe_text("-x") == "'-x"
    assert safe_cell("-3.2", numeric=True) == "-3.2"
    assert safe_cell("-3.2", numeric=False) == "'-3.2"
    assert safe_text("Hartlepool") == "Hartlepool"


def test_xlsx_is_accessible_and_stores_numbers_as_numbers(release):
    wb = openpyxl.load_workbook(release / "dasa-2024-25.xlsx")
    assert wb.sheetnames[:3] == ["Cover", "Contents", "Notes"]
    table_sheets = [s for s in wb.sheetnames if s.startswith("Table_")]
    n_tables = sum(len(re.findall(r"<caption id=\"caption-[a-z0-9_]+\">Table \d+", (release / name).read_text()))
                   for name in PAGES)
    assert len(table_sheets) == n_tables
    formulas, zeros, texts = [], [], []
    for ws in wb.worksheets:
        assert ws["A1"].value  # every sheet starts with its title
        for row in ws.iter_rows():
            for c in row:
                if c.data_type == "f":
                    formulas.append(c.coordinate)
                if c.data_type == "n" and c.value == 0 and ws.title.startswith("Table_"):
                    zeros.append((ws.title, c.coordinate))
                if isinstance(c.value, str):
                    texts.append(c)
        if ws.title not in ("Cover",):
            assert len(ws.tables) == 1, ws.title
    assert formulas == []
    assert zeros == []
    risky = [c for c in texts if c.value.startswith(("=", "@"))]
    assert risky and all(c.quotePrefix for c in risky)
    # Published numbers are numbers, with the published decimals.
    t1 = wb["Table_1"]
    values = [c.value for row in t1.iter_rows() for c in row if c.data_type == "n" and c.value is not None]
    assert 28.3 in values and -5.6 in values
    assert "[z]" in [c.value for row in t1.iter_rows() for c in row]
    assert "[note" in wb["Contents"]["B5"].value or any(
        "[note" in (c.value or "") for row in wb["Contents"].iter_rows() for c in row if isinstance(c.value, str))


_NUMBER_FORMAT = re.compile(r'#,##0(?:\.(0+))?(?:"([^"]*)")?')


def _xlsx_grid(ws) -> list[list[tuple | None]]:
    """A sheet as (kind, value, what is shown) per cell, text as the .ods and CSV hold it
    (behind a ' when it would read as a formula, which the quote prefix marks here)."""
    from pipelines.cell_text import reads_as_formula

    grid = []
    for row in ws.iter_rows():
        out: list[tuple | None] = []
        for c in row:
            if c.value is None:
                out.append(None)
            elif c.data_type == "n":
                m = _NUMBER_FORMAT.fullmatch(c.number_format)
                assert m, (ws.title, c.coordinate, c.number_format)
                shown = f"{c.value:,.{len(m.group(1) or '')}f}{m.group(2) or ''}"
                out.append(("number", float(c.value), shown))
            else:
                assert c.data_type == "s" and bool(c.quotePrefix) == reads_as_formula(c.value), (ws.title, c.coordinate)
                out.append(("text", neutralise(c.value), neutralise(c.value)))
        grid.append(out)
    return _trimmed(grid)


def _ods_grids(path: Path) -> dict[str, list[list[tuple | None]]]:
    from odf import teletype
    from odf.opendocument import load
    from odf.table import Table as OTable
    from odf.table import TableCell, TableRow

    grids = {}
    for table in load(str(path)).spreadsheet.getElementsByType(OTable):
        grid = []
        for row in table.getElementsByType(TableRow):
            out: list[tuple | None] = []
            for c in row.getElementsByType(TableCell):
                kind, text = c.getAttribute("valuetype"), teletype.extractText(c)
                if kind == "float":
                    out.append(("number", float(c.getAttribute("value")), text))
                else:
                    out.append(("text", text, text) if text else None)
            grid.append(out)
        grids[table.getAttribute("name")] = _trimmed(grid)
    return grids


def _trimmed(grid: list[list]) -> list[list]:
    rows = [r[: max([i + 1 for i, c in enumerate(r) if c is not None], default=0)] for r in grid]
    while rows and not rows[-1]:
        rows.pop()
    return rows


def test_xlsx_holds_what_the_ods_and_the_csv_files_hold(release):
    """Sheet for sheet and cell for cell: the same text, the same numbers shown with the
    published decimals; each table sheet holds its CSV file (the rows of its table object)."""
    from pipelines.metric_catalog import measures
    from pipelines.release.config import load_config
    from pipelines.release.context import build_context

    wb = openpyxl.load_workbook(release / "dasa-2024-25.xlsx")
    ods = _ods_grids(release / "dasa-2024-25.ods")
    assert wb.sheetnames == list(ods)
    for ws in wb.worksheets:
        assert _xlsx_grid(ws) == ods[ws.title], ws.title
    ctx = build_context(fixture.build_inputs(), load_config(), measures())
    assert ctx.tables
    for table in ctx.tables:
        ws = wb[f"Table_{table.number}"]
        (xtable,) = ws.tables.values()
        top = ws[xtable.ref.split(":")[0]].row
        header, rows = _read_csv(release / "data" / f"{table.id}.csv")
        grid = _xlsx_grid(ws)
        assert [c[1] if c else "" for c in grid[top - 1]] == header, table.id
        body = [[("" if c is None else c[1] if c[0] == "text" else c[2].replace(",", "")) for c in r]
                for r in grid[top:]]
        assert [r + [""] * (len(header) - len(r)) for r in body] == rows, table.id
        assert xtable.ref.endswith(str(top + len(rows)))


def test_ods_is_valid_and_holds_no_formulas(release):
    z = zipfile.ZipFile(release / "dasa-2024-25.ods")
    first = z.infolist()[0]
    assert first.filename == "mimetype" and first.compress_type == zipfile.ZIP_STORED
    assert z.read("mimetype") == b"application/vnd.oasis.opendocument.spreadsheet"
    assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in z.infolist())
    content = z.read("content.xml").decode("utf-8")
    assert "table:formula" not in content
    assert 'office:value="0"' not in content
    assert 'office:value-type="float" office:value="28.3"' in content
    assert "&lt;script&gt;" in content and "<script>" not in content
    for name in ("Cover", "Contents", "Notes", "Table_1", "Returns", "Issues"):
        assert f'table:name="{name}"' in content


# --- configuration ------------------------------------------------------------------------------
def test_a_configured_measure_absent_from_the_figures_is_skipped(tmp_path):
    import yaml

    from pipelines.paths import REPORTS_DIR

    cfg = yaml.safe_load((REPORTS_DIR / "release.yaml").read_text(encoding="utf-8"))
    cfg["tables"] = [
        {"id": "not_yet", "theme": "context", "title": "Not yet computed", "measures": ["no_such_measure"],
         "geographic_level": "national", "rows": "time_period", "columns": "measure",
         "chart": {"type": "line"}},
        {"id": "partly", "theme": "turned_away", "title": "Partly there, {years}",
         "measures": ["no_such_measure", "turned_away_rate"], "geographic_level": "regional",
         "include_england": True, "rows": "geography", "columns": "time_period",
         "chart": {"type": "hbar", "years": "release"}},
    ]
    path = tmp_path / "release.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    names = {p.name for p in write_release(out, fixture.build_inputs(), config_path=path)}
    assert "not_yet.csv" not in names and "partly.csv" in names
    header, rows = _read_csv(out / "data" / "partly.csv")
    assert header == ["Area", "Area code", "2023-24 (%)", "2024-25 (%)"]
    assert [r[0] for r in rows] == ["England", "North East", "London"]
    html = (out / "index.html").read_text(encoding="utf-8")
    assert "Not yet computed" not in html and "Partly there, 2023-24 to 2024-25" in html


def test_the_shipped_configuration_is_valid():
    from pipelines.metric_catalog import measures
    from pipelines.release.config import load_config

    cfg = load_config()
    assert cfg.publisher == "dasa sample release"
    assert cfg.status == "Management information"
    assert {"2021-22", "2022-23", "2023-24", "2024-25"} <= set(cfg.publication_dates)
    catalog = measures()
    unknown = sorted(
        {r.measure for t in cfg.tables for r in t.measures}
        - set(catalog)
        - {f"{m}{s}" for m in catalog for s in ("_change", "_change_percent")}
    )
    assert unknown == []


def test_inputs_are_checked(tmp_path):
    from pipelines.release import ReleaseInputs

    good = fixture.build_inputs()
    bad = ReleaseInputs(**{**good.__dict__, "years": ("2024-25", "2023-24")})
    with pytest.raises(ValueError):
        write_release(tmp_path, bad)
    extra = ReleaseInputs(**{**good.__dict__, "years": ("2024-25",),
                             "figures": good.figures})
    with pytest.raises(ValueError):
        write_release(tmp_path, extra)
    assert isinstance(good.figures, pl.DataFrame)


# --- the writers' own markup ------------------------------------------------------------------
# The ODS parts, the chart figures and figures.csv are written directly (not through odfpy,
# plotly objects or a per-cell csv writer, which were too slow), the XLSX through XlsxWriter;
# these check them against what odfpy, openpyxl and plotly read or build.
TRICKY = ["a  b", "\tlead", "x\ny", "a\r\nb", "<b>&\"'</b>", "=SUM(1+1)", "@x", "-x", "+1", "   three",
          "trail ", "é😀", "[c]", "bell\x07", "nul\x00", "nonchar\ufffe", "_x0041_ as typed", "lone\rcr"]


def _workbook_sheets():
    from pipelines.release.workbook import XCell, XSheet

    text = [XCell(t.replace("\r\n", "\n")) for t in TRICKY]
    numbers = [XCell(1320, "number", 0, shown="1,320"), XCell(28.3, "number", 1, shown="28.3"),
               XCell(-5.6, "number", 1, shown="-5.6"), XCell(0.125, "number", 3, shown="0.125")]
    return [
        XSheet(name="Cover", title="Cover <&>", lines=text[:3] + [XCell("Things you need to know")],
               is_cover=True, widths=[110]),
        XSheet(name="Contents", title="Contents", lines=[XCell("One table.")], header=["Sheet name", "Title"],
               rows=[[XCell("Data", "link", target="Data"), XCell("The data")]], widths=[10, 40]),
        XSheet(name="Data", title="Data", lines=[], header=["Text", "Number", "Heading\twith tab"],
               rows=[[t, n, XCell(None)] for t, n in zip(text, numbers * 5)], widths=[12, 10, 10]),
        XSheet(name="Empty", title="No rows", lines=[], header=["A", "B"], rows=[], widths=[10, 10]),
    ]


def _stored(text: str) -> str:
    """What a spreadsheet keeps of a text: characters XML cannot hold become U+FFFD, and a
    carriage return a line end (as an XML reader takes it)."""
    return re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]", "\ufffd", text.replace("\r\n", "\n").replace("\r", "\n"))


def _sheet_ctx():
    from types import SimpleNamespace

    return SimpleNamespace(config=SimpleNamespace(title="T & <t>", publisher="P & co", publication_dates={}),
                           year="2024-25")


def test_ods_markup_round_trips_text_and_numbers(tmp_path):
    from odf import teletype
    from odf.opendocument import load
    from odf.table import Table as OTable
    from odf.table import TableCell, TableRow

    from pipelines.release.ods import write_ods

    sheets = _workbook_sheets()
    path = write_ods(tmp_path / "t.ods", _sheet_ctx(), sheets)
    with zipfile.ZipFile(path) as z:  # every part is well-formed XML
        for name in z.namelist():
            if name.endswith(".xml"):
                ElementTree.fromstring(z.read(name))
    doc = load(str(path))
    tables = {t.getAttribute("name"): t for t in doc.spreadsheet.getElementsByType(OTable)}
    assert list(tables) == [s.name for s in sheets]
    data = [[(c.getAttribute("valuetype"), c.getAttribute("value"), teletype.extractText(c))
             for c in row.getElementsByType(TableCell)] for row in tables["Data"].getElementsByType(TableRow)]
    assert data[0] == [("string", None, "Data")]
    assert [c[2] for c in data[1]] == ["Text", "Number", "Heading\twith tab"]
    # text a spreadsheet would read as a formula is stored behind a ', as in the CSV files
    assert [r[0][2] for r in data[2:]] == [neutralise(_stored(t)) for t in TRICKY]
    assert data[3][1] == ("float", "28.3", "28.3") and data[2][1] == ("float", "1320", "1,320")
    cover = [teletype.extractText(c) for c in tables["Cover"].getElementsByType(TableCell)]
    assert cover == ["Cover <&>", *map(neutralise, TRICKY[:3]), "Things you need to know"]
    assert len(tables["Empty"].getElementsByType(TableRow)) == 2


def test_xlsx_markup_round_trips_through_openpyxl(tmp_path):
    import datetime as dt
    import warnings

    from pipelines.release.xlsx import write_xlsx

    sheets = _workbook_sheets()
    with warnings.catch_warnings():  # XlsxWriter says what it refused or cut only as a warning
        warnings.simplefilter("error")
        path = write_xlsx(tmp_path / "t.xlsx", _sheet_ctx(), sheets)
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            if name.endswith((".xml", ".rels")):
                ElementTree.fromstring(z.read(name))
        assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in z.infolist())
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == [s.name for s in sheets]
    assert wb.properties.title == "T & <t>: 2024-25" and wb.properties.creator == "P & co"
    # the release's fixed moment (1 April 09:30 without a publication date), never the clock
    assert wb.properties.created == wb.properties.modified == dt.datetime(2025, 4, 1, 9, 30)
    for sheet in sheets:  # the model's widths, in characters, as stored before XlsxWriter
        dims = wb[sheet.name].column_dimensions.values()
        widths = {i: d.width for d in dims if d.customWidth for i in range(d.min, d.max + 1)}
        assert widths == dict(enumerate(sheet.widths, start=1)), sheet.name
    ws = wb["Data"]
    assert ws["A1"].value == "Data" and ws["A1"].font.b
    assert [c.value for c in ws[2]] == ["Text", "Number", "Heading\twith tab"]
    texts = [ws.cell(row=r, column=1) for r in range(3, 3 + len(TRICKY))]
    assert [c.value for c in texts] == [_stored(t) for t in TRICKY]
    for c in texts:
        assert c.data_type == "s"
        assert c.quotePrefix == c.value.startswith(("=", "+", "-", "@", "\t"))
        assert bool(c.alignment.wrap_text) == ("\n" in c.value)
    numbers = [ws.cell(row=r, column=2) for r in range(3, 7)]
    assert [(c.value, c.number_format) for c in numbers] == [
        (1320, "#,##0"), (28.3, "#,##0.0"), (-5.6, "#,##0.0"), (0.125, "#,##0.000")]
    assert ws.freeze_panes == "A3"
    table = ws.tables[next(iter(ws.tables))]
    assert table.name == "table_3_Data" and table.ref == f"A2:C{2 + len(TRICKY)}"
    assert table.autoFilter.ref == table.ref and table.tableStyleInfo.name == "TableStyleLight1"
    assert not table.tableStyleInfo.showRowStripes
    assert [c.name for c in table.tableColumns] == ["Text", "Number", "Heading\twith tab"]
    assert [(c.font.b, c.alignment.wrap_text) for c in ws[2]] == [(True, True)] * 3
    link = wb["Contents"]["A4"]
    assert link.value == "Data" and link.hyperlink.location == "'Data'!A1"
    assert wb["Cover"]["A5"].font.sz == 13 and wb["Cover"]["A2"].alignment.wrap_text
    empty = wb["Empty"]
    assert empty.tables[next(iter(empty.tables))].ref == "A2:B3" and empty.freeze_panes == "A3"
    assert wb["Cover"].freeze_panes is None and not wb["Cover"].tables


def test_xlsx_is_the_same_bytes_every_time(tmp_path):
    from pipelines.release.workbook import XCell, XSheet
    from pipelines.release.xlsx import write_xlsx

    first = write_xlsx(tmp_path / "a.xlsx", _sheet_ctx(), _workbook_sheets()).read_bytes()
    other = [XSheet(name="Other", title="=other", header=["x"], rows=[[XCell(1, "number")]], widths=[5])]
    write_xlsx(tmp_path / "other.xlsx", _sheet_ctx(), other)  # nothing carries over to the next workbook
    assert write_xlsx(tmp_path / "b.xlsx", _sheet_ctx(), _workbook_sheets()).read_bytes() == first


HOSTILE_CHARACTERS = "a\x01b\ufffec\ud800d\x9fe"  # a C0 control, a non-character, a lone surrogate, a C1 control


def test_characters_xml_cannot_hold_become_u_fffd_everywhere_in_both_spreadsheets(tmp_path):
    """XlsxWriter escapes such characters in cell text only: in a table column's name or a link's
    text they would make the part ill-formed, and a lone surrogate stops it. The one rule of
    `pipelines.cell_text` is applied first, everywhere, in both writers."""
    from types import SimpleNamespace

    from odf import teletype
    from odf.opendocument import load
    from odf.table import TableCell

    from pipelines.release.ods import write_ods
    from pipelines.release.workbook import XCell, XSheet
    from pipelines.release.xlsx import write_xlsx

    h = HOSTILE_CHARACTERS
    stored = "a\ufffdb\ufffdc\ufffdd\ufffde"
    sheets = [XSheet(name="Contents", title=f"Title {h}", lines=[XCell(f"line {h}")], header=[f"head {h}", "b"],
                     rows=[[XCell(f"link {h}", "link", target="Contents"), XCell(f"cell {h}")]], widths=[10, 10])]
    ctx = SimpleNamespace(config=SimpleNamespace(title=f"T {h}", publisher=f"P {h}", publication_dates={}),
                          year="2024-25")
    xlsx = write_xlsx(tmp_path / "t.xlsx", ctx, sheets)
    ods = write_ods(tmp_path / "t.ods", ctx, sheets)
    for path in (xlsx, ods):
        with zipfile.ZipFile(path) as z:
            for name in z.namelist():
                if name.endswith((".xml", ".rels")):
                    ElementTree.fromstring(z.read(name))  # well-formed
    wb = openpyxl.load_workbook(xlsx)
    ws = wb["Contents"]
    assert [ws["A1"].value, ws["A2"].value, ws["A3"].value, ws["A4"].value, ws["B4"].value] == [
        f"Title {stored}", f"line {stored}", f"head {stored}", f"link {stored}", f"cell {stored}"]
    assert [c.name for c in ws.tables[next(iter(ws.tables))].tableColumns] == [f"head {stored}", "b"]
    assert wb.properties.title == f"T {stored}: 2024-25" and wb.properties.creator == f"P {stored}"
    texts = [teletype.extractText(c) for c in load(str(ods)).spreadsheet.getElementsByType(TableCell)]
    assert texts == [f"Title {stored}", f"line {stored}", f"head {stored}", "b", f"link {stored}", f"cell {stored}"]


def test_ods_attributes_keep_line_ends_and_tabs():
    from pipelines.release.ods import ods_content_xml
    from pipelines.release.workbook import XCell, XSheet

    name = "a\rb\tc\nd \"e' f"
    sheets = [XSheet(name=name, title="t", header=["h"], rows=[[XCell("go", "link", target=name)]], widths=[10])]
    root = ElementTree.fromstring(ods_content_xml(sheets))  # a carriage return once made it ill-formed
    table_ns = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
    assert [t.get(f"{table_ns}name") for t in root.iter(f"{table_ns}table")] == [name]
    assert [a.get("{http://www.w3.org/1999/xlink}href") for a in root.iter(
        "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}a")] == ["#" + name]


def test_charts_are_drawn_without_scripts_and_england_stands_out(pages, site):
    """Line charts are SVG (a wide and a narrow drawing), bar charts HTML; in a regional chart
    England is a hatched bar labelled England, with a dashed line at its value across the others."""
    from pipelines.metric_catalog import measures
    from pipelines.release.config import load_config
    from pipelines.release.context import build_context

    ctx = build_context(fixture.build_inputs(), load_config(), measures())
    charts = [t for t in ctx.tables if t.chart is not None]
    assert {t.chart.spec.type for t in charts} >= {"line", "hbar"}
    for t in charts:
        page = pages[t.page]
        figure = page.split(f'<figure class="chart" id="{t.chart.id}"', 1)[1].split("</figure>", 1)[0]
        if t.chart.spec.type == "line":
            assert figure.count("<svg ") == 2 and 'class="chart-wide"' in figure and 'class="chart-narrow"' in figure
            assert 'aria-hidden="true"' in figure  # the figure's alt text speaks for the drawing
        else:
            assert 'class="hbars"' in figure and "<svg" not in figure
    regional = next(t for t in charts if t.id == "turned_away_rate_regions")
    figure = pages[regional.page].split(f'id="{regional.chart.id}"', 1)[1].split("</figure>", 1)[0]
    assert '<li class="bar-row england"><span class="bar-label">England</span>' in figure
    assert 'class="bar s0 england"' in figure
    regions = [p for p in regional.chart.traces[0].points if not p.is_total]
    assert figure.count('class="bar-ref"') == len(regions) == 2  # on every region's bar
    assert "England: 28.3% (the dashed line)" in figure
    assert "England, the reference drawn as a dark hatched bar" in figure.split('class="chart-desc"', 1)[1]


def test_chart_drawings_escape_their_text_and_show_symbols():
    from pipelines.release.charts import chart_html, nice_ticks
    from pipelines.release.config import ChartSpec
    from pipelines.release.tables import ChartData, ChartPoint, ChartTrace

    points = [ChartPoint("North <East>", 12.5, "12.5", "published"), ChartPoint("London", None, "[c]", "suppressed")]
    for kind in ("line", "bar", "hbar"):
        spec = ChartSpec(type=kind, title=None, measures=None, breakdowns=None, exclude_breakdowns=(), years="all",
                         transpose=False)
        chart = ChartData(spec=spec, number=9, id="chart-x", title="X", category_label="", unit="%",
                          axis_title="Per <cent>", traces=[ChartTrace("A & B", points), ChartTrace("C", points)])
        out = str(chart_html(chart))
        assert "North &lt;East&gt;" in out and "<East>" not in out, kind
        assert "A &amp; B" in out and "A & B" not in out, kind
        assert "[c]" in out, kind  # a value hidden behind a symbol shows its symbol, never an empty bar
        assert "<script" not in out and out == str(chart_html(chart)), kind  # the same text every time
    assert nice_ticks(49.0) == [0, 20, 40, 60] and nice_ticks(0) == [0.0, 1.0]


def test_figures_csv_writer_matches_the_cell_by_cell_writer():
    from pipelines.release.csvfiles import csv_bytes, frame_csv_bytes

    values = ["", "-3.2", "-3", "3.2", "-x", "-3\n", "-3\r\n", "=1+1", "a,b", 'say "hi"', "line\nbreak",
              "cr\rhere", "\ttab", "@", "+", "é", " -1", "-1.", "[c]"]
    rows = [[v, w, v] for v in values for w in values[:4]]
    frame = pl.DataFrame({"a": [r[0] for r in rows], "b": [r[1] for r in rows], "c": [r[2] for r in rows]})
    header = ["a", "=b", "c"]
    for numeric in (set(), {0}, {0, 1, 2}):
        assert frame_csv_bytes(header, frame, numeric) == csv_bytes(header, rows, numeric)
    one = pl.DataFrame({"a": ["", "x", None]})
    assert frame_csv_bytes(["a"], one) == csv_bytes(["a"], [[""], ["x"], [""]])


def test_every_setting_in_the_methodology_has_its_own_words():
    """Each setting shown in the methodology has a label written for it (not its key made readable),
    and the suppression threshold says the rule it applies (1 to the threshold inclusive)."""
    from pipelines.disclosure import DisclosureSettings
    from pipelines.metric_catalog import measures
    from pipelines.release.config import load_config
    from pipelines.release.context import SETTING_LABELS, build_context

    ctx = build_context(fixture.build_inputs(), load_config(), measures())
    shown = {label for label, _ in ctx.settings}
    assert shown <= set(SETTING_LABELS.values()), shown - set(SETTING_LABELS.values())
    keys = set(DisclosureSettings().as_dict())
    assert keys <= set(SETTING_LABELS), keys - set(SETTING_LABELS)
    assert SETTING_LABELS["suppression_threshold"].startswith("Authority counts of people from 1 to this")
