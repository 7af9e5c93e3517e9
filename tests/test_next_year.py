"""Next year's release with no code edits (README, "Next year").

In a copy of the project: `dasa new-year 2025-26` makes the year's folders and settings file; a
new template version goes into `assets/templates/v2.yaml` (a column added, a sheet added, a
column renamed: tests/fixtures/template_v2.py); three authorities send 2025-26 returns on it,
beside the four sample years. Nothing under `pipelines/` changes. Then:

- `--final` is refused while the year's settings are TODO, naming each one;
- a draft builds, and its 2025-26 figures equal the values worked out here from the cells;
- with the settings filled in, the final release builds, and its 2021-22 to 2024-25 figures are
  those of the 2024-25 release.
"""

from __future__ import annotations

import csv
import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.paths import PROJECT_DIR, RAW_DIR
from tests.fixtures.project_copy import copy_project, dasa, environment
from tests.fixtures.template_v2 import v2_text

YEAR, EARLIER = "2025-26", ("2021-22", "2022-23", "2023-24", "2024-25")

# 2025-26 returns on template version 2: (code, name, supported cells by accommodation type)
RETURNS = [
    ("E06000001", "Hartlepool", {"refuge": {"households": 30, "women": 26, "children": 31, "nrpf_individuals": 5},
                                 "dispersed": {"households": 12, "women": 12, "children": 9}}),
    ("E08000025", "Birmingham", {"refuge": {"households": 140, "women": 131, "men": 6, "children": 150},
                                 "sanctuary": {"households": 60, "women": 55, "men": 5}}),
    ("E10000014", "Hampshire", {"refuge": {"households": 75, "women": 70, "children": 81, "identity_not_recorded": 6}}),
]
IDENTITIES = ("women", "men", "trans_nonbinary", "children", "identity_not_recorded")

WRITE = """
import sys
from pathlib import Path
from tests.fixtures import builders as B

raw, year = Path(sys.argv[1]), sys.argv[2]
returns = {returns!r}
for code, name, supported in returns:
    B.write_return(raw, year, code, name, version=2, supported=supported, unable={{"capacity": 9}},
                   services=[{{"accommodation_type": "refuge", "units": 8, "provider": "Refuge"}}],
                   sheets={{"waiting_list": {{"refuge": 5}}}})
B.write_refuge_services(raw, year, [{{"gss_code": "E06000001", "bedspaces": 7}}])
B.write_referrals(raw, year, [{{"outcome": "accepted"}}])
B.write_marac(raw, year, [{{"marac_id": "M1", "pfa_code": "E23000013", "quarter_end": q, "cases_discussed": 5}}
                          for q in B.quarter_ends(year)])
"""


def _figures(release: Path) -> dict[str, dict]:
    with (release / "data" / "figures.csv").open(newline="", encoding="utf-8") as f:
        return {r["figure_id"]: r for r in csv.DictReader(f)}


