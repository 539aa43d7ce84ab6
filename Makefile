# `make demo` and `make test` work on a fresh machine: they create .venv and install into it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit audit bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,all]'
	touch $(STAMP)

## demo: run the daemon on the shipped example config; alerts print here. Ctrl-C stops it.
demo: $(STAMP)
	rm -rf .demo-state
	STATE_DIRECTORY=$(CURDIR)/.demo-state $(BIN)/complaint-monitor run --config config/monitor.example.toml

## test: lint, type-check, the whole suite (PostgreSQL tests skip when no server answers), then
## pip-audit when its vulnerability database answers (it says so, and passes, when it does not).
test: $(STAMP) lint typecheck unit audit

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -n 2

audit: $(STAMP)
	$(BIN)/python .ci/audit.py

bench: $(STAMP)
	$(BIN)/python bench/pipeline.py

clean:
	rm -rf $(VENV) .demo-state .pytest_cache .mypy_cache .ruff_cache *.egg-info
