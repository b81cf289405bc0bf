# `make preview` and `make test` create ./venv from the pinned requirements when it is
# missing or older than them, then run. Pulumi's own CLI uses the same venv (Pulumi.yaml).
PYTHON ?= python3
STACK ?= dev
VENV := venv
PY := $(VENV)/bin/python

.PHONY: preview lint test bench clean

# The install also builds venv/bin/istio-canary (an editable install: it runs this checkout's code).
$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	@echo "… install: $(VENV) from requirements-dev.txt, then the istio-canary command (a minute on a fresh machine)"
	@start=$$(date +%s); \
	  { test -x $(PY) || $(PYTHON) -m venv $(VENV); } && \
	  $(PY) -m pip install --quiet --upgrade pip && \
	  $(PY) -m pip install --quiet -r requirements-dev.txt && \
	  PYTHONWARNINGS=ignore $(PY) -m pip install --quiet --no-deps --no-build-isolation -e . && \
	  echo "✓ install: done ($$(( $$(date +%s) - start )) s): $(VENV)/bin/istio-canary" || \
	  { echo "✗ install: failed after $$(( $$(date +%s) - start )) s" >&2; exit 1; }
	@touch $@

preview: $(VENV)/.installed
	$(PY) -m delivery preview --stack $(STACK)

# ruff (lint and format) and mypy over the code; `make test` runs it first, so CI does too.
lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: lint
	$(PY) -m pytest -q

bench: $(VENV)/.installed
	$(PY) bench/bench.py --stack $(STACK)

clean:
	rm -rf build .pytest_cache
