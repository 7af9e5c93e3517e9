"""The one Dagster resource: where the pipeline reads and writes."""


from pathlib import Path

import dagster as dg

from pipelines import warehouse
from pipelines.paths import AUDIT_DIR, PROCESSED_DIR, RAW_DIR, RELEASES_DIR, VINTAGES_DIR


class DasaSettings(dg.ConfigurableResource):
    """Folders and the warehouse file. Defaults are the project's own folders."""

    raw_dir: str = str(RAW_DIR)
    db_path: str = str(PROCESSED_DIR / "dasa.duckdb")
    releases_dir: str = str(RELEASES_DIR)
    out_dir: str = ""  # when set, the release is written here instead of releases_dir/<year>
    # restricted: the audit bundle of each year goes to audit_dir/<year>/, wherever the release goes
    audit_dir: str = str(AUDIT_DIR)
    draft: bool = False
    # final releases kept for comparison (revisions), outside the publishable folder; "" keeps none
    vintages_dir: str = str(VINTAGES_DIR)
    # fewest values every suppressed count must keep for an intruder with every public file
    # (decision 0012); 0 protects against exact recovery only, for hand-made test worlds of a
    # few authorities that no pattern short of suppressing England could protect further
    protection_width: int = 5

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
