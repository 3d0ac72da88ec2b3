# The two commands of the README. Each sets up the virtual environment it needs, then runs.
#   make run    set up and run the pipeline on the embedded default (New Mexico, 2018)
#   make test   set up and run the test suite
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
	$(BIN)/snakemake --cores $(CORES)

test: $(BIN)/.installed
	tools/install-system-packages.sh
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(BIN)/.installed
	$(BIN)/snakemake --lint

clean:
	rm -rf results logs benchmarks/results .snakemake
