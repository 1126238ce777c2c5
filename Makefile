# Two commands: `make lab` to read and run the notebooks, `make test` to run every test.
# Both set up .venv first; set-up is skipped when requirements.txt and pyproject.toml have not changed.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
# Same hashing of Python objects in every run, so set iteration order cannot change an output.
export PYTHONHASHSEED := 0

.PHONY: help setup lab test lint unit nbval execute bench clean

help:
	@echo "make lab      set up, then open JupyterLab on notebooks/"
	@echo "make test     set up, then run lint, unit tests and nbval on every notebook"
	@echo "make execute  re-run every notebook in place from a clean kernel (refreshes committed outputs)"
	@echo "make bench    time every notebook and measure its peak memory against the budget"

setup: $(STAMP)
	@tools/ensure-system-packages.sh "$(PYTHON)"

$(STAMP): requirements.txt pyproject.toml
	@tools/ensure-system-packages.sh "$(PYTHON)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -e .
	touch $(STAMP)

# Localhost only, token kept. Jupyter refuses to run as root unless told; root is normal in containers.
lab: setup
	$(BIN)/jupyter lab --notebook-dir=notebooks --ServerApp.ip=127.0.0.1 \
		$(if $(filter 0,$(shell id -u)),--allow-root)

test: setup
	$(BIN)/ruff check .
	$(BIN)/pytest --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg \
		tests $(NOTEBOOKS)

lint: setup
	$(BIN)/ruff check .

unit: setup
	$(BIN)/pytest tests

nbval: setup
	$(BIN)/pytest --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg $(NOTEBOOKS)

execute: setup
	$(BIN)/jupyter nbconvert --to notebook --execute --inplace \
		--coalesce-streams --ExecutePreprocessor.timeout=600 --ExecutePreprocessor.kernel_name=python3 $(NOTEBOOKS)

bench: setup
	$(BIN)/python benchmarks/notebooks.py $(NOTEBOOKS)

clean:
	rm -rf $(VENV) build .pytest_cache .ruff_cache