def _digest(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*.py"))}


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("next-year")
    proj = copy_project(root, with_tests=True)
    env = environment(proj, root / "state")
    raw = root / "raw"
    raw.mkdir()
    for y in EARLIER:  # the sample years, as they are (linked: nothing writes them)
        (raw / y).symlink_to(RAW_DIR / y, target_is_directory=True)
    made = dasa(proj, env, "new-year", YEAR, "--raw-dir", str(raw))
    assert made.returncode == 0, made.stdout + made.stderr
    (proj / "assets" / "templates" / "v2.yaml").write_text(v2_text(), encoding="utf-8")
    # the validation suites follow the templates: regenerated, as for any template change
    suites = subprocess.run([sys.executable, "-m", "pipelines.validation"], cwd=proj, env=env,
                            capture_output=True, text=True, timeout=300)
    assert suites.returncode == 0, suites.stdout + suites.stderr
    wrote = subprocess.run([sys.executable, "-c", WRITE.format(returns=RETURNS), str(raw), YEAR],
                           cwd=proj, env=env, capture_output=True, text=True, timeout=300)
    assert wrote.returncode == 0, wrote.stdout + wrote.stderr
    return {"root": root, "proj": proj, "env": env, "raw": raw, "new_year": made.stdout}


def _release(world, *extra: str) -> tuple:
    out = world["root"] / "site" / f"{YEAR}{'-final' if '--final' in extra else ''}"
    done = dasa(world["proj"], world["env"], "release", "--year", YEAR, "--raw-dir", str(world["raw"]),
                "--out-dir", str(out), "--audit-dir", str(world["root"] / "restricted"), "--wait", "0", *extra)
    return done, out


def test_new_year_says_what_it_made_and_what_the_reference_data_lacks(world):
    text = world["new_year"]
    assert f"made {world['raw'] / YEAR / 'authority_returns'}/" in text
    assert f"made {world['proj'] / 'reports' / 'years' / f'{YEAR}.yaml'}" in text
    assert f"The reference data has no Tier 1 authority list for {YEAR}: the 2024-25 list is carried forward" in text
    assert "2025-26 uses mid-2022, the latest" in text
    assert _digest(world["proj"] / "pipelines") == _digest(PROJECT_DIR / "pipelines")  # no Python edited


def test_final_is_refused_while_the_settings_are_todo(world):
    done, out = _release(world, "--final")
    assert done.returncode == 2, done.stdout + done.stderr
    for key in ("publication_date", "status", "contact"):
        assert f"years/{YEAR}.yaml: {key} is still TODO" in done.stderr
    assert "Traceback" not in done.stderr and not out.exists()


@pytest.fixture(scope="module")
def draft(world) -> Path:
    done, out = _release(world)
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def test_the_draft_gives_the_hand_worked_figures_of_the_new_year(draft):
    figures = _figures(draft)
    total = 0
    for code, _, supported in RETURNS:
        people = sum(cells.get(k, 0) for cells in supported.values() for k in IDENTITIES)
        total += people
        got = figures[f"individuals_supported.all.{code}.{YEAR}"]
        assert (got["value"], got["value_status"]) == (str(people), "published"), got
        households = sum(cells["households"] for cells in supported.values())
        assert figures[f"households_supported.all.{code}.{YEAR}"]["value"] == str(households)
    england = figures[f"individuals_supported.all.E92000001.{YEAR}"]
    assert england["value"] == f"{int(total / 10 + 0.5) * 10:,}".replace(",", "")  # rounded to the nearest 10
    newcastle = figures[f"individuals_supported.all.E08000021.{YEAR}"]
    assert newcastle["value_status"] == "not_available"  # no return: [x]
    page = (draft / "index.html").read_text(encoding="utf-8")
    assert "Not yet set (draft)" in page and "from 3 of 121 authorities" in page
    pages = " ".join(p.read_text(encoding="utf-8") for p in draft.glob("*.html"))
    assert "no Tier 1 authority list for 2025-26: the 2024-25 list is carried forward" in pages


@pytest.fixture(scope="module")
def final(world, draft) -> Path:
    settings = world["proj"] / "reports" / "years" / f"{YEAR}.yaml"
    settings.write_text("publication_date: 2026-10-15\nstatus: Official statistics in development\n"
                        "contact: statistician@example.org\n", encoding="utf-8")
    done, out = _release(world, "--final")
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def test_the_final_release_keeps_every_earlier_figure(final, sample_release):
    new, before = _figures(final), _figures(sample_release)
    earlier = {k: r for k, r in new.items() if r["time_period"] in EARLIER}
    assert earlier and set(earlier) == {k for k, r in before.items() if r["time_period"] in EARLIER}
    changed = [k for k, r in earlier.items() if (r["value"], r["value_status"]) != (before[k]["value"],
                                                                                   before[k]["value_status"])]
    assert not changed, changed[:10]
    page = (final / "index.html").read_text(encoding="utf-8")
    assert "15 October 2026" in page and "Official statistics in development" in page
    assert "statistician@example.org" in page
