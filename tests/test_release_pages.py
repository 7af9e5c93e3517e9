"""The release as its readers read it: the statistician's commentary (numbers only as references
to published figures), the GOV.UK furniture from the configuration, the page weight of the main
page, and the sources side by side (docs/decisions/0021-release-pages.md)."""

from __future__ import annotations

import csv
import importlib.util
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from pipelines.release import write_release
from pipelines.release.commentary import quoted_figures, render_commentary
from pipelines.release.config import Commentary, ConfigError, load_config
from pipelines.release.model import FigureIndex

_spec = importlib.util.spec_from_file_location("release_inputs_pages", Path(__file__).parent / "fixtures" /
                                               "release_inputs.py")
fixture = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = fixture
_spec.loader.exec_module(fixture)

YEAR = "2024-25"
MAX_MAIN_PAGE_BYTES = 1_500_000  # the main page and every local file it loads


@pytest.fixture(scope="module")
def idx() -> FigureIndex:
    from pipelines.metric_catalog import measures

    inputs = fixture.build_inputs()
    return FigureIndex(inputs.figures, inputs.years, measures())


def _render(idx, *paragraphs: str, key: str = "turned_away"):
    c = {key: Commentary(key, tuple(paragraphs), Path("reports/years/2024-25.yaml"))}
    return render_commentary(c, idx, YEAR, {"turned_away": "Households turned away"})[key]


def _symbol_id(idx: FigureIndex, value: str) -> str:
    frame = fixture.build_inputs().figures
    return frame.filter(frame["value"] == value)["figure_id"][0]


# --- commentary -------------------------------------------------------------------------------
def test_a_figure_reference_renders_the_published_value_with_its_unit(idx):
    (p,) = _render(idx, 'Down to {{ figure("turned_away_rate.all.E92000001") }} from '
                        '{{ figure("turned_away_rate.all.E92000001.2023-24") }}; '
                        '{{ figure("households_unable_to_support.all.E92000001") }} in all.')
    assert quoted_figures(str(p)) == [("turned_away_rate.all.E92000001.2024-25", "28.3%"),
                                      ("turned_away_rate.all.E92000001.2023-24", "33.9%"),
                                      ("households_unable_to_support.all.E92000001.2024-25", "520 households")]


def test_a_figure_that_does_not_exist_stops_the_build_naming_the_file_section_and_id(idx):
    with pytest.raises(ConfigError) as err:
        _render(idx, "Fine.", 'No such: {{ figure("turned_away_rate.all.E12000009") }}.')
    assert str(err.value) == ("reports/years/2024-25.yaml: commentary 'turned_away' (Households turned away), "
                              "paragraph 2: figure turned_away_rate.all.E12000009.2024-25 does not exist in this "
                              "release")
    with pytest.raises(ConfigError, match=r"figure turned_away_rate\.all\.E92000001\.2019-20 does not exist"):
        _render(idx, '{{ figure("turned_away_rate.all.E92000001.2019-20") }}')
    with pytest.raises(ConfigError, match=r"'turned_away_rate' is not a figure id"):
        _render(idx, '{{ figure("turned_away_rate") }}')


@pytest.mark.parametrize(("symbol", "words"), [("[c]", "confidential, suppressed"), ("[x]", "not available")])
def test_a_suppressed_or_unavailable_figure_stops_the_build(idx, symbol, words):
    fid = _symbol_id(idx, symbol)
    with pytest.raises(ConfigError) as err:
        _render(idx, f'{{{{ figure("{fid}") }}}}')
    assert str(err.value) == (f"reports/years/2024-25.yaml: commentary 'turned_away' (Households turned away): "
                              f"figure {fid} is {symbol} ({words}), not a published number: commentary may quote "
                              "only a published number")


def test_commentary_text_is_escaped_and_can_call_nothing_but_figure(idx):
    (p,) = _render(idx, "<script>alert(1)</script> & \"quoted\" {{ '\"' }}")
    assert str(p) == "&lt;script&gt;alert(1)&lt;/script&gt; &amp; \"quoted\" &#34;"
    for text in ("{{ range(3) }}", "{{ figure.__globals__ }}", "{{ ''.__class__.__mro__ }}", "{{ x }}",
                 "{% for %}"):
        with pytest.raises(ConfigError, match=r"commentary 'turned_away'.*write a number only as"):
            _render(idx, text)


