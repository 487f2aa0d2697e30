# Switchboard: `make run` sets up and serves the demo; `make test` sets up and runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: setup run test lint bench eval clean

setup: $(STAMP)

# Reinstalls only when pyproject.toml changes. torch is pinned (torch==2.13.0) in pyproject.toml
# and installed in the same pip command as sentence-transformers, so nothing upgrades it.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: setup
	$(BIN)/python -m app serve --host $(HOST) --port $(PORT)

test: setup
	$(BIN)/ruff check app tests scripts
	$(BIN)/ruff format --check app tests scripts
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check app tests scripts
	$(BIN)/ruff format --check app tests scripts

bench: setup
	$(BIN)/python scripts/bench_turn.py --write

eval: setup
	$(BIN)/python scripts/eval_retrieval.py --write
	$(BIN)/python scripts/calibrate_threshold.py --write

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache
