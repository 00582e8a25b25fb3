# ipcbench: `make bench` and `make test` set themselves up (a venv in .venv) on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
IPCBENCH := $(BIN)/ipcbench

.PHONY: bench quick test lint setup clean-venv

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dev]'
	@touch $(STAMP)

bench: $(STAMP)  ## the default sweep (about 10-15 min on 2 cores)
	$(IPCBENCH) run

quick: $(STAMP)  ## every transport x pattern on a small grid (under a minute)
	$(IPCBENCH) run --quick

test: $(STAMP)
	$(BIN)/python -m pytest -q tests

lint: $(STAMP)
	$(BIN)/ruff check ipcbench tests bench
	$(BIN)/ruff format --check ipcbench tests bench
	$(BIN)/mypy

clean-venv:
	rm -rf $(VENV)
