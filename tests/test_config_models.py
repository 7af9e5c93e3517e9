"""The configuration files against their models (pipelines/config_models.py): a misspelt or
unknown key, or a value of the wrong type, in reports/release.yaml, assets/metrics/*.yaml or
a decisions file is an error naming the file, the key and its line; the committed files load
as before."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from pipelines import metric_catalog
from pipelines.cli import main
from pipelines.config_models import DecisionsModel, FamilyModel, ReleaseModel
from pipelines.metric_catalog import METRICS_DIR, MetricDefinitionError
from pipelines.paths import RAW_DIR
from pipelines.quality import DecisionsError, load_decisions
from pipelines.release import config as release_config
from pipelines.release.config import CONFIG_FILE, ConfigError, load_config

YEAR = "2024-25"


def _edit(text: str, old: str, new: str) -> tuple[str, int]:
    """The text with `old` (once, at the start of a line) replaced, and the 1-based line it is on."""
    assert text.count(old) >= 1, old
    at = text.index(old)
    assert at == 0 or text[at - 1] == "\n", old
    return text.replace(old, new, 1), text[:at].count("\n") + 1


def _release_copy(tmp_path: Path, old: str, new: str) -> tuple[Path, int]:
    text, line = _edit(CONFIG_FILE.read_text(encoding="utf-8"), old, new)
    path = tmp_path / "release.yaml"
    path.write_text(text, encoding="utf-8")
    return path, line


# --- reports/release.yaml ---------------------------------------------------------------------

@pytest.mark.parametrize("old, new, key", [
    ("population_vintages:", "populaton_vintages:", "populaton_vintages"),           # top level
    ("    geographic_level: national\n", "    geographic_levle: national\n", "geographic_levle"),  # a table
    ("      transpose: true\n", "      transpse: true\n", "transpse"),               # a table's chart
    ("  - id: move_on\n", "  - idd: move_on\n", "idd"),                              # a section
])
def test_a_misspelt_key_of_the_release_configuration_names_file_key_and_line(tmp_path, old, new, key):
    path, line = _release_copy(tmp_path, old, new)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    text = str(err.value)
    assert text.startswith(f"{path}, line {line}: unknown key {key!r}"), text


def test_a_misspelt_key_of_a_table_measure_entry_is_an_error(tmp_path):
    path, line = _release_copy(tmp_path, "      - {measure: households_supported, breakdowns: [all]}",
                               "      - {measure: households_supported, breakdwns: [all]}")
    with pytest.raises(ConfigError, match=rf"line {line}: unknown key 'breakdwns' in "
                                          r"tables\[households_supported_and_turned_away_england\]\.measures\[0\] "
                                          r"\(did you mean 'breakdowns'\?\)"):
        load_config(path)


def test_a_string_where_the_release_configuration_wants_a_list_is_an_error(tmp_path):
    path, line = _release_copy(tmp_path, "population_vintages: [2021, 2022]", "population_vintages: twenty-one")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value) == (f"{path}, line {line}: population_vintages: input should be a valid list "
                              "(found 'twenty-one')")


def test_a_bad_release_configuration_stops_dasa_release_with_one_sentence(tmp_path, monkeypatch, capsys):
    path, line = _release_copy(tmp_path, "population_vintages:", "populaton_vintages:")
    monkeypatch.setattr(release_config, "CONFIG_FILE", path)
    monkeypatch.delenv(release_config.CONFIG_ENV, raising=False)  # the tests' own copy (tests/conftest.py)
    code = main(["release", "--out-dir", str(tmp_path / "out"), "--audit-dir", str(tmp_path / "audit")])
    err = capsys.readouterr().err
    assert code == 2
    assert f"{path}, line {line}: unknown key 'populaton_vintages'" in err and "Nothing was built" in err, err
    assert "Traceback" not in err and not (tmp_path / "out").exists()


def test_the_committed_release_configuration_loads_unchanged():
    raw = yaml.safe_load(CONFIG_FILE.read_text(encoding="utf-8"))
    ReleaseModel.model_validate(raw)
    config = load_config()
    assert [t.id for t in config.tables] == [t["id"] for t in raw["tables"]]
    assert [s.id for s in config.sections] == [s["id"] for s in raw["sections"]]
    assert {m.measure for t in config.tables for m in t.measures} == {
        m if isinstance(m, str) else m["measure"] for t in raw["tables"] for m in t["measures"]}
    assert config.publication_dates["2024-25"].isoformat() == "2025-10-16"
    assert config.population_vintages == (2021, 2022)
    first = config.tables[0]
    assert (first.rows, first.columns, first.years, first.include_england) == (("measure",), ("time_period",),
                                                                               "all", False)
    assert first.chart is not None and first.chart.transpose is True and first.chart.exclude_breakdowns == ()


# --- assets/metrics/*.yaml ----------------------------------------------------------------------

def _metrics_copy(tmp_path: Path, old: str, new: str) -> tuple[Path, Path, int]:
    folder = tmp_path / "metrics"
    shutil.copytree(METRICS_DIR, folder)
    path = folder / "turned_away.yaml"
    text, line = _edit(path.read_text(encoding="utf-8"), old, new)
    path.write_text(text, encoding="utf-8")
    return folder, path, line


@pytest.mark.parametrize("old, new, key", [
    ("method_version: 1\n", "method_verison: 1\n", "method_verison"),          # the family
    ("    counts_people: true\n", "    count_people: true\n", "count_people"),  # a measure
])
def test_a_misspelt_key_of_a_metric_definition_names_file_key_and_line(tmp_path, old, new, key):
    folder, path, line = _metrics_copy(tmp_path, old, new)
    with pytest.raises(MetricDefinitionError) as err:
        metric_catalog.families(folder)
    assert str(err.value).startswith(f"{path}, line {line}: unknown key {key!r}"), str(err.value)


def test_a_string_where_a_metric_definition_wants_a_list_is_an_error(tmp_path):
    # before the models, a string of caveats became one caveat per character
    text = (METRICS_DIR / "turned_away.yaml").read_text(encoding="utf-8")
    old = "    caveats:\n      - The reason for not supporting a household is not always recorded.\n"
    assert old in text
    folder, path, line = _metrics_copy(tmp_path, old, "    caveats: The reason is not always recorded.\n")
    with pytest.raises(MetricDefinitionError) as err:
        metric_catalog.families(folder)
    assert str(err.value) == (f"{path}, line {line}: measures[turned_away_reason_share].caveats: input should be "
                              "a valid list (found 'The reason is not always recorded.')")


def test_a_bad_metric_definition_stops_dasa_release_with_one_sentence(tmp_path, monkeypatch, capsys):
    folder, path, line = _metrics_copy(tmp_path, "    counts_people: true\n", "    count_people: true\n")
    monkeypatch.setattr(metric_catalog, "METRICS_DIR", folder)
    code = main(["release", "--out-dir", str(tmp_path / "out"), "--audit-dir", str(tmp_path / "audit")])
    err = capsys.readouterr().err
    assert code == 2
    assert f"{path}, line {line}: unknown key 'count_people'" in err and "Nothing was built" in err, err
    assert "Traceback" not in err


def test_the_committed_metric_definitions_load_unchanged():
    for path in sorted(METRICS_DIR.glob("*.yaml")):
        FamilyModel.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    by_id = metric_catalog.measures()
    raw_ids = [m["id"] for p in sorted(METRICS_DIR.glob("*.yaml"))
               for m in yaml.safe_load(p.read_text(encoding="utf-8"))["measures"]]
    assert list(by_id) == raw_ids
    rate = by_id["turned_away_rate"]
    assert (rate.kind, rate.counts_people, rate.headline, rate.method_version, rate.breakdowns) == (
        "percent", True, True, 1, ("all",))
    assert by_id["turned_away_reason_share"].caveats == (
        "The reason for not supporting a household is not always recorded.",)


# --- <raw>/<year>/decisions.yaml ---------------------------------------------------------------------

def _decisions_copy(tmp_path: Path, old: str, new: str) -> tuple[Path, Path, int]:
    raw = tmp_path / "raw"
    (raw / YEAR).mkdir(parents=True)
    path = raw / YEAR / "decisions.yaml"
    text, line = _edit((RAW_DIR / YEAR / "decisions.yaml").read_text(encoding="utf-8"), old, new)
    path.write_text(text, encoding="utf-8")
    return raw, path, line


def test_a_misspelt_key_of_a_decision_names_file_entry_key_and_line(tmp_path):
    raw, path, line = _decisions_copy(tmp_path, "    reason:", "    resaon:")
    with pytest.raises(DecisionsError) as err:
        load_decisions(raw, YEAR)
    assert str(err.value).startswith(f"{path}, line {line}: entry 1 (AR-2024-25-c2599eb176): unknown key "
                                     "'resaon' (did you mean 'reason'?)"), str(err.value)


def test_a_list_where_a_decision_wants_text_is_an_error(tmp_path):
    raw, path, line = _decisions_copy(tmp_path, "    decided_by: dasa sample data maintainers",
                                      "    decided_by: [one, two]")
    with pytest.raises(DecisionsError) as err:
        load_decisions(raw, YEAR)
    assert str(err.value).startswith(f"{path}, line {line}: entry 1 (AR-2024-25-c2599eb176): decided_by: "), \
        str(err.value)


def test_a_string_where_the_decisions_file_wants_a_list_is_an_error(tmp_path):
    raw = tmp_path / "raw"
    (raw / YEAR).mkdir(parents=True)
    path = raw / YEAR / "decisions.yaml"
    path.write_text("# none yet\n\ndecisions: none\n", encoding="utf-8")
    with pytest.raises(DecisionsError) as err:
        load_decisions(raw, YEAR)
    assert str(err.value) == f"{path}, line 3: decisions: input should be a valid list (found 'none')"


def test_the_committed_decisions_load_unchanged():
    for year_dir in sorted(p for p in RAW_DIR.iterdir() if (p / "decisions.yaml").is_file()):
        DecisionsModel.model_validate(yaml.safe_load((year_dir / "decisions.yaml").read_text(encoding="utf-8")))
    decision = load_decisions(RAW_DIR, YEAR)["AR-2024-25-c2599eb176"]
    assert (decision.decision, decision.decided_by, decision.date, decision.file) == (
        "accepted", "dasa sample data maintainers", "2025-07-11", f"{YEAR}/decisions.yaml")