def test_a_commentary_key_that_is_not_a_section_is_an_error(tmp_path):
    from pipelines.paths import REPORTS_DIR

    (tmp_path / "years").mkdir()
    (tmp_path / "release.yaml").write_text((REPORTS_DIR / "release.yaml").read_text(encoding="utf-8"),
                                           encoding="utf-8")
    (tmp_path / "years" / "2024-25.yaml").write_text("commentary:\n  turned_awya: Misspelt.\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"2024-25\.yaml: commentary 'turned_awya' is neither main_points nor a "
                                          r"section id"):
        load_config(tmp_path / "release.yaml")


def _config_copy(tmp_path: Path, year: dict) -> Path:
    from pipelines.paths import REPORTS_DIR

    folder = tmp_path / "reports"
    (folder / "years").mkdir(parents=True)
    (folder / "release.yaml").write_text((REPORTS_DIR / "release.yaml").read_text(encoding="utf-8"),
                                         encoding="utf-8")
    (folder / "years" / "2024-25.yaml").write_text(yaml.safe_dump(year), encoding="utf-8")
    return folder / "release.yaml"


def test_furniture_and_commentary_come_from_the_year_settings(tmp_path):
    path = _config_copy(tmp_path, {
        "publication_date": "2025-10-16", "next_update": "October 2026", "statistician": "A. Statistician",
        "updates": [{"date": "2025-11-20", "note": "Revised figures for Hartlepool after a resubmission."}],
        "commentary": {"main_points": ['Turned away: {{ figure("turned_away_rate.all.E92000001") }}.'],
                       "turned_away": "Fewer <than> before."}})
    out = tmp_path / "out"
    out.mkdir()
    write_release(out, fixture.build_inputs(), config_path=path)
    html = re.sub(r"\s+", " ", (out / "index.html").read_text(encoding="utf-8"))
    assert ("<dt>Last updated</dt><dd>20 November 2025: Revised figures for Hartlepool after a resubmission. "
            '<a href="#updates">See all updates</a></dd>') in html
    assert "<dt>Next update</dt><dd>October 2026</dd>" in html
    assert "<dt>Responsible statistician</dt><dd>A. Statistician</dd>" in html
    assert "<li>16 October 2025: first published.</li>" in html
    main = html.split('id="main-points"', 1)[1].split("</section>", 1)[0]
    assert ('Turned away: <span class="figure" data-figure-id="turned_away_rate.all.E92000001.2024-25">28.3%</span>.'
            in main)
    assert "Fewer &lt;than&gt; before." in html.split('id="section-turned_away"', 1)[1]
    assert "We would like to hear what you think" in html.split('id="contact"', 1)[1]


def test_the_sample_commentary_quotes_only_published_figures(sample_release):
    """Every number of the bundled commentary is a figure of figures.csv, shown as published;
    no other number is typed in it (financial years and the Part 4 duty aside)."""
    with (sample_release / "data" / "figures.csv").open(encoding="utf-8", newline="") as f:
        figures = {r["figure_id"]: r for r in csv.DictReader(f)}
    html = (sample_release / "index.html").read_text(encoding="utf-8")
    blocks = re.findall(r'<div class="commentary">(.*?)</div>', html, re.S)
    from pipelines.paths import REPORTS_DIR

    config = yaml.safe_load((REPORTS_DIR / "years" / "2024-25.yaml").read_text(encoding="utf-8"))
    assert len(blocks) == len(config["commentary"])
    quoted = [q for b in blocks for q in quoted_figures(b)]
    assert len(quoted) >= 25
    for fid, text in quoted:
        row = figures[fid]
        assert row["value_status"] in ("published", "rounded"), fid
        number = text.split(" ", 1)[0].rstrip("%").replace(",", "")
        assert number == row["value"], (fid, text, row["value"])
        unit = row["unit"]
        assert text.endswith("%") if unit == "percent" else text.endswith(unit.replace("_", " ")), (fid, text)
    for b in blocks:
        words = re.sub(r'<span class="figure"[^>]*>[^<]*</span>', "", b)
        words = re.sub(r"\b\d{4}-\d{2}\b|Part 4", "", words)
        assert not re.search(r"\d", words), words


# --- the main page --------------------------------------------------------------------------
class _Loads(HTMLParser):
    """Every local file a page loads: scripts, style sheets, images, icons, frames, media."""

    def __init__(self):
        super().__init__()
        self.files: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("script", "img", "iframe", "embed", "audio", "video", "source", "track", "input") and a.get("src"):
            self.files.append(a["src"])
        if tag == "link" and a.get("href") and (a.get("rel") or "") not in ("", "alternate"):
            self.files.append(a["href"])
        if tag == "object" and a.get("data"):
            self.files.append(a["data"])
        for v in (a.get("srcset") or "").split(","):
            if v.strip():
                self.files.append(v.split()[0])
        self.files += re.findall(r"url\(\s*['\"]?([^'\")]+)", a.get("style") or "")


