"""The one entry point Dagster loads (`make dev`, `dagster dev -m pipelines.definitions`)."""

from __future__ import annotations

import os

import dagster as dg

from pipelines import validation
from pipelines.assets import build_assets, disclosure_checks, years_in
from pipelines.paths import RAW_DIR
from pipelines.resources import DasaSettings

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

defs = dg.Definitions(
    assets=build_assets(years_in(RAW_DIR)),
    asset_checks=[*validation.asset_checks(), *disclosure_checks()],
    resources={"dasa": DasaSettings()},
    executor=dg.in_process_executor,
)
