"""The restricted audit bundle is never in, beside or above a release folder.

One build of the small raw folder (tests/fixtures/small_inputs.py) with `dasa release
--out-dir <tmp>/site/2024-25 --audit-dir <tmp>/restricted`: nothing restricted under site/
(by name and by content), the bundle where it was asked for, the closing summary naming it,
and `dasa trace --audit-dir` reading it. Audit folders too near the release folder are
refused before anything is written.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import json
import shutil
from pathlib import Path

import pytest

from pipelines import provenance
from pipelines.build import build_release
from pipelines.cli import main, parser
from pipelines.manifest import sha256
from pipelines.paths import AUDIT_DIR, PROCESSED_DIR, RELEASES_DIR
from pipelines.release_assets import restricted_audit_dir
from pipelines.resources import DasaSettings

YEAR = "2024-25"
BUNDLE_FILES = ("figures.parquet", "parts.parquet", "evidence.parquet", "record_counts.parquet", "README.txt",
                "release.json", "disclosure_intervals.parquet", "suppression_log.parquet")
FIGURE = f"households_supported.all.E92000001.{YEAR}"


@pytest.fixture(scope="module")
def site_build(small_raw, tmp_path_factory) -> dict:
    """`dasa release --out-dir site/2024-25 --audit-dir restricted`, with every staging folder
    of the audit bundle recorded."""
    tmp = tmp_path_factory.mktemp("site_build")
    site, restricted = tmp / "site", tmp / "restricted"
    staged: list[Path] = []
    staging_of = provenance._staging_of

    def recording(audit_dir: Path) -> Path:
        staged.append(staging_of(audit_dir).resolve())
        return staging_of(audit_dir)

    out = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(out):
        mp.setattr(provenance, "_staging_of", recording)
        code = main(["release", "--raw-dir", str(small_raw), "--out-dir", str(site / YEAR),
                     "--audit-dir", str(restricted)])
    assert code == 0, out.getvalue()
    return {"site": site, "restricted": restricted, "stdout": out.getvalue(), "staged": staged}


def test_nothing_restricted_is_left_under_site_by_name(site_build):
    site = site_build["site"]
    assert sorted(p.name for p in site.iterdir()) == [YEAR]  # no audit/, no staging folder beside the release
    names = [p.relative_to(site).as_posix() for p in site.rglob("*")]
    assert not [n for n in names if n.endswith((".parquet", ".writing", "README.txt")) or "audit" in n.split("/")]
    # the bundle was staged only in the restricted folder
    assert site_build["staged"]
    for staging in site_build["staged"]:
        assert site_build["restricted"].resolve() in staging.parents and site.resolve() not in staging.parents


def test_nothing_restricted_is_left_under_site_by_content(site_build):
    bundle = site_build["restricted"] / YEAR
    restricted = {name: (bundle / name).read_bytes() for name in BUNDLE_FILES}
    public = {p: p.read_bytes() for p in site_build["site"].rglob("*") if p.is_file()}
    assert len(public) > 20
    for p, data in public.items():
        assert not data.startswith(b"PAR1"), f"{p} is a parquet file"
        assert b"RESTRICTED: do not publish" not in data, p
        for name, secret in restricted.items():
            assert secret not in data, f"{p} holds the audit bundle's {name}"


def test_the_bundle_goes_to_the_audit_dir_given_and_the_summary_says_where(site_build):
    restricted = site_build["restricted"]
    assert sorted(p.name for p in restricted.iterdir()) == [YEAR]  # staging folder renamed into place
    assert sorted(p.name for p in (restricted / YEAR).iterdir()) == sorted(BUNDLE_FILES)
    assert (restricted / YEAR / "README.txt").read_text(encoding="utf-8") == provenance.AUDIT_README
    lines = [line for line in site_build["stdout"].splitlines() if "audit bundle" in line]
    assert len(lines) == 1
    assert "restricted" in lines[0] and "do not publish" in lines[0]
    assert lines[0].rstrip("/").endswith(str((restricted / YEAR).resolve()))


def test_the_default_audit_dir_is_the_projects_own_also_with_out_dir(tmp_path):
    assert AUDIT_DIR == PROCESSED_DIR / "audit"
    release = parser().parse_args(["release", "--out-dir", str(tmp_path / "site" / YEAR)])
    assert release.audit_dir == AUDIT_DIR
    assert parser().parse_args(["trace", FIGURE]).audit_dir == AUDIT_DIR
    assert inspect.signature(build_release).parameters["audit_dir"].default == AUDIT_DIR
    assert DasaSettings().audit_dir == str(AUDIT_DIR)
    assert provenance.audit_dir_for(YEAR) == AUDIT_DIR / YEAR
    for release_dir in (tmp_path / "site" / YEAR, RELEASES_DIR / YEAR):
        assert provenance.audit_location_problem(AUDIT_DIR, YEAR, release_dir) is None


NEAR = ("inside the release folder", "equal to the release folder", "equal to its parent", "inside its parent",
        "above the release folder", "inside its parent through a symlink", "inside its parent through ..")


def _near(tmp: Path, case: str) -> Path:
    """An audit folder too near the release folder tmp/site/2024-25, as `case` says."""
    (tmp / "site").mkdir()
    (tmp / "link_to_site").symlink_to(tmp / "site", target_is_directory=True)
    (tmp / "elsewhere").mkdir()
    return dict(zip(NEAR, (
        tmp / "site" / YEAR / "audit",
        tmp / "site" / YEAR,
        tmp / "site",
        tmp / "site" / "audit",
        tmp,
        tmp / "link_to_site" / "restricted",
        tmp / "elsewhere" / ".." / "site" / "restricted",
    )))[case]


@pytest.mark.parametrize("case", NEAR)
def test_an_audit_dir_near_the_release_folder_is_refused_and_nothing_written(case, small_raw, tmp_path, capsys):
    audit = _near(tmp_path, case)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    release = tmp_path / "site" / YEAR
    code = main(["release", "--raw-dir", str(small_raw), "--out-dir", str(release), "--audit-dir", str(audit)])
    captured = capsys.readouterr()
    assert code == 2
    err = captured.err.strip()
    assert "Traceback" not in captured.err and "\n" not in err and err.endswith(".")
    assert err.startswith("dasa: refusing to build: the restricted audit folder ")
    assert str(release.resolve()) in err and "--audit-dir" in err and "publish" in err
    assert str(audit.resolve()) in err
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before  # nothing written


def test_the_release_asset_refuses_the_same_folders(tmp_path):
    site = tmp_path / "site"
    with pytest.raises(ValueError, match="beside the release folder"):
        restricted_audit_dir(site / "audit", YEAR, site / YEAR)
    assert restricted_audit_dir(tmp_path / "restricted", YEAR, site / YEAR) == tmp_path / "restricted" / YEAR


def test_dasa_trace_reads_the_bundle_from_the_audit_dir_and_says_which(site_build, tmp_path, capsys):
    release, restricted = site_build["site"] / YEAR, site_build["restricted"]
    assert main(["trace", FIGURE, "--release", str(release), "--audit-dir", str(restricted)]) == 0
    full = capsys.readouterr().out.splitlines()
    # the figure's name, value and status first, then the release and the bundle read
    assert full[2].startswith("Status: ") and full[4] == f"Read from the {YEAR} release ({release})."
    assert full[5].startswith(f"Summary, with restricted values from the audit bundle {(restricted / YEAR).resolve()} ")
    empty = tmp_path / "empty"
    assert main(["trace", FIGURE, "--release", str(release), "--audit-dir", str(empty)]) == 0
    public = capsys.readouterr().out.splitlines()
    assert public[5].startswith(f"Public chain (no audit bundle in {(empty / YEAR).resolve()}:")


def test_dasa_trace_shows_no_restricted_value_from_a_bundle_of_another_build(site_build, tmp_path, capsys):
    release, bundle = site_build["site"] / YEAR, site_build["restricted"] / YEAR
    other = tmp_path / "other"
    shutil.copytree(bundle, other / YEAR)
    stamp = json.loads((other / YEAR / "release.json").read_text(encoding="utf-8"))
    assert stamp == {"release_year": YEAR, "provenance_sha256": sha256(release / "provenance.json")}
    stamp["provenance_sha256"] = "0" * 64  # as if another build of the year had written it since
    (other / YEAR / "release.json").write_text(json.dumps(stamp), encoding="utf-8")
    assert main(["trace", FIGURE, "--release", str(release), "--audit-dir", str(other)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[5].startswith(f"Public chain (the audit bundle in {(other / YEAR).resolve()} is of another build")
    assert "unrounded" not in "\n".join(out[6:]).lower()
