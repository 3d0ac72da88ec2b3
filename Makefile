# The two commands of the README. Each sets up the virtual environment it needs, then runs.
#   make run    set up and run the pipeline on the embedded default (New Mexico, 2018)
#   make test   set up and run the test suite
# Setting up includes Quarto where it can be had offline (tools/install-quarto.sh: a no-op when
# quarto is already there or ../shared/tools/quarto is absent; the report then uses the fallback).
PYTHON ?= python3
VENV   ?= .venv
CORES  ?= 8
BIN     = $(VENV)/bin

.PHONY: run test lint clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

run: $(BIN)/.installed
	tools/install-quarto.sh $(VENV)
	$(BIN)/snakemake --cores $(CORES)

test: $(BIN)/.installed
	tools/install-quarto.sh $(VENV)
	tools/install-system-packages.sh
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(BIN)/.installed
	$(BIN)/snakemake --lint

clean:
	rm -rf results logs benchmarks/results .snakemake
