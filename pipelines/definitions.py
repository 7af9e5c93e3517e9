"""The one entry point Dagster loads (`make dev`, `dagster dev -m pipelines.definitions`): the
graph `dasa release` and `dasa check` run too (pipelines/assets.py), with the default settings,
which are those of `dasa release --final` (pipelines/resources.py)."""

from __future__ import annotations

import os

from pipelines import preflight
from pipelines.assets import build_definitions, years_in
from pipelines.paths import RAW_DIR
from pipelines.resources import DasaSettings

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

# before Dagster shows anything: what the graph needs and lacks, one sentence each (the UI
# shows the sentences as the reason the definitions cannot load)
preflight.check(RAW_DIR)

defs = build_definitions(years_in(RAW_DIR), DasaSettings())
