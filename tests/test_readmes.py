"""Each folder's README names what is in the folder: a module, query, suite, test or file
added without a line in its README fails here, and so does a README entry whose file is gone."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipelines import buildstate, paths, resources

ROOT = Path(__file__).resolve().parents[1]
KINDS = (".py", ".sql", ".yaml", ".yml", ".json", ".j2", ".csv", ".css", ".js", ".md")


def _entries(folder: Path, *, under: str = "") -> set[str]:
    """The names a README must give: each file of the kinds above (not `__init__.py`, not the
    README) and each sub-folder (as `name/`), prefixed with `under` when the README is the
    parent folder's."""
    out: set[str] = set()
    for p in sorted(folder.iterdir()):
        if p.name.startswith((".", "__")) or p.name == "README.md":
            continue
        if p.is_dir():
            out.add(f"{under}{p.name}/")
        elif p.suffix in KINDS:
            out.add(f"{under}{p.name}")
    return out


def _mentioned(readme: Path, name: str) -> bool:
    text = readme.read_text(encoding="utf-8")
    bare = name.rstrip("/")
    return re.search(rf"(?<![\w./-]){re.escape(bare)}(?![\w-])", text) is not None


# (README, folder whose files it names, prefix the README uses for them)
READMES = [
    ("pipelines/README.md", "pipelines", ""),
    ("pipelines/ingest/README.md", "pipelines/ingest", ""),
    ("pipelines/release/README.md", "pipelines/release", ""),
    ("pipelines/sample_data/README.md", "pipelines/sample_data", ""),
    ("tests/README.md", "tests", ""),
    ("tests/README.md", "tests/fixtures", "fixtures/"),
    ("assets/README.md", "assets", ""),
    ("assets/README.md", "assets/templates", "templates/"),
    ("benchmarks/README.md", "benchmarks", ""),
    ("reports/README.md", "reports", ""),
    ("reports/README.md", "reports/templates", "templates/"),
    ("reports/README.md", "reports/static", "static/"),
    ("reports/README.md", "reports/years", "years/"),
    ("expectations/README.md", "expectations", ""),
    ("data/reference/README.md", "data/reference", ""),
    ("docs/README.md", "docs", ""),
    ("docs/README.md", "docs/decisions", "decisions/"),
]
# files a README describes as a family rather than one by one
FAMILIES = {
    "expectations": re.compile(r"^(raw|stg)_.*\.json$"),  # one suite per table, `<table>.json`
    "reports/years": re.compile(r"^\d{4}-\d{2}\.yaml$"),  # one file per financial year, `<year>.yaml`
}


@pytest.mark.parametrize(("readme", "folder", "under"), READMES, ids=[f"{r[0]}:{r[1]}" for r in READMES])
def test_each_readme_names_every_file_of_its_folder(readme, folder, under):
    path = ROOT / readme
    assert path.is_file(), f"{folder}/ has no README ({readme})"
    family = FAMILIES.get(folder)
    missing = sorted(n for n in _entries(ROOT / folder, under=under)
                     if not (_mentioned(path, n) or _mentioned(path, n.removeprefix(under)))
                     and not (family and family.match(n.removeprefix(under))))
    assert not missing, f"{readme} does not mention: {missing}"


def test_the_pipelines_readme_names_no_module_that_is_gone():
    text = (ROOT / "pipelines/README.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`([a-z_]+\.py)`", text))
    assert named, "no module named in pipelines/README.md"
    modules = {p.name for p in (ROOT / "pipelines").rglob("*.py")}
    gone = sorted(n for n in named if n not in modules)
    assert not gone, f"pipelines/README.md names modules that do not exist: {gone}"


def test_the_tests_readme_names_no_test_file_that_is_gone():
    text = (ROOT / "tests/README.md").read_text(encoding="utf-8")
    gone = sorted(n for n in set(re.findall(r"`(test_[a-z0-9_]+\.py)`", text)) if not (ROOT / "tests" / n).is_file())
    assert not gone, f"tests/README.md names test files that do not exist: {gone}"


def test_the_processed_readme_lists_everything_the_pipeline_writes_there():
    readme = ROOT / "data/processed/README.md"
    writes = {
        Path(resources.DasaSettings().db_path).name,  # the warehouse
        paths.RELEASES_DIR.name, paths.AUDIT_DIR.name, paths.VINTAGES_DIR.name,
        "queries",  # dasa check's query lists
        "dagster",  # Dagster's run storage
        buildstate.work_root().name,  # warehouses of other raw folders
        buildstate.LOCK_FILE,
    }
    missing = sorted(n for n in writes if not _mentioned(readme, n))
    assert not missing, f"data/processed/README.md does not list: {missing}"
