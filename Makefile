# Two commands: `make lab` to read and run the notebooks, `make test` to run every test.
# Both set up .venv first; set-up is skipped when requirements.txt, pyproject.toml and jupyter/ have not changed.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
# Same hashing of Python objects in every run, so set iteration order cannot change an output.
export PYTHONHASHSEED := 0

NBVAL := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg
# Two notebooks at a time on two cores (measured: see the README); loadfile keeps each notebook's cells
# on one worker, in order.
PARALLEL := -n 2 --dist loadfile

.PHONY: help setup setup-browser lab test lint unit nbval test-browser html execute navigation bench clean \
	test-portability seeds test-latest test-series setup-jax test-backends

help:
	@echo "make lab      set up, then open JupyterLab on notebooks/ (as on Binder: closing a tab shuts its kernel down, idle kernels stop after 20 min)"
	@echo "make test     set up, then run lint and format check, unit tests, nbval on every notebook, make html and the browser test"
	@echo "make test-browser  only the browser test: 00 and the notebooks with explorers, through JupyterLab in headless Chromium, offline (screenshots in build/browser)"
	@echo "make test-series   the whole series in one JupyterLab, in order, each tab closed before the next, memory under 1.8 GB (about 12 min)"
	@echo "make html     static HTML of every notebook under build/html, links checked"
	@echo "make execute  re-run every notebook in place from a clean kernel (refreshes committed outputs)"
	@echo "make bench    notebook budgets (time, peak memory), then the attention benchmark (build/bench/)"
	@echo "make test-portability  nbval as other CPUs run it (oneDNN capped at SSE4.1, AVX2, AVX-512; one CPU)"
	@echo "make seeds    re-run the notebooks that train under seeds 0, 1, 2: do their claims hold? (build/seeds/)"
	@echo "make test-latest  unit tests and every notebook's asserts on the newest releases, unpinned (.venv-latest)"
	@echo "make test-backends  the unit tests and notebooks 01-05 on JAX, and TensorFlow against JAX (installs the jax extra)"

setup: $(STAMP)
	@tools/ensure-system-packages.sh "$(PYTHON)"

# JupyterLab's and the server's settings (jupyter/: kernels shut down on closing a tab and when idle), the
# same as postBuild installs on Binder.
$(STAMP): requirements.txt pyproject.toml $(wildcard jupyter/*.json)
	@tools/ensure-system-packages.sh "$(PYTHON)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -e .
	$(BIN)/python tools/install_jupyter_settings.py
	touch $(STAMP)

# Localhost only, token kept. Jupyter refuses to run as root unless told; root is normal in containers.
lab: setup
	$(BIN)/jupyter lab --notebook-dir=notebooks --ServerApp.ip=127.0.0.1 \
		$(if $(filter 0,$(shell id -u)),--allow-root)

setup-browser: setup
	@tools/ensure-system-packages.sh "$(PYTHON)" --browser

# The fast checks first: the browser test adds about 2 minutes and is worth waiting for only when everything
# else passes. It walks 00 and the notebooks with attention explorers (two at a time, each worker with its
# own JupyterLab): nbval has run every notebook already, and running all of them twice took make test past
# 10 minutes. make test-series walks them all.
test: setup-browser
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest $(PARALLEL) $(NBVAL) tests $(NOTEBOOKS) --ignore=tests/test_backends.py
	$(BIN)/python tools/build_html.py
	$(BIN)/pytest -n 2 tests_browser

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

unit: setup
	$(BIN)/pytest tests

nbval: setup
	$(BIN)/pytest $(PARALLEL) $(NBVAL) $(NOTEBOOKS)

test-browser: setup-browser
	$(BIN)/pytest -n 2 tests_browser

# A learner on Binder: every notebook in one JupyterLab, in order, run, its explorers used, its tab closed;
# the server and its kernels stay under 1.8 GB throughout (log: build/browser/memory-main.csv).
test-series: setup-browser
	BROWSER_NOTEBOOKS=all $(BIN)/pytest -p no:xdist -s tests_browser

html: setup
	$(BIN)/python tools/build_html.py

execute: setup
	$(BIN)/jupyter nbconvert --to notebook --execute --inplace \
		--coalesce-streams --ExecutePreprocessor.timeout=600 --ExecutePreprocessor.kernel_name=python3 $(NOTEBOOKS)
	$(BIN)/python tools/static_outputs.py $(NOTEBOOKS)

# After adding, renaming or retitling a notebook (or editing the README index): rewrite every
# notebook's navigation line and notebooks/00_index.ipynb.
navigation: setup
	$(BIN)/python tools/navigation.py

# Notebook budgets (90 s, 1.5 GB each; about 4 min), then attention against sequence length (about 31 min:
# every method, mode, pass and length in a fresh process, 512 to 8192 positions). Tables and plots in build/bench/.
bench: setup
	$(BIN)/python benchmarks/notebooks.py $(NOTEBOOKS)
	$(BIN)/python benchmarks/attention.py

# Before committing a notebook that trains: its compared outputs must not depend on the CPU (about 12 min).
test-portability: setup
	tools/portability.sh $(NBVAL) $(NOTEBOOKS)

# Before stating or asserting anything about a trained model: does it hold at other seeds? (about 6 min)
# A notebook that trains has one `SEED = <int>` line (tests/test_notebooks.py makes sure): that line is the list.
TRAINING_NOTEBOOKS := $(shell grep -l '"SEED = [0-9]' $(NOTEBOOKS))
seeds: setup
	$(BIN)/python tools/seed_sweep.py $(TRAINING_NOTEBOOKS)

# The JAX backend, an extra of the package: installed into .venv only by this target (make lab and Binder
# install TensorFlow alone).
JAX_STAMP := $(VENV)/.installed-jax
setup-jax: $(JAX_STAMP)
$(JAX_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[jax]"
	touch $(JAX_STAMP)

# attention_utils on JAX (about 9 minutes): every unit test, the contract test and the cross-backend test
# (every layer saved on TensorFlow and loaded on JAX and back, outputs equal to 1e-5), with float64 turned
# on as TensorFlow has it; then notebooks 01-05 with their asserts, JAX's defaults, outputs not compared
# (the committed ones are TensorFlow's). Not part of make test, for time: make test runs on TensorFlow.
test-backends: setup-jax
	KERAS_BACKEND=jax JAX_ENABLE_X64=1 $(BIN)/pytest $(PARALLEL) tests
	KERAS_BACKEND=jax $(BIN)/pytest $(PARALLEL) --nbval-lax --nbval-current-env $(wildcard notebooks/0[1-5]_*.ipynb)

# The version canary: what breaks on the newest TensorFlow, Keras and friends, before learners find out.
test-latest:
	tools/test-latest.sh "$(PYTHON)"

clean:
	rm -rf $(VENV) .venv-latest build .pytest_cache .ruff_cache
