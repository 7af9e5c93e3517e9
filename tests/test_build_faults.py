"""Builds under hostile conditions: two at once, killed, out of disk, in read-only folders.

Every build here is of the small hand-made raw folder (tests/fixtures/small_inputs.py), with
its state (build lock, work warehouses) in a temporary folder ($DASA_STATE_DIR) and no Dagster
run history ($DASA_DAGSTER_STORAGE=memory), so nothing is written into data/processed.

- two real `dasa release` processes at once: the second, with `--wait 0`, refuses with a
  sentence naming the first, which completes; a build waits (one line naming the running
  one) while the lock is held, then goes on;
- a build killed by a real SIGKILL (DASA_FAULT_AT, pipelines/buildstate.py) after the audit
  bundle is staged, after it is moved into place and between the two renames of the release
  swap: the next build removes or restores what it left, `dasa verify` passes and the audit
  bundle is of the release;
- ENOSPC, EROFS and EACCES raised by the lowest writer of the release, the audit bundle, the
  vintage and the warehouse: exit 2, one sentence naming the path, no traceback, nothing
  half-written left;
- a commentary quoting a figure the release does not have (found as the release is written):
  exit 2, one sentence naming the file, paragraph and figure, the release in place unchanged;
- an impossible --out-dir, --audit-dir or check --out refused before any work;
- release folders readable by all (0o755 under umask 022), the audit bundle owner only;
- work warehouses of vanished raw folders removed, the most recently used kept.

The killed builds are real processes started ahead of time: each imports what a build needs
and waits for its turn, so its imports overlap the build before it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import io
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines import buildstate, provenance, warehouse
from pipelines.build import BuildError, build_release, work_db_for
from pipelines.cli import main
from pipelines.manifest import verify
from pipelines.trace import trace

YEAR = "2024-25"
FIGURE = f"households_supported.all.E92000001.{YEAR}"
DASA = Path(sys.executable).parent / "dasa"


@pytest.fixture(scope="module")
def state(tmp_path_factory) -> Path:
    """A state folder of this module's own (lock, work warehouses), and no Dagster history."""
    folder = tmp_path_factory.mktemp("state")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DASA_STATE_DIR", str(folder))
        mp.setenv("DASA_DAGSTER_STORAGE", "memory")
        mp.delenv(buildstate.FAULT_ENV, raising=False)
        yield folder


