"""A build after a change makes again only what the change reaches, and gives the same bytes as
a build from nothing (pipelines/fingerprints.py, decision 0024).

In a copy of the project (its assets/ and reports/ are edited here) with the sample's 2021-22
inputs copied to a raw folder of its own, one warehouse is built, then changed four times: a
resubmitted return, a changed extract, a changed SQL file and a changed page template. After
each, `dasa release` builds on the last build's warehouse; a build from nothing (`--clean`,
another warehouse and folders) of the same inputs must give the same files, byte for byte
(build.json apart), and the build says what it made again.
"""

from __future__ import annotations

import csv
import filecmp
import io
import shutil
from pathlib import Path

import pytest
from openpyxl import load_workbook

from pipelines.paths import RAW_DIR
from tests.fixtures.project_copy import copy_project, dasa, environment

YEAR = "2021-22"
AUTHORITY = "E06000002_middlesbrough"


class World:
    def __init__(self, root: Path):
        self.root = root
        self.proj = copy_project(root)
        self.raw = root / "raw"
        shutil.copytree(RAW_DIR / YEAR, self.raw / YEAR)
        self.env = environment(self.proj, root / "state")
        self.builds = 0

    def build(self, clean: bool = False) -> tuple[Path, str]:
        """The release and what the build printed; a clean build goes to folders of its own."""
        self.builds += 1
        name = f"clean{self.builds}" if clean else "incremental"
        env = {**self.env, "DASA_STATE_DIR": str(self.root / f"state-{name}")} if clean else self.env
        out = self.root / "site" / name
        done = dasa(self.proj, env, "release", "--raw-dir", str(self.raw), "--out-dir", str(out),
                    "--audit-dir", str(self.root / "restricted" / name), *(["--clean"] if clean else []))
        assert done.returncode == 0, done.stdout + done.stderr
        return out, done.stdout

    def made_again(self, stdout: str) -> str:
        lines = [line for line in stdout.splitlines() if "reused from the last build" in line]
        assert len(lines) == 1, stdout
        return lines[0]


def _differing(a: Path, b: Path) -> list[str]:
    files_a = sorted(p.relative_to(a).as_posix() for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b).as_posix() for p in b.rglob("*") if p.is_file())
    assert files_a == files_b
    return [p for p in files_a if p != "build.json" and not filecmp.cmp(a / p, b / p, shallow=False)]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*")
            if p.is_file() and p.name != "build.json"}


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    w = World(tmp_path_factory.mktemp("incremental"))
    w.build()
    return w


def _check_change(world: World, change, made: list[str], kept: list[str]) -> dict[str, bytes]:
    """Apply a change, build on the last build, and compare with a build from nothing; returns
    the release files that changed."""
    before = _snapshot(world.root / "site" / "incremental")
    change()
    release, stdout = world.build()
    line = world.made_again(stdout)
    made_part = line.split("made again:", 1)[1]
    for name in made:
        assert name in made_part, line
    for name in kept:
        assert name not in made_part, line
    clean, _ = world.build(clean=True)
    assert _differing(release, clean) == []
    after = _snapshot(release)
    changed = {k: v for k, v in after.items() if before.get(k) != v}
    assert changed, "the change reached no file of the release"
    return changed


def test_nothing_changed_reuses_everything(world):
    before = _snapshot(world.root / "site" / "incremental")
    release, stdout = world.build()
    assert world.made_again(stdout).endswith("made again: none")
    assert _snapshot(release) == before


def test_a_resubmission_reads_that_source_again_and_gives_what_a_clean_build_gives(world):
    def resubmit():
        folder = world.raw / YEAR / "authority_returns"
        wb = load_workbook(folder / f"{AUTHORITY}_s1.xlsx")
        for row in wb["about"].iter_rows(min_row=2):
            if row[0].value == "submission_number":
                row[1].value = 2
        wb["supported"]["F2"].value = int(wb["supported"]["F2"].value or 0) + 7  # refuge: children
        wb.save(folder / f"{AUTHORITY}_s2.xlsx")

    changed = _check_change(world, resubmit, made=[f"raw_authority_returns {YEAR}", "metric_individuals"],
                            kept=[f"raw_womens_aid {YEAR}", f"raw_safelives {YEAR}", "stg_womens_aid__referrals"])
    assert "data/figures.csv" in changed


def test_a_changed_extract_reads_only_that_source_again(world):
    path = world.raw / YEAR / "womens_aid" / "referrals.csv"
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    outcome, reason = rows[0].index("outcome"), rows[0].index("decline_reason")

    def change():
        flipped = 0
        for row in rows[1:]:
            if row[outcome] == "accepted" and not row[reason] and flipped < 40:
                row[outcome], flipped = "withdrawn", flipped + 1
        text = io.StringIO()
        csv.writer(text, lineterminator="\n").writerows(rows)
        path.write_text(text.getvalue(), encoding="utf-8")

    changed = _check_change(world, change, made=[f"raw_womens_aid {YEAR}", "metric_refuge_referrals"],
                            kept=[f"raw_authority_returns {YEAR}", "metric_individuals", "metric_marac"])
    assert "data/figures.csv" in changed


def test_a_changed_sql_file_remakes_its_table_and_what_reads_it(world):
    sql = world.proj / "assets" / "metrics" / "marac.sql"

    def change():
        sql.write_text(sql.read_text(encoding="utf-8") + "\n-- a reviewed note at the end of the query\n",
                       encoding="utf-8")

    # the table is made again with the same rows: the figures made from it are not (their data
    # version is the table's content), but the provenance names the query by its hash
    changed = _check_change(world, change, made=["metric_marac", "release"],
                            kept=["raw_", "metric_individuals", "stg_", "published_figures"])
    assert any(k.startswith("provenance") for k in changed)


def test_a_changed_template_rewrites_the_release_only(world):
    page = world.proj / "reports" / "templates" / "methodology.html.j2"
    sentence = "A sentence added to the methodology template."

    def change():
        text = page.read_text(encoding="utf-8")
        assert "{% endblock %}" in text
        page.write_text(text.replace("{% endblock %}", f"<p>{sentence}</p>\n{{% endblock %}}", 1), encoding="utf-8")

    changed = _check_change(world, change, made=["release"], kept=["raw_", "metric_", "stg_", "published_figures"])
    assert sentence in changed["methodology.html"].decode("utf-8")


def test_a_release_edited_by_hand_or_an_audit_bundle_removed_is_written_again(world):
    release = world.root / "site" / "incremental"
    page = release / "index.html"
    as_built = page.read_bytes()
    page.write_bytes(as_built.replace(b"</body>", b"<p>edited by hand</p></body>"))
    _, stdout = world.build()
    assert "release 2021-22" in world.made_again(stdout).split("made again:", 1)[1]
    assert page.read_bytes() == as_built
    audit = world.root / "restricted" / "incremental" / YEAR
    shutil.rmtree(audit)
    _, stdout = world.build()
    assert "audit_bundle 2021-22" in world.made_again(stdout).split("made again:", 1)[1]
    assert (audit / "figures.parquet").is_file()