def page_weight(page: Path) -> tuple[int, list[str]]:
    """The bytes of a page and of every local file it loads (style sheets' url() included)."""
    text = page.read_text(encoding="utf-8")
    parser = _Loads()
    parser.feed(text)
    files = parser.files + re.findall(r"url\(\s*['\"]?([^'\")]+)", "".join(re.findall(r"<style>(.*?)</style>", text,
                                                                                       re.S)))
    local = sorted({f.split("#", 1)[0].split("?", 1)[0] for f in files if not f.startswith(("data:", "#"))})
    total = page.stat().st_size
    for rel in local:
        path = page.parent / rel
        assert path.is_file(), f"{page.name} loads {rel}, which is not in the release"
        total += path.stat().st_size
    return total, local


def test_the_main_page_with_everything_it_loads_weighs_at_most_1_5_mb(sample_release):
    total, loaded = page_weight(sample_release / "index.html")
    assert total <= MAX_MAIN_PAGE_BYTES, f"index.html and {loaded} weigh {total:,} bytes"
    for page in sorted(sample_release.glob("*.html")):  # no page needs a script file, nor plotly
        assert not [f for f in page_weight(page)[1] if f.endswith(".js")], page.name
    assert not list(sample_release.rglob("*.js"))


def test_the_weight_counts_every_local_file_a_page_loads(tmp_path):
    (tmp_path / "a.js").write_bytes(b"x" * 1000)
    (tmp_path / "s.css").write_bytes(b"y" * 300)
    (tmp_path / "i.png").write_bytes(b"z" * 50)
    page = tmp_path / "p.html"
    page.write_text('<script src="a.js"></script><link rel="stylesheet" href="s.css"><img src="i.png">'
                    '<style>b { background: url("i.png") }</style><a href="other.html">x</a>', encoding="utf-8")
    total, loaded = page_weight(page)
    assert loaded == ["a.js", "i.png", "s.css"]
    assert total == page.stat().st_size + 1350


def test_the_sample_main_page_is_short_and_links_every_page(sample_release):
    html = (sample_release / "index.html").read_text(encoding="utf-8")
    tables = re.findall(r'<caption id="caption-([a-z0-9_]+)">', html)
    assert 5 <= len(tables) <= 10  # the headline tables; the others are on their own pages
    for page in ("tables.html", "authorities.html", "data-quality.html", "methodology.html", "technical.html",
                 "quality.html"):
        assert f'href="{page}"' in html and (sample_release / page).is_file(), page
    assert "SHA-256</th>" not in html and 'class="hash"' not in html  # the technical provenance is elsewhere
    assert 'id="definitions"' not in html  # and the glossary
    for page in sorted(sample_release.glob("*.html")):
        text = page.read_text(encoding="utf-8")
        for region in re.findall(r'<div class="table-scroll"[^>]*>', text):  # each wide table scrolls in its box
            assert 'role="region"' in region and 'tabindex="0"' in region and "aria-labelledby=" in region, page.name


def test_the_sources_are_side_by_side_in_every_output(sample_release):
    with (sample_release / "data" / "sources_side_by_side_england.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    labels = [r[0] for r in rows[1:]]
    assert {label.split(":", 1)[0] for label in labels} == {"Authority returns", "Women's Aid", "SafeLives"}
    assert "Authority returns: Households turned away (number)" in labels
    html = (sample_release / "index.html").read_text(encoding="utf-8")
    section = html.split('id="section-sources"', 1)[1].split("</section>", 1)[0]
    assert '<caption id="caption-sources_side_by_side_england">' in section
    assert "never added together" in section and "Comparing sources:" in section  # the note on the table
    for word in ("Households", "referrals", "Bedspaces", "Cases", "snapshot", "quarters", "Police force area"):
        assert word in section, word


def test_one_term_for_households_turned_away(sample_release):
    """'Turned away' throughout: the count and the percentage are one idea, named once."""
    from pipelines.metric_catalog import measures

    catalog = measures()
    assert catalog["households_unable_to_support"].title == "Households turned away"
    assert catalog["turned_away_rate"].title == "Percentage of households turned away"
    for page in sorted(sample_release.glob("*.html")):
        assert "unable to be supported" not in page.read_text(encoding="utf-8").lower(), page.name