def release(raw: Path, out: Path, audit: Path, *more: str) -> tuple[int, str, str]:
    """`dasa release --clean` in this process: (exit code, stdout, stderr). From nothing, so that
    every step the faults are put in runs, as it does when the inputs changed (a build of the
    same inputs would reuse them, pipelines/fingerprints.py)."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["release", "--clean", "--raw-dir", str(raw), "--out-dir", str(out), "--audit-dir", str(audit),
                     *more])
    return code, stdout.getvalue(), stderr.getvalue()


def leftovers(*folders: Path) -> list[str]:
    """Anything a build writes before publishing, or moves aside while publishing."""
    found = []
    for folder in folders:
        if folder.is_dir():
            found += [p.name for p in folder.rglob("*") if ".building-" in p.name or ".old-" in p.name
                      or p.name.endswith(".writing") or ".writing-" in p.name]
    return sorted(found)


def one_sentence(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("dasa: "), stderr
    return lines[0]


@pytest.fixture(scope="module")
def base(small_raw, state, tmp_path_factory) -> dict:
    """A complete build (it also warms this process for the others), started with stale work
    warehouses in the state folder: one with no record, one whose raw folder is gone, and
    four of live raw folders of which the oldest is beyond the three kept."""
    tmp = tmp_path_factory.mktemp("base")
    work = state / "work"
    seeded = {}
    for i, name in enumerate(["unrecorded", "gone", "live1", "live2", "live3", "live4"]):
        folder = work / name
        folder.mkdir(parents=True)
        (folder / "dasa.duckdb").write_bytes(b"x" * 1000)
        if name != "unrecorded":
            raw = tmp / f"raw-{name}"
            if name != "gone":
                raw.mkdir()
            (folder / buildstate.WORK_RECORD).write_text(json.dumps({"raw_dir": str(raw)}))
            t = time.time() - 1000 + 100 * i  # live4 used last, live1 first
            os.utime(folder / buildstate.WORK_RECORD, (t, t))
        seeded[name] = folder
    # a write-ahead log left by a killed build of the same raw folder, with no database
    own = work_db_for(small_raw)
    own.parent.mkdir(parents=True, exist_ok=True)
    own.with_suffix(".duckdb.wal").write_bytes(b"not a log")
    site, restricted = tmp / "site", tmp / "restricted"
    code, out, err = release(small_raw, site / YEAR, restricted)
    assert code == 0, err
    return {"site": site, "restricted": restricted, "stdout": out, "stderr": err, "seeded": seeded, "own": own}


# --- permissions and work warehouses ----------------------------------------------------------


def test_release_folder_is_readable_by_all_and_the_audit_bundle_by_its_owner_only(base):
    umask = os.umask(0)
    os.umask(umask)
    release_dir, bundle = base["site"] / YEAR, base["restricted"] / YEAR
    assert release_dir.stat().st_mode & 0o777 == 0o777 & ~umask  # mkdtemp alone gives 0o700
    assert all(p.stat().st_mode & 0o777 == 0o777 & ~umask for p in release_dir.rglob("*") if p.is_dir())
    assert bundle.stat().st_mode & 0o777 == 0o700
    assert not base["stderr"].strip()


def test_work_warehouses_of_gone_raw_folders_are_removed_and_three_kept(base, small_raw):
    seeded = base["seeded"]
    assert not seeded["unrecorded"].exists() and not seeded["gone"].exists()
    # kept: this build's own and the two most recently used others
    assert not seeded["live1"].exists() and not seeded["live2"].exists()
    assert seeded["live3"].exists() and seeded["live4"].exists()
    record = json.loads((base["own"].parent / buildstate.WORK_RECORD).read_text())
    assert Path(record["raw_dir"]) == small_raw.resolve()
    cleared = [line for line in base["stdout"].splitlines() if line.startswith("Cleared")]
    assert len(cleared) == 1 and "gone" in cleared[0] and "live1" in cleared[0]
    assert not base["own"].with_suffix(".duckdb.wal").exists()


# --- faults end in sentences ------------------------------------------------------------------


def _unchanged(base: dict) -> None:
    """The base release and its audit bundle as they were, and nothing half-written left."""
    release_dir, bundle = base["site"] / YEAR, base["restricted"] / YEAR
    assert verify(release_dir, None).ok
    assert provenance.audit_is_of(bundle, release_dir)
    assert leftovers(base["site"], base["restricted"]) == []


def test_disk_full_in_the_release_writer_is_one_sentence(base, small_raw, monkeypatch):
    import pipelines.release as writer

    before = (base["site"] / YEAR / "build.json").read_bytes()

    def full(folder: Path, inputs):
        (folder / "index.html").write_text("half")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(folder / "data" / "figures.csv"))

    monkeypatch.setattr(writer, "write_release", full)
    code, _, err = release(small_raw, base["site"] / YEAR, base["restricted"])
    assert code == 2
    line = one_sentence(err)
    assert "Writing the 2024-25 release failed" in line and "the disk is full" in line
    assert str(base["site"].resolve()) in line and "figures.csv" in line and "Free some space" in line
    _unchanged(base)
    assert (base["site"] / YEAR / "build.json").read_bytes() == before


def test_commentary_quoting_a_figure_the_release_lacks_is_one_sentence(base, small_raw, tmp_path, monkeypatch):
    """The commentary is checked as the release is written: a researcher's build of other data
    with a commentary quoting a year it does not have (the bundled one quotes 2021-22) stops
    with the file, section, paragraph and figure, exit 2, and the release in place unchanged."""
    import yaml

    reports = tmp_path / "reports"
    shutil.copytree(Path(os.environ["DASA_RELEASE_CONFIG"]).parent, reports)
    year_file = reports / "years" / f"{YEAR}.yaml"
    settings = yaml.safe_load(year_file.read_text(encoding="utf-8")) or {}
    settings["commentary"] = {"main_points": ["Supported {{ figure(\"households_supported.all.E92000001\") }}.",
                                              "Down from {{ figure(\"turned_away_rate.all.E92000001.2021-22\") }}."]}
    year_file.write_text(yaml.safe_dump(settings, sort_keys=False), encoding="utf-8")
    monkeypatch.setenv("DASA_RELEASE_CONFIG", str(reports / "release.yaml"))
    before = (base["site"] / YEAR / "build.json").read_bytes()
    code, _, err = release(small_raw, base["site"] / YEAR, base["restricted"])
    assert code == 2
    line = one_sentence(err)
    assert f"{year_file}: commentary 'main_points'" in line and "paragraph 2" in line, line
    assert "figure turned_away_rate.all.E92000001.2021-22 does not exist in this release" in line, line
    assert "Nothing was published" in line
    _unchanged(base)
    assert (base["site"] / YEAR / "build.json").read_bytes() == before


def test_a_read_only_audit_folder_is_one_sentence(base, small_raw, monkeypatch):
    original = pl.DataFrame.write_parquet

    def read_only(self, file, *args, **kwargs):
        if ".writing" in str(file):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(file))
        return original(self, file, *args, **kwargs)

    monkeypatch.setattr(pl.DataFrame, "write_parquet", read_only)
    code, _, err = release(small_raw, base["site"] / YEAR, base["restricted"])
    assert code == 2
    line = one_sentence(err)
    assert "Writing the restricted audit bundle failed" in line and "read-only" in line
    assert f"{YEAR}.writing" in line
    _unchanged(base)


def test_a_full_disk_under_the_warehouse_is_one_sentence(base, small_raw, monkeypatch):
    db = work_db_for(small_raw)

    def full(con, sql):
        raise duckdb.IOException(f'IO Error: Could not write all bytes to file "{db}": No space left on device')

    monkeypatch.setattr(warehouse, "build_table", full)
    code, _, err = release(small_raw, base["site"] / YEAR, base["restricted"])
    assert code == 2
    line = one_sentence(err)
    assert "Writing the warehouse failed" in line and str(db) in line and "the disk is full" in line
    _unchanged(base)


def test_no_permission_for_the_vintage_is_one_sentence(small_raw, state, tmp_path, audit_root, monkeypatch):
    from tests.test_revisions import _accept_open_errors

    raw = tmp_path / "raw"
    shutil.copytree(small_raw, raw)
    _accept_open_errors(raw)  # a final release, so it is kept as a vintage
    vintages, out = tmp_path / "vintages", tmp_path / "out" / YEAR
    original = shutil.copyfile

    def denied(src, dst, *args, **kwargs):
        if vintages.resolve() in Path(dst).resolve().parents:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(dst))
        return original(src, dst, *args, **kwargs)

    monkeypatch.setattr(shutil, "copyfile", denied)
    with pytest.raises(BuildError) as caught:
        build_release(raw_dir=raw, out_dir=out, vintages_dir=vintages, audit_dir=audit_root, protection_width=0)
    text = str(caught.value)
    assert "Keeping the release as a vintage failed" in text and "permission is denied" in text
    assert str(vintages.resolve()) in text and "is complete and published" in text
    assert verify(out, None).ok and leftovers(vintages, out.parent, audit_root) == []


@pytest.mark.parametrize("code,words", [(errno.ENOSPC, "the disk is full"), (errno.EROFS, "the file system is read-only"),
                                        (errno.EACCES, "permission is denied")])
def test_each_fault_reads_as_what_to_do(code, words):
    text = buildstate.fault_sentence(OSError(code, os.strerror(code), "/srv/site/2024-25"), "Writing the release")
    assert text.startswith("Writing the release failed: could not write /srv/site/2024-25: " + words)
    assert text.endswith(".") and ("Choose" in text or "Free" in text)


# --- folders refused before any work ----------------------------------------------------------


@pytest.fixture()
def no_work(monkeypatch):
    """Fail the test if a build gets as far as taking the lock."""
    def refuse(*args, **kwargs):
        raise AssertionError("the build started")

    monkeypatch.setattr(buildstate, "acquire", refuse)


def test_an_out_dir_under_a_file_is_refused_before_any_work(small_raw, state, tmp_path, audit_root, no_work):
    (tmp_path / "a_file").write_text("not a folder")
    code, _, err = release(small_raw, tmp_path / "a_file" / "site" / YEAR, audit_root)
    assert code == 2
    line = one_sentence(err)
    assert "--out-dir" in line and str(tmp_path / "a_file") in line and "is a file, not a folder" in line
    code, _, err = release(small_raw, tmp_path / "site" / YEAR, tmp_path / "a_file" / "audit")
    assert code == 2 and "--audit-dir" in one_sentence(err)


def test_an_unwritable_out_dir_is_refused_before_any_work(small_raw, state, tmp_path, audit_root, no_work,
                                                          monkeypatch):
    import tempfile

    site = tmp_path / "site"

    def denied(*args, dir=None, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(Path(dir) / ".dasa-probe-x"))

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    code, _, err = release(small_raw, site / YEAR, audit_root)
    assert code == 2
    line = one_sentence(err)
    assert str(site) in line and "permission is denied" in line and "Nothing was built" in line


def test_check_refuses_an_out_under_a_file_and_waits_for_a_running_build(small_raw, state, tmp_path):
    (tmp_path / "a_file").write_text("")
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["check", "--raw-dir", str(small_raw), "--out", str(tmp_path / "a_file" / "q")])
    assert code == 2 and "is a file, not a folder" in one_sentence(err.getvalue())

    # a build holding the lock (another open file of the lock, as another process has)
    lock = state / buildstate.LOCK_FILE
    fd = os.open(lock, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": 4242, "command": "dasa release --all", "started": "2025-07-01 09:00:00",
                                 "host": "elsewhere"}).encode())
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main(["check", "--raw-dir", str(small_raw), "--out", str(tmp_path / "q"), "--wait", "0.3"])
    finally:
        os.close(fd)
    assert code == 2
    text = err.getvalue()
    assert "Traceback" not in text
    waiting, refused = text.strip().splitlines()
    assert waiting.startswith("dasa: waiting up to 0.3 s") and "pid 4242" in waiting
    assert "another build is running (pid 4242, `dasa release --all`, since 2025-07-01 09:00:00 on elsewhere)" \
        in refused and "--wait" in refused
    assert not list((tmp_path / "q").iterdir())  # nothing written while the other build ran


def test_a_lock_file_left_by_a_dead_build_does_not_block(state):
    (state / buildstate.LOCK_FILE).write_text(json.dumps({"pid": 999999, "command": "dasa release"}))
    lock = buildstate.acquire(wait=0)
    try:
        assert json.loads((state / buildstate.LOCK_FILE).read_text())["pid"] == os.getpid()
    finally:
        lock.release()


# --- two builds at once (real processes) ----------------------------------------------------


def _env(state: Path) -> dict[str, str]:
    env = {**os.environ, "DASA_STATE_DIR": str(state), "DASA_DAGSTER_STORAGE": "memory"}
    env.pop(buildstate.FAULT_ENV, None)
    return env


def test_a_second_build_started_during_a_first_refuses_naming_it(small_raw, tmp_path_factory):
    """Real processes: the second, with --wait 0, refuses at once with a sentence naming the
    first (pid and command), the first completes undisturbed."""
    tmp = tmp_path_factory.mktemp("together")
    state, site, restricted = tmp / "state", tmp / "site", tmp / "restricted"
    args = [str(DASA), "release", "--raw-dir", str(small_raw), "--out-dir", str(site / YEAR),
            "--audit-dir", str(restricted)]
    run = dict(env=_env(state), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = subprocess.Popen(args, **run)
    lock = state / buildstate.LOCK_FILE
    deadline = time.monotonic() + 60
    while not (lock.is_file() and f'"pid": {first.pid}' in lock.read_text()):
        assert first.poll() is None and time.monotonic() < deadline, first.communicate()
        time.sleep(0.05)
    second = subprocess.run([*args, "--wait", "0"], **run)  # the same raw, release and audit folders
    out1, err1 = first.communicate(timeout=120)
    assert first.returncode == 0, err1
    assert "Traceback" not in err1 + second.stderr
    assert second.returncode == 2
    line = one_sentence(second.stderr)
    assert f"another build is running (pid {first.pid}, `dasa release --raw-dir" in line and "--wait" in line
    assert verify(site / YEAR, None).ok and provenance.audit_is_of(restricted / YEAR, site / YEAR)
    assert leftovers(site, restricted) == []


def test_a_build_waits_for_the_running_one_then_goes_on(state):
    """The lock held by another open file (as another process holds it) for half a second:
    acquire waits, says so once, naming the holder, and then takes it."""
    import threading

    held = os.open(state / buildstate.LOCK_FILE, os.O_RDWR | os.O_CREAT)
    fcntl.flock(held, fcntl.LOCK_EX)
    os.ftruncate(held, 0)
    os.write(held, json.dumps({"pid": 4343, "command": "dasa release", "started": "09:00"}).encode())
    threading.Timer(0.5, os.close, [held]).start()  # closing the file releases the lock
    said: list[str] = []
    start = time.monotonic()
    lock = buildstate.acquire(wait=30, notice=said.append)
    try:
        assert 0.4 < time.monotonic() - start < 10
        assert len(said) == 1 and "waiting up to 30 s" in said[0] and "pid 4343, `dasa release`" in said[0]
    finally:
        lock.release()


# --- killed builds (a real SIGKILL) -----------------------------------------------------------


# a `dasa release` process that imports what a build needs, then waits for a line on stdin
# before building: started ahead, its imports overlap the build before it
WARM = ("import sys\n"
        "import great_expectations, pipelines.build, pipelines.cli, pipelines.release\n"
        "sys.stdin.readline()\n"
        "sys.exit(pipelines.cli.main(sys.argv[1:]))\n")


def _ready(point: str, args: list[str], env: dict[str, str], logs: Path) -> subprocess.Popen:
    """A build process that kills itself with SIGKILL at `point` (DASA_FAULT_AT) once told to go."""
    with (logs / f"{point}.stdout").open("w") as out, (logs / f"{point}.stderr").open("w") as err:
        return subprocess.Popen([sys.executable, "-c", WARM, *args], stdin=subprocess.PIPE, stdout=out,
                                stderr=err, env={**env, buildstate.FAULT_ENV: point})


def _go(process: subprocess.Popen) -> int:
    process.stdin.write(b"go\n")
    process.stdin.close()
    return process.wait(120)


def test_killed_builds_leave_nothing_the_next_build_does_not_clear(base, small_raw, state, tmp_path):
    site, restricted, logs = tmp_path / "site", tmp_path / "restricted", tmp_path / "logs"
    logs.mkdir()
    shutil.copytree(base["site"], site)
    shutil.copytree(base["restricted"], restricted)
    release_dir, bundle = site / YEAR, restricted / YEAR
    first_run = json.loads((release_dir / "build.json").read_text())["dagster_run_id"]
    # the build killed after moving its audit bundle reads other inputs (no Birmingham return
    # for 2023-24), so its bundle is not of the release in place: the same inputs would give
    # the same provenance, and the bundle would be as good as the release's own
    other_raw = tmp_path / "other_raw"
    shutil.copytree(small_raw, other_raw)
    (other_raw / "2023-24" / "authority_returns" / "E08000025_s1.xlsx").unlink()
    args = ["--out-dir", str(release_dir), "--audit-dir", str(restricted)]
    builds = {point: _ready(point, ["release", "--raw-dir", str(raw), *args], _env(state), logs)
              for point, raw in (("audit-staged", small_raw), ("audit-moved", other_raw),
                                 ("release-renamed-old", small_raw))}

    # 1. killed with the audit bundle complete in its staging folder: the old release and bundle stand
    assert _go(builds["audit-staged"]) == -9, (logs / "audit-staged.stderr").read_text()
    assert (restricted / f"{YEAR}.writing" / "release.json").is_file()
    assert [p.name for p in site.iterdir() if ".building-" in p.name]
    assert verify(release_dir, None).ok and provenance.audit_is_of(bundle, release_dir)

    # 2. killed with the new bundle in place, the release not yet: trace says the bundle is of another build
    assert _go(builds["audit-moved"]) == -9, (logs / "audit-moved.stderr").read_text()
    cleared = (logs / "audit-moved.stdout").read_text()
    assert "Cleared what earlier builds left" in cleared and f"{YEAR}.writing" in cleared
    assert verify(release_dir, None).ok and not provenance.audit_is_of(bundle, release_dir)
    code, text = trace(FIGURE, release_dir, audit_root=restricted)
    assert code == 0 and "is of another build of 2024-25, not of this release" in text.splitlines()[5]

    # 3. killed between the two renames: no release in place, only the one moved aside ...
    assert _go(builds["release-renamed-old"]) == -9, (logs / "release-renamed-old.stderr").read_text()
    assert not release_dir.exists() and [p.name for p in site.iterdir() if ".old-" in p.name]
    # ... which the next start, under the lock, puts back: no release is lost
    with buildstate.build_lock(wait=0):
        done = buildstate.remove_leftovers([release_dir], restricted)
    assert any(line.startswith(f"restored {release_dir}") for line in done)
    assert verify(release_dir, None).ok
    assert json.loads((release_dir / "build.json").read_text())["dagster_run_id"] == first_run
    assert leftovers(site, restricted) == []

    # 4. the next build completes: the release verified, the bundle its own, nothing left over
    code, out, err = release(small_raw, release_dir, restricted)
    assert code == 0, err
    assert verify(release_dir, None).ok and provenance.audit_is_of(bundle, release_dir)
    assert leftovers(site, restricted) == []
    assert release_dir.stat().st_mode & 0o077 != 0 and bundle.stat().st_mode & 0o777 == 0o700


def test_a_failed_disclosure_audit_stops_the_build_with_the_figure_ids(small_raw, state, tmp_path, monkeypatch):
    """With secondary suppression switched off, the blocking `disclosure_audit` check fails:
    the build stops (exit 2) naming the figures the audit found, with no value, no traceback
    and nothing published. (The check's failure is told apart through the warehouse, with
    Dagster's public API only.)"""
    import pipelines.disclosure

    monkeypatch.setattr(pipelines.disclosure, "secure", lambda problem, primary, width, threshold: ({}, None))
    monkeypatch.setenv("DASA_SERIAL_DISCLOSURE", "1")
    out, audit = tmp_path / "site" / YEAR, tmp_path / "audit"
    code, _, err = release(small_raw, out, audit)
    assert code == 2, err
    assert "the disclosure audit found" in err and "Traceback" not in err
    assert f".{YEAR}" in err and "Nothing was published" in err
    assert not out.exists() and leftovers(tmp_path) == []
