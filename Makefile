# Switchboard: `make run` sets up and serves the demo; `make test` sets up and runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
# PyPI's torch wheel for Linux carries CUDA (several GB); the CPU build of the same version
# comes from PyTorch's own index (used when reachable). Set TORCH_INDEX= (empty) to take torch
# from PyPI alone.
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
TORCH := torch==2.13.0

.PHONY: setup run test lint bench eval clean

setup: $(STAMP)

# Reinstalls only when pyproject.toml changes. The CPU build of torch goes in first; pyproject.toml
# pins the same torch==2.13.0, so installing the project next can never upgrade it.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	index=""; if [ -n "$(TORCH_INDEX)" ] && $(BIN)/python -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=10)' '$(TORCH_INDEX)/torch/' >/dev/null 2>&1; \
	  then index="--extra-index-url $(TORCH_INDEX)"; else echo "$(TORCH_INDEX) unreachable: torch comes from the default index"; fi; \
	$(BIN)/python -m pip install --quiet $$index '$(TORCH)'
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The chat service, with the demo orders service (what the demo intents call) on loopback.
run: setup
	PYTHON=$(BIN)/python scripts/run_demo.sh $(HOST) $(PORT)

test: lint
	$(BIN)/python -m pytest

# Style, then the structure rules (docs/architecture.md): layers, purity, no cycles; then
# types (mypy) and dead code (vulture), both configured in pyproject.toml.
lint: setup
	$(BIN)/ruff check app tests scripts
	$(BIN)/ruff format --check app tests scripts
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/vulture

bench: setup
	$(BIN)/python scripts/bench_turn.py --write

eval: setup
	$(BIN)/python scripts/eval_retrieval.py --write
	$(BIN)/python scripts/calibrate_threshold.py --write

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache .mypy_cache
