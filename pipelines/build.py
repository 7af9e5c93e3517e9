"""Build a release from a raw folder, and read one for `dasa check`: selections of the one
Dagster graph the UI loads (pipelines/assets.py `build_definitions`), run in-process with the
settings of the build.

Every build starts from an empty warehouse, so what is published depends only on the raw
folder, the reference data and the code.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from pipelines import buildstate, preflight, provenance, validation, warehouse
from pipelines.assets import CHECK_JOB, SOURCES, build_definitions, years_in
from pipelines.buildstate import BuildError
from pipelines.paths import AUDIT_DIR, PROJECT_DIR, RAW_DIR, RELEASES_DIR
from pipelines.release_assets import RELEASE_ASSETS, gate_open_errors, gate_refusals
from pipelines.resources import DasaSettings
from pipelines.release.config import ConfigError, load_config
from pipelines.suppression import UnprotectableError

__all__ = ["BuildError", "BuildResult", "build_release", "work_db_for"]


@dataclass(frozen=True)
class BuildResult:
    year: str
    release_dir: Path
    db_path: Path
    returns_expected: int
    returns_received: int
    quarantined: int
    warnings: int
    cell_errors: int
    draft: bool = False
    open_errors: int = 0  # errors of the years shown neither fixed by a resubmission nor accepted
    audit_dir: Path | None = None  # the restricted audit bundle of the year (never published)
    # the assets (and year partitions) this build found as the last one left them, and those it made
    reused: tuple[str, ...] = ()
    made: tuple[str, ...] = ()


def dagster_storage() -> str:
    """Where Dagster keeps its run history: `$DASA_DAGSTER_STORAGE`, else the state folder's
    `dagster/` (pipelines/buildstate.py); "memory" keeps none."""
    return os.environ.get("DASA_DAGSTER_STORAGE") or str(buildstate.state_dir() / "dagster")


def dagster_environment() -> None:
    """Dagster's home and storage stay inside the project (the state folder,
    pipelines/buildstate.py); telemetry is off (dagster.yaml)."""
    os.environ.setdefault("DAGSTER_HOME", str(PROJECT_DIR))
    os.environ.setdefault("DASA_DAGSTER_STORAGE", dagster_storage())
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")


def work_db_for(raw_dir: Path) -> Path:
    """The warehouse file for a raw folder: the project's own (data/processed/dasa.duckdb),
    or one per other folder (data/processed/work/<hash>/dasa.duckdb, with a record of the raw
    folder beside it; pipelines/buildstate.py prunes them). Under $DASA_STATE_DIR when set."""
    raw_dir = raw_dir.resolve()
    if raw_dir == RAW_DIR.resolve():
        return buildstate.state_dir() / "dasa.duckdb"
    digest = hashlib.sha256(str(raw_dir).encode()).hexdigest()[:12]
    return buildstate.work_root() / digest / "dasa.duckdb"


def check_db_for(raw_dir: Path) -> Path:
    """The warehouse `dasa check` reads a raw folder into: `check.duckdb` beside the build's
    (work_db_for), so a check never replaces what the last build left."""
    return work_db_for(raw_dir).with_name("check.duckdb")


def read_for_check(raw_dir: Path, years: list[str], wait: float = buildstate.DEFAULT_WAIT,
                   instance: dg.DagsterInstance | None = None):
    """`dasa check`'s reading, by the job `check_inputs` of the same graph: the inputs of
    `years` (consecutive years of the raw folder), the reference tables, the returns in use
    and the validation suites of the raw tables, into a fresh check warehouse under the build
    lock. Returns it opened read-only (the caller closes it); a bad decisions file is not read
    here (pipelines/quality.py assesses the issues). The run is kept in no Dagster storage
    (an ephemeral instance): the UI would show the assets materialized, which they are not in
    its warehouse."""
    raw_dir = Path(raw_dir)
    db_path = check_db_for(raw_dir)
    # validation failures are reported by `dasa check`, not raised: the settings of a draft
    settings = DasaSettings(raw_dir=str(raw_dir.resolve()), db_path=str(db_path.resolve()), draft=True,
                            final=False, release_years=list(years))
    with buildstate.build_lock(wait):
        buildstate.reset_warehouse(db_path)
        buildstate.record_work(db_path, raw_dir)
        job = build_definitions(years_in(raw_dir), settings).resolve_job_def(CHECK_JOB)
        try:
            run_selection(job, None, instance or dg.DagsterInstance.ephemeral(), db_path, raw_dir, list(years),
                          partition_range=(years[0], years[-1]))
        finally:
            warehouse.close_all()
    import duckdb

    return duckdb.connect(str(db_path), read_only=True, config=warehouse.duckdb_config(db_path))


def build_release(
    raw_dir: Path = RAW_DIR,
    year: str | None = None,
    out_dir: Path | None = None,
    db_path: Path | None = None,
    releases_dir: Path = RELEASES_DIR,
    draft: bool = False,
    vintages_dir: Path | None = None,
    instance: dg.DagsterInstance | None = None,
    echo: Callable[[str], None] = lambda s: None,
    all_years: bool = False,
    final: bool = False,
    audit_dir: Path = AUDIT_DIR,
    protection_width: int = 5,
    wait: float = buildstate.DEFAULT_WAIT,
    notice: Callable[[str], None] | None = None,
    keep_work: int | None = None,
    clean: bool = False,
) -> BuildResult:
    """Build the release of `year` (default: the latest), or of every year with `all_years`.

    The release is a DRAFT while an error of the years it shows is neither fixed by a
    resubmission nor accepted in `<raw>/<year>/decisions.yaml` (pipelines/quality.py), or
    when `draft` is set. With `final`, an open error stops the build (BuildError naming
    each one) before anything is written.

    The restricted audit bundle of each year goes to `<audit_dir>/<year>/`, wherever the
    release goes; a build whose audit folder is in, beside or above a release folder stops
    (BuildError) before anything is written.

    One build at a time (pipelines/buildstate.py, decision 0013): the release folder's parent
    and the audit folder are checked writable first, then the build lock is taken, waiting up
    to `wait` seconds for a running build (one line to `notice`). Under it, what an
    interrupted build left is removed (one line to `echo`), the work warehouses of raw
    folders gone or least recently used are pruned (all but `keep_work`, default
    $DASA_KEEP_WORK or 3), and only then is the warehouse kept or reset: kept when it was built
    by the same code from the same raw folder for the same years, so that what did not change
    is not done again (pipelines/fingerprints.py); reset otherwise, or with `clean`. A full disk, a read-only or
    unwritable folder ends in a BuildError sentence naming the path, with nothing half-written
    left behind."""
    if final and draft:
        raise BuildError("a release cannot be both final and a draft")
    raw_dir = Path(raw_dir)
    # before any work: every missing prerequisite, one sentence each (pipelines/preflight.py)
    found = preflight.raw_folder_problems(raw_dir, year)
    if found:
        raise preflight.PreflightError(found + preflight.configuration_problems())
    years = years_in(raw_dir)
    year = year or years[-1]
    release_years = [y for y in years if y <= year] if all_years else [year]
    # --all with an out-dir: each year in <out-dir>/<year>/
    targets = {y: (Path(out_dir) / y if all_years else Path(out_dir)) if out_dir else Path(releases_dir) / y
               for y in release_years}
    option = "--out-dir" if out_dir else "the releases folder"
    preflight.check(raw_dir, year, final_years=release_years if final else (),
                    outputs=[*((option, t) for t in targets.values()), ("--audit-dir", Path(audit_dir))])
    check_audit_location(Path(audit_dir), targets)
    db_path = Path(db_path) if db_path else work_db_for(raw_dir)
    # Final releases are kept as vintages (for revisions) beside the releases folder; a build
    # written elsewhere (out_dir) keeps and compares with none unless vintages_dir is given.
    if vintages_dir is None and not out_dir:
        vintages_dir = Path(releases_dir).parent / "vintages"
    check_folders(targets, Path(audit_dir), bool(out_dir))
    if all_years and out_dir:  # the release step writes <releases_dir>/<year>: here, <out-dir>/<year>
        releases_dir, out_dir = Path(out_dir), None

    def clear_leftovers() -> list[str]:
        return buildstate.remove_leftovers(list(targets.values()), Path(audit_dir), vintages_dir,
                                           None if out_dir else Path(releases_dir))

    with buildstate.build_lock(wait, notice):
        try:
            done = clear_leftovers()
            keep = buildstate.keep_work_setting() if keep_work is None else keep_work
            done += buildstate.prune_work(keep, current=db_path.parent)
            if done:
                echo("Cleared what earlier builds left: " + "; ".join(done))
            # under the lock: no other build holds it
            keep_or_reset_warehouse(db_path, raw_dir, [y for y in years if y <= year], clean)
            buildstate.record_work(db_path, raw_dir)
            return _build(raw_dir, years, year, release_years, targets, db_path, releases_dir, out_dir, draft,
                          vintages_dir, instance, echo, final, audit_dir, protection_width)
        except BaseException as exc:
            try:
                warehouse.close_all()
                clear_leftovers()  # ours: nothing half-written is left
            except OSError:
                pass
            if isinstance(exc, BuildError):
                raise
            fault = buildstate.find_fault(exc)
            if fault is None or not isinstance(exc, Exception):
                raise
            raise BuildError(fault_message(fault, targets, Path(audit_dir), vintages_dir, db_path)) from None


def keep_or_reset_warehouse(db_path: Path, raw_dir: Path, shown: list[str], clean: bool = False) -> bool:
    """Keep the warehouse of an earlier build when it was made by this code from this raw
    folder for these years (its assets then redo only what changed, pipelines/fingerprints.py);
    otherwise, or when `clean`, or when it cannot be opened, start it empty. True when kept."""
    import duckdb

    from pipelines import fingerprints

    expected = fingerprints.digest(fingerprints.code_version(), str(Path(raw_dir).resolve()), shown)
    if not clean and Path(db_path).is_file():
        try:
            with warehouse.connect(db_path) as con:
                if fingerprints.recorded(con, fingerprints.WAREHOUSE) == expected:
                    return True
        except duckdb.Error:
            pass  # not a warehouse it can read: it starts again
        finally:
            warehouse.close_all()
    buildstate.reset_warehouse(db_path)
    with warehouse.connect(db_path) as con:
        fingerprints.record(con, fingerprints.WAREHOUSE, expected)
    return False


def check_folders(targets: dict[str, Path], audit_dir: Path, out_dir_given: bool) -> None:
    """Stop (BuildError) before any work when a release folder or the audit folder cannot
    be made and written (a path under a file, a read-only disk, no permission)."""
    option = "--out-dir" if out_dir_given else "the releases folder"
    for target in targets.values():
        if target.exists() and not target.is_dir():
            raise BuildError(f"{option} {target} is a file, not a folder; choose another folder. Nothing was built.")
        buildstate.check_writable(target.absolute().parent, f"{option} {target}: its parent folder")
    buildstate.check_writable(audit_dir, "--audit-dir")


def fault_message(fault: BaseException, targets: dict[str, Path], audit_dir: Path,
                  vintages_dir: Path | None, db_path: Path) -> str:
    """One sentence for an OSError or DuckDB I/O error: what failed, where, the reason in
    words and what to do, and what it leaves."""
    places = [(db_path.parent, "writing the warehouse"),
              (buildstate.state_dir(), "writing the build's working files"),
              (Path(dagster_storage()),
               "recording the run in Dagster's storage"),
              (audit_dir, "writing the restricted audit bundle")]
    places += [(t.absolute().parent, f"writing the {y} release") for y, t in targets.items()]
    if vintages_dir is not None:
        places.append((Path(vintages_dir), "keeping the release as a vintage"))
    path = buildstate.fault_path(fault)
    doing = "the build"
    if path is not None:
        resolved = path.absolute().resolve()
        inside = [(len(p.absolute().resolve().parts), what) for p, what in places
                  if resolved == p.absolute().resolve() or p.absolute().resolve() in resolved.parents]
        if inside:
            doing = max(inside)[1]
    text = buildstate.fault_sentence(fault, doing.capitalize(), path)
    if doing == "keeping the release as a vintage":
        published = ", ".join(str(t) for t in targets.values())
        return text + (f" The release in {published} is complete and published; it is kept as a vintage "
                       f"(for revisions) when it is built again.")
    return text + " Nothing half-written is left; a release already in place is unchanged."


QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}  # what fails is told below, not as a trace


def dagster_instance() -> dg.DagsterInstance:
    """The Dagster instance of a build: the project's (its runs are in the UI's history), or
    one that keeps nothing when $DASA_DAGSTER_STORAGE is "memory" (the tests' builds)."""
    dagster_environment()
    return dg.DagsterInstance.ephemeral() if dagster_storage() == "memory" else dg.DagsterInstance.get()


def run_selection(job: dg.JobDefinition, selection: list[str] | None, instance: dg.DagsterInstance, db_path: Path,
                  raw_dir: Path, years: list[str], partition_key: str | None = None,
                  partition_range: tuple[str, str] | None = None) -> dg.ExecuteInProcessResult:
    """Run some assets of the graph (with their checks, as the job selects them; None: the
    whole job) in this process; a failure a person can act on ends in a BuildError sentence: a bad decisions
    file, figures disclosure control cannot protect, or a blocking check that failed (told
    apart through what the checks wrote to the warehouse: the disclosure audit, the
    validation suites of `years`, the release gate)."""
    from pipelines.quality import DecisionsError

    tags = {"dagster/asset_partition_range_start": partition_range[0],
            "dagster/asset_partition_range_end": partition_range[1]} if partition_range else {}
    try:
        keys = None if selection is None else [dg.AssetKey(k) for k in selection]
        result = job.execute_in_process(asset_selection=keys, instance=instance,
                                        partition_key=partition_key, tags=tags, raise_on_error=True,
                                        run_config=QUIET)
    except DecisionsError as exc:  # raised by the release gate
        raise BuildError(str(exc)) from None
    except (dg.DagsterExecutionStepExecutionError, UnprotectableError, ConfigError) as exc:
        # an in-process run raises what a step raised as it is (raise_on_error): the wrapper
        # is handled too, for a run that wraps it
        cause = exc.user_exception if isinstance(exc, dg.DagsterExecutionStepExecutionError) else exc
        if isinstance(cause, UnprotectableError):
            raise BuildError(f"disclosure control cannot protect every suppressed figure: {cause}. "
                             "Nothing was published; the table is too small to publish at authority level "
                             "as it stands (report it with the build's warehouse).") from None
        if isinstance(cause, ConfigError):  # found writing the release: the commentary quotes no such figure
            raise BuildError(f"{cause}. Nothing was published; correct the file and build again.") from None
        raise
    except dg.DagsterError:
        # a blocking asset check failed (Dagster's public API names no class for it): the
        # checks wrote what failed to the warehouse, which says which one it was
        with warehouse.connect(db_path) as con:
            audit = disclosure_summary(con)
            if audit:
                raise BuildError(audit) from None
            summary = validation.blocking_summary(con, years)
            refused = gate_refusals(con)
        if summary is not None:
            raise BuildError(f"{summary}\nFix the inputs, or build a draft (a draft is not stopped by them).") from None
        if refused:
            raise BuildError(refusal_message(refused, raw_dir)) from None
        raise
    if not result.success:  # pragma: no cover - raise_on_error raises first
        raise BuildError(f"the build of {selection} failed")
    return result


def reuse_of(result: dg.ExecuteInProcessResult, partition_key: str | None = None) -> tuple[list[str], list[str]]:
    """The assets a run found unchanged (their `reused` metadata) and those it made, each
    named with its year where it has one."""
    reused, made = [], []
    for event in result.get_asset_materialization_events():
        mat = event.event_specific_data.materialization  # pyright: ignore[reportOptionalMemberAccess,reportAttributeAccessIssue]
        partition = mat.partition or partition_key
        name = mat.asset_key.to_user_string() + (f" {partition}" if partition else "")
        flag = mat.metadata.get("reused")
        years = mat.metadata.get("years_reused")  # a run of several years: those found unchanged
        if years is not None:
            listed = getattr(years, "value", years)
            was_reused = isinstance(listed, list) and partition in listed
        else:
            was_reused = flag is not None and getattr(flag, "value", flag) is True
        (reused if was_reused else made).append(name)
    return reused, made


def _build(raw_dir, years, year, release_years, targets, db_path, releases_dir, out_dir, draft, vintages_dir,
           instance, echo, final, audit_dir, protection_width) -> BuildResult:
    """The build itself, under the lock (build_release): selections of the one graph
    (pipelines/assets.py, as `make dev` loads it), with this build's settings."""
    settings = DasaSettings(
        raw_dir=str(raw_dir.resolve()), db_path=str(db_path.resolve()),
        releases_dir=str(Path(releases_dir).resolve()),
        out_dir=str(Path(out_dir).resolve()) if out_dir else "", draft=draft, final=final,
        release_years=release_years,
        vintages_dir=str(Path(vintages_dir).resolve()) if vintages_dir else "",
        audit_dir=str(Path(audit_dir).resolve()), protection_width=protection_width,
    )
    defs = build_definitions(years, settings)
    job = defs.resolve_implicit_global_asset_job_def()
    instance = instance or dagster_instance()

    reused: list[str] = []
    made: list[str] = []

    def run(selection: list[str], partition_key: str | None = None,
            partition_range: tuple[str, str] | None = None) -> None:
        try:
            result = run_selection(job, selection, instance, db_path, raw_dir, release_years, partition_key,
                                   partition_range)
        finally:
            # DuckDB gives back the memory a run's queries took only when its connection is
            # closed: the next run opens the warehouse again (decision 0024)
            warehouse.close_all()
        got = reuse_of(result, partition_key)
        # an asset run twice in one build (the gate's run, then the rest) was made by the first
        reused.extend(n for n in got[0] if n not in made and n not in reused)
        made.extend(n for n in got[1] if n not in made)

    shown = [y for y in years if y <= year]
    step, steps = 1, 2 + len(release_years)
    span = shown[0] if len(shown) == 1 else f"{shown[0]} to {shown[-1]}"
    echo(f"[{step}/{steps}] Reading the inputs of {span}")
    run([f"raw_{s}" for s in SOURCES], partition_range=(shown[0], shown[-1]))
    step += 1
    echo(f"[{step}/{steps}] Computing the metrics in DuckDB and applying disclosure control")
    # the release gate (a blocking check on the returns in use) needs only these: a final
    # build with an open error, or a bad decisions file, stops here, before the metrics
    run(["reference", "stg_authority_returns__returns"])
    run([k.to_user_string() for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition)
         and a.partitions_def is None for k in a.keys])
    step += 1
    for y in release_years:
        echo(f"[{step}/{steps}] Writing the {y} release")
        run(list(RELEASE_ASSETS), partition_key=y)
        step += 1

    with warehouse.connect(db_path, read_only=True) as con:
        expected, received = warehouse.one_row(con.execute(
            "SELECT count(*), count(*) FILTER (WHERE received) FROM stg_authority_returns__returns "
            "WHERE financial_year = ?", [year]))
        quarantined, warnings, cell_errors = warehouse.one_row(con.execute(
            "SELECT count(DISTINCT file) FILTER (WHERE level = 'structural'), "
            "count(*) FILTER (WHERE level = 'warning'), count(*) FILTER (WHERE level = 'cell_error') "
            "FROM raw_issues WHERE financial_year = ?", [year]))
        open_errors = gate_open_errors(con, year)
    return BuildResult(year, targets[year], db_path, expected, received, quarantined, warnings, cell_errors,
                       draft=draft or open_errors > 0 or bool(load_config().unfinished(year)), open_errors=open_errors,
                       audit_dir=provenance.audit_dir_for(year, Path(audit_dir).resolve()),
                       reused=tuple(reused), made=tuple(made))


def check_audit_location(audit_dir: Path, targets: dict[str, Path]) -> None:
    """Stop (BuildError) when the audit bundle of a year would be in, beside or above its
    release folder, where publishing the release would publish it too."""
    for y, target in targets.items():
        problem = provenance.audit_location_problem(audit_dir, y, target)
        if problem:
            raise BuildError(f"refusing to build: {problem}.")


def disclosure_summary(con, limit: int = 25) -> str | None:
    """The under-protected figures the disclosure audit found (ids only, no values), or None."""
    from pipelines.release_assets import AUDIT_TABLE, INTERVALS_TABLE

    if not warehouse.table_exists(con, AUDIT_TABLE) or not con.execute(f"SELECT sum(under_protected) FROM {AUDIT_TABLE}").fetchone()[0]:
        return None
    width = con.execute(f"SELECT max(protection_width) FROM {AUDIT_TABLE}").fetchone()[0]
    ids = [r[0] for r in con.execute(
        f"SELECT DISTINCT figure_id FROM {INTERVALS_TABLE} WHERE feasible_values < ? ORDER BY 1", [width]).fetchall()]
    lines = [f"the disclosure audit found {len(ids)} suppressed figure(s) that the published figures narrow to "
             f"fewer than {width} values:"] + [f"  {i}" for i in ids[:limit]]
    if len(ids) > limit:
        lines.append(f"  ... and {len(ids) - limit} more (table {INTERVALS_TABLE})")
    lines.append("Nothing was published. This is a fault in disclosure control, not in the inputs: report it with "
                 "the build's warehouse (data/processed/dasa.duckdb).")
    return "\n".join(lines)


def refusal_message(refused: dict[str, tuple[int, list[str]]], raw_dir: Path) -> str:
    """Why a final build stops: each release year's open errors, as the release gate found
    them (release_assets.gate_refusals)."""
    lines = []
    for year, (n, open_lines) in refused.items():
        lines.append(f"refusing to build the final {year} release: {n} error{'s' if n != 1 else ''} of the years "
                     f"it shows {'are' if n != 1 else 'is'} neither fixed by a resubmission nor accepted:")
        lines += [f"  {line}" for line in open_lines]
    lines.append(f"Ask the authority for a corrected return, or accept each one (with a reason) in "
                 f"{raw_dir}/<year>/decisions.yaml; 'dasa check --year <year>' writes the query lists. "
                 f"Without --final, 'dasa release' builds a DRAFT.")
    return "\n".join(lines)
