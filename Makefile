# Two commands for a newcomer: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SHARED_SEC := $(abspath $(CURDIR)/../shared/data/sec-fails-to-deliver)

# Use the real SEC fails-to-deliver files when they sit beside the checkout.
ifneq ($(wildcard $(SHARED_SEC)/cnsfails*.txt),)
export FAILCAST_SEC_FTD_DIR ?= $(SHARED_SEC)
endif

.PHONY: demo test lint bench clean

# --compile-bytecode: the packages' bytecode is written once, here. Where
# PYTHONDONTWRITEBYTECODE is set (as on the build machines), no import writes it, and every
# process that imports Feast, MLflow and LightGBM (each service worker, each test worker,
# each CLI call) would compile their sources again: about half of a service's start.
$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -e '.[dev,scale]'
	touch $(STAMP)

demo: $(STAMP)
	FAILCAST_HOME=$${FAILCAST_HOME:-$(CURDIR)/.failcast} $(BIN)/failcast demo

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder --durations=10

CODE := core features training serving pipelines tests benchmarks

lint: $(STAMP)
	$(BIN)/ruff check $(CODE)
	$(BIN)/ruff format --check $(CODE)
	$(BIN)/mypy
	$(BIN)/mypy tests benchmarks

bench: $(STAMP)
	$(BIN)/python -m benchmarks.simulator
	$(BIN)/python -m benchmarks.features
	$(BIN)/python -m benchmarks.training
	$(BIN)/python -m benchmarks.generalisation
	$(BIN)/python -m benchmarks.scale
	$(BIN)/python -m benchmarks.spark
	$(BIN)/python -m benchmarks.serving
	$(BIN)/python -m benchmarks.startup --home $${FAILCAST_HOME:-$(CURDIR)/.failcast}
	$(BIN)/python -m benchmarks.store_writes
	$(BIN)/python -m benchmarks.backtest
	$(BIN)/python -m benchmarks.soak
	$(BIN)/python -m benchmarks.fuzz

clean:
	rm -rf $(VENV) .failcast .pytest_cache
