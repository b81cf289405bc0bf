# `make preview` and `make test` create ./venv from the pinned requirements when it is
# missing or older than them, then run. Pulumi's own CLI uses the same venv (Pulumi.yaml).
PYTHON ?= python3
STACK ?= dev
VENV := venv
STACKS := $(patsubst Pulumi.%.yaml,%,$(wildcard Pulumi.*.yaml))
PY := $(VENV)/bin/python

.PHONY: preview lint test bench clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

preview: $(VENV)/.installed
	$(PY) -m delivery preview --stack $(STACK)

# ruff (lint and format) and mypy over the code; `make test` runs it first, so CI does too.
lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: lint
	$(PY) -m pytest -q
	for stack in $(STACKS); do $(PY) -m delivery verify --stack $$stack || exit 1; done

bench: $(VENV)/.installed
	$(PY) bench/bench.py --stack $(STACK)

clean:
	rm -rf build .pytest_cache
