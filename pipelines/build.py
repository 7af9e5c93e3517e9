"""Build a release from a raw folder: the same Dagster assets as the UI, run in-process.

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

from pipelines import buildstate, provenance, validation, warehouse
from pipelines.assets import SOURCES, build_assets, disclosure_checks, years_in
from pipelines.buildstate import BuildError
from pipelines.paths import AUDIT_DIR, PROJECT_DIR, RAW_DIR, RELEASES_DIR
from pipelines.resources import DasaSettings
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
    $DASA_KEEP_WORK or 3), and only then is the warehouse reset. A full disk, a read-only or
    unwritable folder ends in a BuildError sentence naming the path, with nothing half-written
    left behind."""
    if final and draft:
        raise BuildError("a release cannot be both final and a draft")
    check_configuration()
    raw_dir = Path(raw_dir)
    if not raw_dir.is_dir():
        raise BuildError(f"the raw folder {raw_dir} does not exist")
    years = years_in(raw_dir)
    if not years:
        raise BuildError(f"{raw_dir} holds no financial-year folder (named like 2024-25)")
    year = year or years[-1]
    if year not in years:
        raise BuildError(f"{raw_dir} has no folder for {year}; it has {', '.join(years)}")
    if all_years and out_dir:
        raise BuildError("--all writes each year to data/processed/releases/<year>; it cannot take --out-dir")
    release_years = [y for y in years if y <= year] if all_years else [year]
    targets = {y: Path(out_dir) if out_dir else Path(releases_dir) / y for y in release_years}
    check_audit_location(Path(audit_dir), targets)
    db_path = Path(db_path) if db_path else work_db_for(raw_dir)
    # Final releases are kept as vintages (for revisions) beside the releases folder; a build
    # written elsewhere (out_dir) keeps and compares with none unless vintages_dir is given.
    if vintages_dir is None and not out_dir:
        vintages_dir = Path(releases_dir).parent / "vintages"
    check_folders(targets, Path(audit_dir), bool(out_dir))

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
            buildstate.reset_warehouse(db_path)  # under the lock: no other build holds it
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


def check_configuration() -> None:
    """Read the metric definitions (assets/metrics/*.yaml) and the release configuration
    (reports/release.yaml) before any work: a file that does not match its model
    (pipelines/config_models.py) or fails a check of its values stops the build with one
    sentence naming the file, and for a key the key and its line (BuildError)."""
    from pipelines import metric_catalog
    from pipelines.release.config import ConfigError, load_config

    try:
        metric_catalog.relations(metric_catalog.METRICS_DIR)
        load_config()
    except (ConfigError, metric_catalog.MetricDefinitionError) as exc:
        raise BuildError(f"{exc}. Nothing was built; correct the file and build again.") from None


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


