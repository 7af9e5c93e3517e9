"""The one Dagster resource: where the pipeline reads and writes."""


from pathlib import Path

import dagster as dg

from pipelines import warehouse
from pipelines.paths import AUDIT_DIR, PROCESSED_DIR, RAW_DIR, RELEASES_DIR, VINTAGES_DIR


class DasaSettings(dg.ConfigurableResource):
    """Folders, the warehouse file and what kind of release to build. The defaults are what
    `dasa release --final` builds: the latest year of data/raw into the project's own folders,
    refused while an error is open (the UI of `make dev` uses them as they are)."""

    raw_dir: str = str(RAW_DIR)
    db_path: str = str(PROCESSED_DIR / "dasa.duckdb")
    releases_dir: str = str(RELEASES_DIR)
    out_dir: str = ""  # when set, the release is written here instead of releases_dir/<year>
    # restricted: the audit bundle of each year goes to audit_dir/<year>/, wherever the release goes
    audit_dir: str = str(AUDIT_DIR)
    draft: bool = False
    # the release gate (a blocking asset check) refuses the build while an error of the years
    # a release shows is open; False builds it all the same, marked DRAFT (`dasa release`
    # without --final)
    final: bool = True
    # the years whose releases are built: the gate and the validation suites cover them, and
    # the release assets build no other; empty: the latest year of raw_dir (`dasa release`)
    release_years: list[str] = []
    # final releases kept for comparison (revisions), outside the publishable folder; "" keeps none
    vintages_dir: str = str(VINTAGES_DIR)
    # fewest values every suppressed count must keep for an intruder with every public file
    # (decision 0012); 0 protects against exact recovery only, for hand-made test worlds of a
    # few authorities that no pattern short of suppressing England could protect further
    protection_width: int = 5

    def years_published(self) -> list[str]:
        """The years whose releases these settings build (release_years, or the latest year
        of raw_dir)."""
        from pipelines.assets import years_in

        return list(self.release_years) or years_in(Path(self.raw_dir))[-1:]

    def disclosure(self):
        """The disclosure settings of this build."""
        from pipelines.disclosure import DisclosureSettings

        return DisclosureSettings(protection_width=self.protection_width)

    def connect(self, read_only: bool = False):
        """The warehouse; for writing, a run of the Dagster UI (`make dev`) first takes the
        build lock for the project's warehouses, as `dasa release` does (decision 0013)."""
        if not read_only:
            from pipelines.buildstate import hold_for_warehouse

            hold_for_warehouse(Path(self.db_path))
        return warehouse.connect(Path(self.db_path), read_only=read_only)
