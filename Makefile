# Every target installs what it needs into .venv first, so a fresh clone needs only Python 3.11+.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
# make serve installs only what serving needs (the api extra), not the dev tool chain.
SERVE_STAMP := $(VENV)/.installed-serve
LINT_PATHS := pystator tests benchmarks examples scripts

.PHONY: install test lint format schemas bench serve examples docs-api clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP) $(SERVE_STAMP)

$(SERVE_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[api]'
	touch $(SERVE_STAMP)

install: $(STAMP)

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)
	$(BIN)/mypy
	$(BIN)/python scripts/check_layers.py
	$(BIN)/python scripts/check_sizes.py

format: install
	$(BIN)/ruff check --fix $(LINT_PATHS)
	$(BIN)/ruff format $(LINT_PATHS)

schemas: install
	$(BIN)/python -m pystator schema -o schemas/machine.schema.json

bench: install
	$(BIN)/python -m pip install -q -e '.[bench]'
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

# The main job: the API and the web UI on http://127.0.0.1:8000 (SQLite file pystator.db),
# with the example machines loaded.
serve: $(SERVE_STAMP)
	PYSTATOR_MACHINES_DIR=examples $(BIN)/python -m pystator api $(SERVE_ARGS)

docs-api: install
	$(BIN)/python scripts/gen_api_docs.py

examples: install
	$(BIN)/python examples/run_examples.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
