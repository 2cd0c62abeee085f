# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: help demo test lint typecheck pytest unit integration chaos fmt unasync bench clean ensure-redis certify

help:
	@echo "make demo   - create .venv, install, run 'rfsdk demo' on an embedded redis-server"
	@echo "make test   - install what is missing, then ruff, mypy --strict and the whole pytest suite"
	@echo "make fmt    - ruff format + fix;  make unasync - regenerate the sync twins"
	@echo "make bench  - run the benchmarks side by side with raw redis-py"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed-cli: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[cli]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev,prometheus,otel]'
	touch $@ $(VENV)/.installed-cli

ensure-redis:
	@bash scripts/ensure-redis.sh

demo: ensure-redis $(VENV)/.installed-cli
	$(BIN)/rfsdk demo

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python scripts/unasync.py --check

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

pytest: ensure-redis $(VENV)/.installed-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

unit: $(VENV)/.installed-dev
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

integration: ensure-redis $(VENV)/.installed-dev
	$(BIN)/python -m pytest tests/integration $(PYTEST_ARGS)

chaos: ensure-redis $(VENV)/.installed-dev
	$(BIN)/python -m pytest tests/chaos $(PYTEST_ARGS)

test: lint typecheck pytest

# Full chaos/fuzz counts + a 30 min soak; writes reports/certify.{json,md}. SOAK=seconds.
certify: ensure-redis $(VENV)/.installed-dev
	$(BIN)/python scripts/certify.py --soak-seconds $(or $(SOAK),1800)

fmt: $(VENV)/.installed-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

unasync: $(VENV)/.installed-dev
	$(BIN)/python scripts/unasync.py

bench: ensure-redis $(VENV)/.installed-dev
	$(BIN)/python benchmarks/codec.py

clean:
	rm -rf $(VENV) build dist .mypy_cache .ruff_cache .hypothesis