def _build(raw_dir, years, year, release_years, targets, db_path, releases_dir, out_dir, draft, vintages_dir,
           instance, echo, final, audit_dir, protection_width) -> BuildResult:
    """The build itself, under the lock (build_release)."""
    settings = DasaSettings(
        raw_dir=str(raw_dir.resolve()), db_path=str(db_path.resolve()),
        releases_dir=str(Path(releases_dir).resolve()),
        out_dir=str(Path(out_dir).resolve()) if out_dir else "", draft=draft,
        vintages_dir=str(Path(vintages_dir).resolve()) if vintages_dir else "",
        audit_dir=str(Path(audit_dir).resolve()), protection_width=protection_width,
    )
    assets = build_assets(years)
    # the validation suites, run after the assets they check, and the disclosure audit
    checks = [*validation.asset_checks(), *disclosure_checks()]
    resources = {"dasa": settings}
    if instance is None:
        dagster_environment()
        # "memory": keep no run history (the tests' builds; the UI shows none of them)
        memory = dagster_storage() == "memory"
        instance = dg.DagsterInstance.ephemeral() if memory else dg.DagsterInstance.get()

    def run(selection: list[str], partition_key: str | None = None, partition_range: tuple[str, str] | None = None) -> None:
        tags = {"dagster/asset_partition_range_start": partition_range[0],
                "dagster/asset_partition_range_end": partition_range[1]} if partition_range else {}
        # the suites run on the years this build publishes (earlier years, read for the change
        # figures, are validated when their own release is built)
        tags[validation.VALIDATE_YEARS_TAG] = ",".join(release_years)
        try:
            result = dg.materialize([*assets, *checks], selection=selection, partition_key=partition_key,
                                    tags=tags, resources=resources, instance=instance, raise_on_error=True,
                                    # CRITICAL: a failed check is reported below, not as Dagster's stack trace
                                    run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}})
        except (dg.DagsterExecutionStepExecutionError, UnprotectableError) as exc:
            cause = exc if isinstance(exc, UnprotectableError) else exc.user_exception
            if isinstance(cause, UnprotectableError):
                raise BuildError(f"disclosure control cannot protect every suppressed figure: {cause}. "
                                 "Nothing was published; the table is too small to publish at authority level "
                                 "as it stands (report it with the build's warehouse).") from None
            from pipelines.release.config import ConfigError

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
                summary = validation.blocking_summary(con, release_years)
            if summary is None:
                raise
            raise BuildError(f"{summary}\nFix the inputs, or build a draft (a draft is not stopped by them).") from None
        if not result.success:  # pragma: no cover - raise_on_error raises first
            raise BuildError(f"the build of {selection} failed")

    shown = [y for y in years if y <= year]
    step, steps = 1, 2 + len(release_years)
    try:
        span = shown[0] if len(shown) == 1 else f"{shown[0]} to {shown[-1]}"
        echo(f"[{step}/{steps}] Reading the inputs of {span}")
        run([f"raw_{s}" for s in SOURCES], partition_range=(shown[0], shown[-1]))
        step += 1
        echo(f"[{step}/{steps}] Computing the metrics in DuckDB and applying disclosure control")
        # the gate needs only the returns in use: refuse (or report a bad decisions file) before the metrics
        run(["reference", "stg_authority_returns__returns"])
        gates = {y: release_gate(db_path, raw_dir, [x for x in years if x <= y]) for y in release_years}
        if final:
            refused = {y: a for y, a in gates.items() if a.blocking}
            if refused:
                raise BuildError(refusal_message(refused, raw_dir))
        run([a.key.to_user_string() for a in assets if a.partitions_def is None])
        step += 1
        for y in release_years:
            echo(f"[{step}/{steps}] Writing the {y} release")
            run(["release"], partition_key=y)
            step += 1
    finally:
        warehouse.close_all()

    with warehouse.connect(db_path, read_only=True) as con:
        expected, received = warehouse.one_row(con.execute(
            "SELECT count(*), count(*) FILTER (WHERE received) FROM stg_authority_returns__returns "
            "WHERE financial_year = ?", [year]))
        quarantined, warnings, cell_errors = warehouse.one_row(con.execute(
            "SELECT count(DISTINCT file) FILTER (WHERE level = 'structural'), "
            "count(*) FILTER (WHERE level = 'warning'), count(*) FILTER (WHERE level = 'cell_error') "
            "FROM raw_issues WHERE financial_year = ?", [year]))
    open_errors = gates[year].open_errors.height
    return BuildResult(year, targets[year], db_path, expected, received, quarantined, warnings, cell_errors,
                       draft=draft or open_errors > 0, open_errors=open_errors,
                       audit_dir=provenance.audit_dir_for(year, Path(audit_dir).resolve()))


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


def release_gate(db_path: Path, raw_dir: Path, years: list[str]):
    """The assessment of every issue of the years a release shows (pipelines/quality.py)."""
    from pipelines.quality import DecisionsError, assess

    with warehouse.connect(db_path, read_only=True) as con:
        try:
            return assess(con, raw_dir, years)
        except DecisionsError as exc:
            raise BuildError(str(exc)) from None


def refusal_message(refused: dict, raw_dir: Path, limit: int = 25) -> str:
    lines = []
    for year, assessment in refused.items():
        n = assessment.open_errors.height
        lines.append(f"refusing to build the final {year} release: {n} error{'s' if n != 1 else ''} of the years "
                     f"it shows {'are' if n != 1 else 'is'} neither fixed by a resubmission nor accepted:")
        lines += [f"  {line}" for line in assessment.open_lines(limit)]
    lines.append(f"Ask the authority for a corrected return, or accept each one (with a reason) in "
                 f"{raw_dir}/<year>/decisions.yaml; 'dasa check --year <year>' writes the query lists. "
                 f"Without --final, 'dasa release' builds a DRAFT.")
    return "\n".join(lines)
