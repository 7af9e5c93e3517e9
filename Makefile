# One command per intent, the same for a person and for CI.
#   make release   install what is needed (uv included) and build the latest release
#   make test      run every test (in as many processes as the machine has cores: pytest-xdist)
#   make check     lint (ruff) and type-check (pyright, basic) the code; CI runs it before the tests
#   make dev       the Dagster UI on http://127.0.0.1:3000: the graph `dasa release --final` runs, with its settings
#   make bench     time and peak memory: full and incremental builds, the floor, disclosure, provenance
#   make sample    regenerate the sample data in data/raw (deterministic)

SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.tools/bin/uv)
# every target that runs something depends on setup, which has just synced the environment:
# `uv run` need not check it again (about 0.7 s each time)
RUN := $(UV) run --frozen --quiet --no-sync

export DAGSTER_HOME := $(CURDIR)
export DASA_DAGSTER_STORAGE := $(CURDIR)/data/processed/dagster
export GX_ANALYTICS_ENABLED := False

.PHONY: setup release test check dev bench sample clean

# the project's own modules compiled once here too: with PYTHONDONTWRITEBYTECODE set, Python
# would compile them from source in every process (about 0.2 s of each `dasa` command)
setup: $(UV)
	$(UV) sync --frozen --quiet
	$(RUN) python -m compileall -q pipelines

# uv comes from PyPI into a project-local tool folder when it is not installed already
$(CURDIR)/.tools/bin/uv:
	python3 -m venv $(CURDIR)/.tools
	$(CURDIR)/.tools/bin/pip install --quiet --disable-pip-version-check uv

release: setup
	$(RUN) dasa release

test: setup
	$(RUN) pytest -n auto

# pyright's version is pinned in the lock: no asking PyPI whether a newer one is out
check: setup
	$(RUN) ruff check pipelines tests benchmarks
	PYRIGHT_PYTHON_IGNORE_WARNINGS=1 $(RUN) pyright

dev: setup
	$(RUN) dagster dev -m pipelines.definitions -h 127.0.0.1 -p 3000

bench: setup
	$(RUN) python benchmarks/build_all_years.py
	$(RUN) python benchmarks/floor.py
	$(RUN) python benchmarks/disclosure_control.py
	$(RUN) python benchmarks/provenance_overhead.py
	$(RUN) python benchmarks/extract_at_scale.py --rows $(or $(EXTRACT_ROWS),50000000) --runs 3
	$(RUN) python benchmarks/incremental_builds.py
	$(RUN) python benchmarks/validation_engines.py
	$(RUN) python benchmarks/publish_step.py
	$(RUN) python benchmarks/same_sql_over_parquet.py

sample: setup
	$(RUN) dasa sample

clean:
	rm -rf data/processed/dasa.duckdb data/processed/check.duckdb data/processed/work data/processed/dagster data/processed/releases
